//! One process per training run folder: two `dpn train` writing the same
//! folder would interleave their checkpoints (`best` from one, `last` from
//! the other) with nothing to say so.
//!
//! An exclusive `flock(2)` on the run folder itself, taken before anything
//! in the folder is read or written and held until the process ends (a
//! killed process releases it with its file descriptors, so a crash never
//! leaves the folder locked). The folder cannot be deleted or replaced
//! while a run writes into it the way a file in it can: with the lock on
//! `<output>/.dpn-train.lock` alone, removing that file (a user clearing
//! "stale" files) let a second trainer create a new one, lock it and run.
//! The holder still writes its PID into `.dpn-train.lock`, so that the
//! refusal can name it, and locks that file too, which keeps out dpn
//! versions that lock only the file. The file stays: removing a lock file
//! races with a process about to lock it. Where the filesystem cannot lock
//! a folder (NFS), the lock file alone guards the run, as before.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};
use fs4::{FileExt, TryLockError};

use crate::sys::error;

/// The lock file's name inside the run folder.
pub const LOCK_FILE: &str = ".dpn-train.lock";

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    /// The run folder, open for its lock; None where its filesystem cannot
    /// lock a folder (NFS emulates `flock` with POSIX locks, which need a
    /// file open for writing), and the lock file alone guards the run.
    dir: Option<File>,
    file: File,
}

impl RunLock {
    /// Locks run folder `output` (created if missing), or fails at once
    /// (exit code 2) naming the process that holds it.
    pub fn acquire(output: &Path) -> Result<RunLock> {
        fs::create_dir_all(output)
            .with_context(|| format!("cannot create {}", output.display()))?;
        let path = output.join(LOCK_FILE);
        let dir = lock_dir(output, &path)?;
        let mut file = lock_file(output, &path)?;
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RunLock { dir, file })
    }
}

/// The run folder, open and locked. The path must still name the folder
/// that was locked: one renamed away and replaced between the open and
/// the lock would otherwise be locked in vain.
fn lock_dir(output: &Path, lock_file: &Path) -> Result<Option<File>> {
    for _ in 0..10 {
        let dir =
            File::open(output).with_context(|| format!("cannot open {}", output.display()))?;
        match FileExt::try_lock(&dir) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(in_use(output, lock_file)),
            Err(TryLockError::Error(_)) => return Ok(None),
        }
        if same_file(&dir, output)? {
            return Ok(Some(dir));
        }
    }
    Err(anyhow::anyhow!(
        "cannot lock {}: it keeps being replaced",
        output.display()
    ))
}

/// The lock file, open and locked, checked as the folder is: a file
/// removed or replaced between the open and the lock would be locked in
/// vain.
fn lock_file(output: &Path, path: &Path) -> Result<File> {
    for _ in 0..10 {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(in_use(output, path)),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        if same_file(&file, path)? {
            return Ok(file);
        }
    }
    Err(anyhow::anyhow!(
        "cannot lock {}: it keeps being replaced",
        path.display()
    ))
}

/// Whether `path` still names the file or folder `held` has open.
fn same_file(held: &File, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = held
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(match fs::metadata(path) {
        Ok(now) => (held.dev(), held.ino()) == (now.dev(), now.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    })
}

/// The refusal (exit code 2), naming the holder where its lock file says.
fn in_use(output: &Path, path: &Path) -> anyhow::Error {
    let mut pid = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut pid));
    let holder = match pid.trim().parse::<u32>() {
        Ok(pid) => format!("PID {pid}"),
        Err(_) if path.exists() => "a process that is just starting".to_string(),
        Err(_) => format!("PID unknown: its {LOCK_FILE} was removed"),
    };
    error::usage(format!(
        "{} is in use by another dpn train ({holder}, lock {}); wait for it to end or \
         choose another --output",
        output.display(),
        path.display()
    ))
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
        if let Some(dir) = &self.dir {
            let _ = FileExt::unlock(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        // flock locks belong to open file descriptions: a second open in
        // this process conflicts like another process's would.
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert_eq!(error::exit_code(&err), 2);
        assert!(
            err.to_string()
                .contains(&format!("PID {}", std::process::id())),
            "{err}"
        );
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_removed_or_replaced_lock_file_keeps_the_folder_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = RunLock::acquire(dir.path()).unwrap();
        let file = dir.path().join(LOCK_FILE);
        fs::remove_file(&file).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert_eq!(error::exit_code(&err), 2, "{err:#}");
        assert!(err.to_string().contains("was removed"), "{err}");
        fs::write(&file, "1\n").unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert_eq!(error::exit_code(&err), 2, "{err:#}");
    }
}
