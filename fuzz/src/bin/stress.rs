//! Stable-toolchain stress harness: no coverage guidance, just deterministic
//! mutations of a target's corpus (`dpn_fuzz::mutate`), for longer than the
//! test suite's bounded run (`tests/fuzz_corpora.rs`).
//!
//!     cargo run --release --no-default-features --bin stress -- TARGET [EXECS] [SEED]
//!
//! A panic is caught, the input saved under `artifacts/TARGET/`, and the run
//! fails at the end. Prints executions, crashes and the slowest input's time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dpn_fuzz::mutate::{load_corpus, mutate, Rng};
use dpn_fuzz::targets::TARGETS;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    let Some((name, target)) = args
        .get(1)
        .and_then(|a| TARGETS.iter().find(|(n, _)| n == a))
    else {
        eprintln!("usage: stress TARGET [EXECS] [SEED]; targets: {}", names.join(", "));
        std::process::exit(2);
    };
    let execs: u64 = args.get(2).map_or(1_000_000, |s| s.parse().expect("EXECS"));
    let seed: u64 = args
        .get(3)
        .map_or(0x9e37_79b9_7f4a_7c15, |s| s.parse().expect("SEED"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seeds = load_corpus(&root.join("corpus").join(name));
    assert!(!seeds.is_empty(), "no seeds for {name}");
    let artifacts = root.join("artifacts").join(name);

    // Quiet panics: we report them ourselves.
    std::panic::set_hook(Box::new(|_| {}));

    let mut rng = Rng::new(seed);
    let mut crashes = 0u64;
    let mut slowest = (Duration::ZERO, 0usize);
    let start = Instant::now();
    for i in 0..execs {
        let mut data = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut data, &seeds);
        let t0 = Instant::now();
        let res = catch_unwind(AssertUnwindSafe(|| target(&data)));
        let dt = t0.elapsed();
        if dt > slowest.0 {
            slowest = (dt, data.len());
        }
        if let Err(e) = res {
            crashes += 1;
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            std::fs::create_dir_all(&artifacts).unwrap();
            let p = artifacts.join(format!("crash-{i}"));
            std::fs::write(&p, &data).unwrap();
            eprintln!("CRASH at exec {i}: {msg} (input saved to {})", p.display());
        }
    }
    println!(
        "{name}: {execs} executions in {:.1}s, {crashes} crashes; slowest input {:?} ({} bytes)",
        start.elapsed().as_secs_f64(),
        slowest.0,
        slowest.1
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
