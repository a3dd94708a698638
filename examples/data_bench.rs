//! Decode + transform throughput of `dpn::data` on one thread:
//! bench/data_decode.sh runs the eval transform against Pillow +
//! torchvision, bench/augment.sh the training transform (`--train`) against
//! timm's `create_transform(is_training=True)`.
//!
//! usage: data_bench [--model NAME] [--seconds S] FILE...
//!        data_bench --train [--img-size N] [--seed N] [dpn train's augmentation flags] FILE...
//! Prints one JSON line: images per second for decode + transform, and the
//! share of each step.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use dpn::commands::augment_flags::AugmentFlags;
use dpn::data::{decode_file, EvalTransform, ImageTransform};
use dpn::registry::{Preprocess, Registry};
use dpn::train::config::TrainConfig;

/// Decode + transform throughput of dpn::data on one thread (bench/data_decode.sh,
/// bench/augment.sh).
#[derive(Parser)]
struct Cli {
    #[arg(long, default_value = "dpn92")]
    model: String,
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The training transform, built as `dpn train` builds it from the same
    /// flags, instead of the eval transform.
    #[arg(long)]
    train: bool,
    /// The training crop's side (`dpn train --img-size`); the model's by default.
    #[arg(long)]
    img_size: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// With --train: after the timed rounds, time each step of the transform
    /// apart (the same steps `apply_into` runs, called one by one) and print
    /// a second JSON line, to see where a slow figure comes from.
    #[arg(long)]
    stages: bool,
    // Flattened from `dpn train` itself, so that the flags mean here exactly
    // what they mean to a training run, defaults included.
    #[command(flatten)]
    augment: AugmentFlags,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    // As `dpn` itself does first thing (its loader allocates under the
    // same malloc settings).
    dpn::sys::allocator::tune();
    let cli = Cli::parse();
    let registry = Registry::load(None)?;
    let mut p: Preprocess = registry.get(&cli.model)?.preprocess.clone();
    // The eval side keeps `apply_tensor` (the tensor included), as
    // bench/data_decode.sh has always measured it.
    let (train, eval) = if cli.train {
        let mut cfg = TrainConfig {
            model: cli.model.clone(),
            img_size: cli.img_size.unwrap_or(p.image_size),
            seed: cli.seed,
            ..TrainConfig::default()
        };
        cli.augment.apply(&mut cfg);
        p.image_size = cfg.img_size;
        (Some(cfg.train_transform(&p, cli.seed)?), None)
    } else {
        (None, Some(EvalTransform::from_preprocess(&p)))
    };
    let kind = if train.is_some() { "train" } else { "eval" };
    let (h, w) = match (&train, &eval) {
        (Some(t), _) => t.output_size(),
        (_, Some(e)) => e.output_size(),
        _ => unreachable!(),
    };
    // The training transform writes into one buffer, reused as the loader
    // reuses its batch's, so that the figure is the transform's and not the
    // allocator's.
    let mut out = vec![0f32; 3 * h * w];
    let mut run = |img: &dpn::data::RgbImage, index: usize| match (&train, &eval) {
        (Some(t), _) => {
            t.apply_into(img, index, &mut out);
            std::hint::black_box(&out);
        }
        (_, Some(e)) => {
            let _ = std::hint::black_box(e.apply_tensor(img));
        }
        _ => unreachable!(),
    };
    // One thread everywhere, as the Python side (torch.set_num_threads(1)):
    // libtorch's OpenMP workers would otherwise spin on the other cores.
    tch::set_num_threads(1);
    // One thread: the resize's row parallelism runs inline.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| -> anyhow::Result<()> {
        let mut index = 0usize;
        for f in &cli.files {
            run(&decode_file(f)?, index); // warm-up
            index += 1;
        }
        let (mut n, mut decode, mut apply) = (0usize, Duration::ZERO, Duration::ZERO);
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < cli.seconds {
            for f in &cli.files {
                let t0 = Instant::now();
                let img = decode_file(f)?;
                let t1 = Instant::now();
                // A new index each time: a training transform draws its crop
                // and ops from it, so repeats of a file are new samples.
                run(&img, index);
                let t2 = Instant::now();
                decode += t1 - t0;
                apply += t2 - t1;
                n += 1;
                index += 1;
            }
        }
        let total = (decode + apply).as_secs_f64();
        println!(
            "{{\"impl\":\"dpn\",\"transform\":\"{kind}\",\"model\":\"{}\",\"size\":{h},\"images\":{n},\"img_per_s\":{:.1},\"decode_ms\":{:.3},\"transform_ms\":{:.3}}}",
            cli.model,
            n as f64 / total,
            decode.as_secs_f64() * 1e3 / n as f64,
            apply.as_secs_f64() * 1e3 / n as f64
        );
        if let (true, Some(t)) = (cli.stages, &train) {
            stages(t, &cli.files, cli.seconds, index)?;
        }
        Ok(())
    })
}

/// `TrainTransform::apply_explained`'s steps, each timed: crop and flips,
/// the `--aa` ops with the other RGB steps, normalize, erasing.
fn stages(
    t: &dpn::data::TrainTransform,
    files: &[PathBuf],
    seconds: f64,
    mut index: usize,
) -> anyhow::Result<()> {
    let out = &mut vec![0f32; 3 * t.size * t.size][..];
    let images = files
        .iter()
        .map(|f| decode_file(f.as_path()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut ms = [Duration::ZERO; 4];
    let mut n = 0usize;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        for img in &images {
            let mut rng = t.rng_for(index);
            let t0 = Instant::now();
            let cropped = t.crop_flip(img, &mut rng);
            let t1 = Instant::now();
            let rgb = t.secondary(cropped, &mut rng, None);
            let t2 = Instant::now();
            dpn::data::transform::normalize_into(&rgb, t.mean, t.std, out);
            let t3 = Instant::now();
            if let Some(e) = &t.erasing {
                e.apply(out, 3, t.size, t.size, &mut rng, None);
            }
            let t4 = Instant::now();
            std::hint::black_box(&out);
            for (d, (a, b)) in ms.iter_mut().zip([(t0, t1), (t1, t2), (t2, t3), (t3, t4)]) {
                *d += b - a;
            }
            n += 1;
            index += 1;
        }
    }
    let [crop, aa, norm, erase] = ms.map(|d| d.as_secs_f64() * 1e3 / n as f64);
    println!(
        "{{\"impl\":\"dpn\",\"stages\":true,\"size\":{},\"images\":{n},\"crop_flip_ms\":{crop:.3},\"aa_ms\":{aa:.3},\"normalize_ms\":{norm:.3},\"erase_ms\":{erase:.3}}}",
        t.size
    );
    Ok(())
}
