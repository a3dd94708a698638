//! Tunes glibc's malloc for tensor-sized allocations, once, at start-up.
//!
//! libtorch's CPU tensors come from `posix_memalign`, and a DPN forward pass
//! allocates and frees hundreds of activations of a few hundred kilobytes to
//! hundreds of megabytes. glibc serves every block above its mmap threshold
//! (128 KiB, raised dynamically to at most 32 MiB) with a fresh `mmap` and
//! gives it back on `free`, and trims the heap's top whenever 128 KiB or more
//! is free there. Either way the next batch touches brand-new pages: dpn68 at
//! batch 8 took about 40,000 page faults (160 MB of page zeroing) per
//! forward pass, a fifth of its CPU inference time, and more at larger
//! batches, where activations outgrow any mmap threshold.
//!
//! Disabling mmap for heap allocations and trimming only past 2 GiB keeps
//! those pages mapped for reuse by the next batch: 20-50 % more CPU images/s
//! (bench/results). The cost is that memory freed after a peak stays with the
//! process until it exits, as with any caching allocator; `dpn` is a
//! run-to-completion process, so that is the right trade.
//!
//! A user's own settings win: when `GLIBC_TUNABLES` names a malloc tunable or
//! a `MALLOC_*_` variable is set, or `DPN_MALLOC_TUNING=off`, nothing changes.

/// Environment variable that turns the tuning off (`off`, `0` or `false`).
pub const OPT_OUT_ENV: &str = "DPN_MALLOC_TUNING";

/// Whether the environment asks us to leave malloc alone.
fn user_configured(var: impl Fn(&str) -> Option<String>) -> bool {
    if let Some(v) = var(OPT_OUT_ENV) {
        if matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        ) {
            return true;
        }
    }
    if var("GLIBC_TUNABLES").is_some_and(|t| t.contains("glibc.malloc.")) {
        return true;
    }
    [
        "MALLOC_MMAP_MAX_",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_TOP_PAD_",
        "MALLOC_ARENA_MAX",
    ]
    .iter()
    .any(|k| var(k).is_some())
}

/// Applies the tuning unless the user configured malloc; returns whether it did.
/// Call it first thing in `main`, before libtorch allocates.
pub fn tune() -> bool {
    if user_configured(|k| std::env::var(k).ok()) {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only sets allocator parameters; it is called before any
    // other thread exists, and both values are in the ranges glibc documents.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn tunes_by_default() {
        assert!(!user_configured(env(&[])));
        assert!(!user_configured(env(&[(OPT_OUT_ENV, "on")])));
        assert!(!user_configured(env(&[(
            "GLIBC_TUNABLES",
            "glibc.cpu.x86_shstk=on"
        )])));
    }

    #[test]
    fn user_settings_win() {
        assert!(user_configured(env(&[(OPT_OUT_ENV, "off")])));
        assert!(user_configured(env(&[(OPT_OUT_ENV, " 0 ")])));
        assert!(user_configured(env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.mmap_threshold=65536"
        )])));
        assert!(user_configured(env(&[("MALLOC_ARENA_MAX", "2")])));
        assert!(user_configured(env(&[("MALLOC_TRIM_THRESHOLD_", "0")])));
    }

    /// glibc accepts both settings (mallopt returns 0 for a value it refuses).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_settings() {
        assert!(apply());
    }
}
