//! The fuzzed entry point, shared by the libFuzzer target and the stable
//! stress harness.

/// Feeds `data` to every in-memory weights reader; errors are expected,
/// panics, hangs and crashes are bugs.
pub fn fuzz_one(data: &[u8]) {
    let _ = dpn::weights::read_pth_bytes(data);
    let _ = dpn::weights::pickle::unpickle(data);
    let _ = dpn::weights::detect_format_bytes(data);
}
