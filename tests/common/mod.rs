//! Shared by the integration tests.

use std::path::{Path, PathBuf};

/// The interpreter that runs the Python reference scripts: `DPN_TEST_PYTHON`,
/// else the project's `.venv` (made by scripts/setup.sh).
pub fn python() -> PathBuf {
    std::env::var_os("DPN_TEST_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}
