//! Shared by the integration tests.

use std::path::{Path, PathBuf};

/// The interpreter that runs the Python reference scripts: `DPN_TEST_PYTHON`,
/// else the project's `.venv` (made by scripts/setup.sh).
#[allow(dead_code)]
pub fn python() -> PathBuf {
    std::env::var_os("DPN_TEST_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

/// A fresh directory under `CARGO_TARGET_TMPDIR` for a fixture that a test
/// binary makes once and keeps in a `static`. Statics are never dropped, so
/// such a `TempDir` is never removed: this first deletes what earlier runs of
/// the same binary left under `prefix` (the reference weights alone are
/// 2.3 GB a run, enough to fill a CI disk within a few runs).
#[allow(dead_code)]
pub fn shared_tempdir(prefix: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .expect("make a fixture directory")
}
