//! dpn's fuzz targets and the stable mutator, shared by the libFuzzer
//! targets (`fuzz_targets/`), the `stress` binary and the main package's
//! `tests/fuzz_corpora.rs` (which includes the same files by path).

#[path = "mutate.rs"]
pub mod mutate;
#[path = "targets.rs"]
pub mod targets;
