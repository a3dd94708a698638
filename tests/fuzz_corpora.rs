//! The fuzz targets (`fuzz/src/targets.rs`) on every CI run: each committed
//! seed under `fuzz/corpus/TARGET/`, then a fixed number of deterministic
//! mutations of them (`fuzz/src/mutate.rs`). A panic fails the test and
//! saves the input under `target/tmp/fuzz-artifacts/`; an abort or a runaway
//! allocation ends the test binary, which fails too. `DPN_FUZZ_EXECS`
//! changes the number of mutations (default 5000 a target); libFuzzer runs
//! the same targets for longer (fuzz/README.md).

#[path = "../fuzz/src/mutate.rs"]
mod mutate;
#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn execs() -> usize {
    std::env::var("DPN_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

fn run(name: &str) {
    let (_, target) = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a known target");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let seeds = mutate::load_corpus(&dir);
    assert!(seeds.len() >= 3, "{}: too few seeds", dir.display());
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-artifacts");
    let mut crashes = Vec::new();
    let mut check = |i: usize, data: &[u8]| {
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| target(data))) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            std::fs::create_dir_all(&artifacts).unwrap();
            let p = artifacts.join(format!("{name}-{i}"));
            std::fs::write(&p, data).unwrap();
            crashes.push(format!("{msg} (input: {})", p.display()));
        }
    };
    for (i, seed) in seeds.iter().enumerate() {
        check(i, seed);
    }
    // One fixed seed per target: a failure replays exactly.
    let mut rng = mutate::Rng::new(
        name.bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ b as u64),
    );
    for i in 0..execs() {
        let mut data = seeds[rng.below(seeds.len())].clone();
        mutate::mutate(&mut rng, &mut data, &seeds);
        check(seeds.len() + i, &data);
    }
    assert!(crashes.is_empty(), "{name}: {}", crashes.join("; "));
}

#[test]
fn pth_reader() {
    run("pth_reader");
}

#[test]
fn safetensors() {
    run("safetensors");
}

#[test]
fn model_index() {
    run("model_index");
}

#[test]
fn labels_file() {
    run("labels_file");
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    let here = include_str!("fuzz_corpora.rs");
    for (name, _) in targets::TARGETS {
        assert!(here.contains(&format!("fn {name}()")), "no test for {name}");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(name);
        assert!(dir.is_dir(), "no corpus for {name}");
    }
}
