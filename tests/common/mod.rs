//! Shared by the integration tests.

use std::ffi::OsString;
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

/// 80 training and 20 validation images of 10 digits, 32x32 (the first 100
/// of scikit-learn's digits, scripts/make_digits.py): made once into the
/// target's tmp dir (atomically, by renaming a finished folder) and reused.
#[allow(dead_code)]
pub fn digits() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-digits-100");
        if dir.join("val").is_dir() {
            return dir;
        }
        let tmp = tempfile::Builder::new()
            .prefix("train-digits-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make_digits.py");
        let out = std::process::Command::new(python())
            .arg(&script)
            .arg(&tmp)
            .args(["--limit", "100"])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (set DPN_TEST_PYTHON): {e}",
                    python().display()
                )
            });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp); // made meanwhile by another process
        }
        dir
    })
}

/// The arguments of a short `dpn train` on [`digits`]: dpn48b at `size` px,
/// batch 16 (5 updates an epoch), one decoding worker, seed 7, one warm-up
/// epoch, `epochs` epochs into `out`. Callers add their own flags.
#[allow(dead_code)]
pub fn digits_train_args(out: &Path, epochs: u32, size: &str) -> Vec<OsString> {
    let d = digits();
    let mut args: Vec<OsString> = vec!["train".into(), "--data".into(), d.join("train").into()];
    args.extend(["--val-data".into(), d.join("val").into()]);
    for a in ["-m", "dpn48b", "--img-size", size, "--batch-size", "16"] {
        args.push(a.into());
    }
    for a in ["--warmup-epochs", "1", "--workers", "1", "--seed", "7"] {
        args.push(a.into());
    }
    args.extend(["--epochs".into(), epochs.to_string().into()]);
    args.extend(["--output".into(), out.into()]);
    args
}
