//! Fail points for tests: out-of-memory errors on demand, so that the paths
//! that handle them are tested deterministically (an address-space limit
//! fails wherever the machine happens to run out). Only in builds with the
//! `test-hooks` feature (`make test`); release binaries have none of these
//! variables.

/// Set to N: every forward pass over more than N images fails as libtorch's
/// out of memory does (`infer::Runner`).
pub const OOM_ABOVE_ENV: &str = "DPN_TEST_OOM_ABOVE";

/// Set (to anything): the command starts with an allocation no machine can
/// serve, made where Rust cannot fail gracefully (`sys::oom`).
pub const ALLOC_ENV: &str = "DPN_TEST_ALLOC_FAILS";

/// The batch size above which forward passes fail, when asked.
pub fn oom_above() -> Option<usize> {
    std::env::var(OOM_ABOVE_ENV).ok()?.parse().ok()
}

/// libtorch's error for a forward pass over `len` images, when asked to fail.
pub fn forward(len: usize) -> Option<tch::TchError> {
    oom_above().filter(|&n| len > n).map(|_| {
        tch::TchError::Torch(format!(
            "CPU out of memory (test fail point {OOM_ABOVE_ENV}, batch of {len})"
        ))
    })
}

/// Makes the impossible allocation, when asked; never returns then.
pub fn alloc() {
    if std::env::var_os(ALLOC_ENV).is_some() {
        let v: Vec<u8> = Vec::with_capacity(isize::MAX as usize / 2);
        std::hint::black_box(v);
    }
}

/// Set to a number of milliseconds: the window over which downloads must
/// keep up the minimum transfer rate (`download::http`), instead of 30 s, so
/// that a test of a dripping server takes a second.
pub const SPEED_WINDOW_ENV: &str = "DPN_TEST_SPEED_WINDOW_MS";

/// The shortened speed window, when asked.
pub fn speed_window() -> Option<std::time::Duration> {
    let ms: u64 = std::env::var(SPEED_WINDOW_ENV).ok()?.parse().ok()?;
    Some(std::time::Duration::from_millis(ms))
}

/// Set to a number of bytes: the memory `sys::memory::available_bytes`
/// reports instead of the machine's, so that what a command does with too
/// little memory for a batch is tested the same on any machine.
pub const AVAILABLE_MEMORY_ENV: &str = "DPN_TEST_AVAILABLE_MEMORY";

/// The memory to report as available, when asked.
pub fn available_memory() -> Option<u64> {
    std::env::var(AVAILABLE_MEMORY_ENV).ok()?.parse().ok()
}

/// Set to a number of bytes: the most one download may bring, instead of
/// 2 GiB, so that a test of a server that never ends its body is quick.
pub const MAX_DOWNLOAD_ENV: &str = "DPN_TEST_MAX_DOWNLOAD";

/// The lowered download ceiling, when asked.
pub fn max_download() -> Option<u64> {
    std::env::var(MAX_DOWNLOAD_ENV).ok()?.parse().ok()
}
