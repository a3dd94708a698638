//! One process per training run folder: two `dpn train` writing the same
//! folder would interleave their checkpoints (`best` from one, `last` from
//! the other) with nothing to say so.
//!
//! An exclusive `flock(2)` on `<output>/.dpn-train.lock`, taken before
//! anything in the folder is read or written and held until the process
//! ends (a killed process releases it with its file descriptors, so a crash
//! never leaves the folder locked). The holder writes its PID into the file
//! so that the refusal can name it. The file stays: removing a lock file
//! races with a process about to lock it.

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
    file: File,
}

impl RunLock {
    /// Locks run folder `output` (created if missing), or fails at once
    /// (exit code 2) naming the process that holds it.
    pub fn acquire(output: &Path) -> Result<RunLock> {
        fs::create_dir_all(output)
            .with_context(|| format!("cannot create {}", output.display()))?;
        let path = output.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let holder = match pid.trim().parse::<u32>() {
                    Ok(pid) => format!("PID {pid}"),
                    Err(_) => "a process that is just starting".to_string(),
                };
                return Err(error::usage(format!(
                    "{} is in use by another dpn train ({holder}, lock {}); wait for it to end or \
                     choose another --output",
                    output.display(),
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RunLock { file })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
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
}
