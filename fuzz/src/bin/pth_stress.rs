//! Stable-toolchain stress harness for the weights readers: no coverage
//! guidance, just random mutations (xorshift) of the seed corpus.
//!
//!     cargo run --release --no-default-features --bin pth_stress -- [EXECS] [SEED] [CORPUS_DIR]
//!
//! Each execution takes a seed file, applies 1-8 mutations (bit flips,
//! interesting bytes/integers, truncation, insertion, deletion, chunk
//! duplication, splicing with another seed) and calls
//! [`dpn_fuzz::fuzz_one`]. A panic is caught, the input saved under
//! `artifacts/pth_stress/`, and the run fails at the end. Prints executions,
//! outcome counts and the slowest input's time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING_U8: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'(', b't', b'R', b'.', 0x8a];
const INTERESTING_U64: [u64; 8] = [
    0,
    1,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        let len = data.len();
        match rng.below(10) {
            0 | 1 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING_U8[rng.below(INTERESTING_U8.len())];
            }
            3 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            4 if len >= 8 => {
                let i = rng.below(len - 7);
                let v = INTERESTING_U64[rng.below(INTERESTING_U64.len())];
                let w = 1 << rng.below(4); // 1, 2, 4 or 8 bytes
                data[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
            }
            5 => data.truncate(rng.below(len + 1)),
            6 => {
                let i = rng.below(len + 1);
                let k = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..k).map(|_| rng.next() as u8).collect();
                data.splice(i..i, bytes);
            }
            7 if len > 0 => {
                let i = rng.below(len);
                let k = 1 + rng.below((len - i).min(64));
                data.drain(i..i + k);
            }
            8 if len > 0 && len < 1 << 16 => {
                let i = rng.below(len);
                let k = 1 + rng.below((len - i).min(256));
                let chunk = data[i..i + k].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            9 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() && len > 0 {
                    let i = rng.below(len);
                    let j = rng.below(other.len());
                    data.truncate(i);
                    data.extend_from_slice(&other[j..]);
                }
            }
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let execs: u64 = args.get(1).map_or(1_000_000, |s| s.parse().expect("EXECS"));
    let seed: u64 = args
        .get(2)
        .map_or(0x9e37_79b9_7f4a_7c15, |s| s.parse().expect("SEED"));
    let dir = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/pth_reader"));
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/pth_stress");

    // Quiet panics: we report them ourselves.
    std::panic::set_hook(Box::new(|_| {}));

    let mut rng = Rng(seed.wrapping_mul(2).wrapping_add(1)); // odd, distinct per seed
    let (mut ok, mut crashes) = (0u64, 0u64);
    let mut slowest = (Duration::ZERO, Vec::new());
    let start = Instant::now();
    for i in 0..execs {
        let mut data = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut data, &seeds);
        let t0 = Instant::now();
        let res = catch_unwind(AssertUnwindSafe(|| {
            let parsed = dpn::weights::read_pth_bytes(&data).is_ok();
            dpn_fuzz::fuzz_one(&data);
            parsed
        }));
        let dt = t0.elapsed();
        if dt > slowest.0 {
            slowest = (dt, data.clone());
        }
        match res {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(e) => {
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
        if (i + 1) % 200_000 == 0 {
            eprintln!("{} execs, {:.1}s", i + 1, start.elapsed().as_secs_f64());
        }
    }
    println!(
        "pth_stress: {execs} executions in {:.1}s, {ok} parsed successfully, {crashes} crashes; \
         slowest input {:?} ({} bytes)",
        start.elapsed().as_secs_f64(),
        slowest.0,
        slowest.1.len()
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
