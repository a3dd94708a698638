//! Decode + eval-transform throughput of `dpn::data` on one thread
//! (bench/data_decode.sh runs it against Pillow + torchvision).
//!
//! usage: data_bench [--model NAME] [--seconds S] FILE...
//! Prints one JSON line: images per second for decode + transform, and the
//! share of each step.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dpn::data::{decode_file, EvalTransform};
use dpn::registry::Registry;

fn main() -> anyhow::Result<()> {
    let mut model = "dpn92".to_string();
    let mut seconds = 5.0f64;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--model" => model = args.next().expect("--model NAME"),
            "--seconds" => seconds = args.next().expect("--seconds S").parse()?,
            _ => files.push(a.into()),
        }
    }
    anyhow::ensure!(
        !files.is_empty(),
        "usage: data_bench [--model NAME] [--seconds S] FILE..."
    );
    let registry = Registry::load(None)?;
    let t = EvalTransform::from_preprocess(&registry.get(&model)?.preprocess);
    // One thread everywhere, as the Python side (torch.set_num_threads(1)):
    // libtorch's OpenMP workers would otherwise spin on the other cores.
    tch::set_num_threads(1);
    // One thread: the resize's row parallelism runs inline.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| -> anyhow::Result<()> {
        for f in &files {
            let _ = t.apply_tensor(&decode_file(f)?); // warm-up
        }
        let (mut n, mut decode, mut transform) = (0usize, Duration::ZERO, Duration::ZERO);
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            for f in &files {
                let t0 = Instant::now();
                let img = decode_file(f)?;
                let t1 = Instant::now();
                let x = t.apply_tensor(&img);
                let t2 = Instant::now();
                let _ = std::hint::black_box(x);
                decode += t1 - t0;
                transform += t2 - t1;
                n += 1;
            }
        }
        let total = (decode + transform).as_secs_f64();
        println!(
            "{{\"impl\":\"dpn\",\"model\":\"{model}\",\"images\":{n},\"img_per_s\":{:.1},\"decode_ms\":{:.3},\"transform_ms\":{:.3}}}",
            n as f64 / total,
            decode.as_secs_f64() * 1e3 / n as f64,
            transform.as_secs_f64() * 1e3 / n as f64
        );
        Ok(())
    })
}
