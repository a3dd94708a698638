//! A coverage-blind mutator for the stable toolchain (libFuzzer needs
//! nightly): xorshift-driven bit flips, interesting bytes and integers,
//! truncation, insertion, deletion, chunk duplication and splicing with
//! another seed. Deterministic for a given seed, so a CI failure replays.

pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (made odd: xorshift must not start at 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(2).wrapping_add(1))
    }

    pub fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

// Bytes that matter to the formats fuzzed: pickle opcodes, YAML and CSV
// punctuation, digits.
const INTERESTING_U8: [u8; 16] = [
    0, 1, 0x7f, 0x80, 0xff, b'(', b't', b'R', b'.', 0x8a, b':', b'-', b',', b'\n', b'9', b'[',
];
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
// Numbers as text, for the text formats (model index, labels file).
const INTERESTING_TEXT: [&str; 8] = [
    "0",
    "-1",
    "4294967296",
    "18446744073709551615",
    "100000000000",
    "1e309",
    "NaN",
    "999999999",
];

/// Applies 1 to 8 random mutations to `data`.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        let len = data.len();
        match rng.below(11) {
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
            10 => {
                // Replace a run of digits (or insert) with an extreme number.
                let text = INTERESTING_TEXT[rng.below(INTERESTING_TEXT.len())].as_bytes();
                let i = rng.below(len + 1);
                let mut j = i;
                while j < len && data[j].is_ascii_digit() {
                    j += 1;
                }
                data.splice(i..j, text.iter().copied());
            }
            _ => {}
        }
    }
}

/// The files of a corpus folder, sorted (the order is part of the replay).
pub fn load_corpus(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read(e.path()).expect("a corpus file is readable"))
        .collect();
    seeds.sort();
    seeds
}
