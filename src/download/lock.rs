//! An exclusive lock on a file, so that processes fetching the same weights
//! take turns: the first downloads, the others wait and then find the
//! verified file in place.
//!
//! `flock(2)` through fs4 (std's `File::lock` is newer than this crate's
//! minimum Rust). The lock is released when the file is closed, so a process
//! that dies releases it too.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fs4::{FileExt, TryLockError};

use crate::ui::Ui;

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    remove: bool,
}

impl Lock {
    /// Blocks until this process holds the lock at `path` (created if
    /// missing). With `remove`, the file is deleted on release so the cache
    /// keeps no trace of it; waiters that then hold a lock on the deleted
    /// file notice and lock the new one. Without `remove` (the Hugging Face
    /// cache, whose Python users never delete lock files) it stays.
    pub fn acquire(path: &Path, remove: bool, ui: &Ui, what: &str) -> Result<Lock> {
        let mut told = false;
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open lock file {}", path.display()))?;
            match FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    if !told {
                        ui.info(format!(
                            "waiting for another process fetching {what} (lock {})",
                            path.display()
                        ));
                        told = true;
                    }
                    FileExt::lock(&file)
                        .with_context(|| format!("cannot lock {}", path.display()))?;
                }
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
            if !remove || same_file(&file, path) {
                return Ok(Lock {
                    file,
                    path: path.to_path_buf(),
                    remove,
                });
            }
            // The previous holder removed the file after we opened it: the
            // lock we hold guards nothing. Take the one on the new file.
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.remove {
            // Removed while still held, then closed (which unlocks).
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = FileExt::unlock(&self.file);
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}
