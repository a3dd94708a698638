//! Where a file that dpn writes goes, decided once for every writer.
//!
//! Only a regular file is replaced by renaming a finished temporary file over
//! it. A symlink is followed and its target replaced the same way, so the
//! link survives. `-` is standard output, and a device, FIFO or socket is
//! written through: renaming over `/dev/null` or a FIFO would destroy the
//! node, and a process running as root would damage `/dev`. Streams get the
//! bytes only once they are complete (staged in the temporary folder), so a
//! failed run writes nothing to them either.

use std::fs::{self, File, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::sys::atomic::{
    keep_owner_and_mode, parent, sync_dir, tempdir_in, tempfile_beside, tempfile_in,
};
use crate::sys::error;

/// Symlinks followed before giving up, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// What an output path turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// `-`: standard output.
    Stdout,
    /// A device, FIFO or socket (or a file reached through a link that
    /// names no path, as `/dev/stdout` does): opened and appended to, never
    /// replaced.
    Stream(PathBuf),
    /// A regular file, existing or not, with symlinks already followed.
    File(PathBuf),
}

/// An output path as the user gave it and where its bytes go.
#[derive(Debug, Clone)]
pub struct OutputPath {
    given: PathBuf,
    dest: Dest,
}

impl OutputPath {
    /// Classifies `path` without touching its folder. A directory or a
    /// symlink loop is a usage error (exit code 2).
    pub fn resolve(path: &Path) -> Result<OutputPath> {
        let not_there = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            )
        };
        let dest = if path.as_os_str() == "-" {
            Dest::Stdout
        } else {
            match fs::metadata(path) {
                Ok(m) if m.is_dir() => {
                    return Err(error::usage(format!(
                        "{} is a directory; name a file inside it",
                        path.display()
                    )))
                }
                Ok(m) if m.is_file() => {
                    // A file reached through a link that names no path
                    // (`/dev/stdout` -> `/proc/self/fd/1` redirected to a
                    // file) is what the shell opened: written through, not
                    // replaced behind its back.
                    let (target, magic) = follow_links(path)?;
                    match fs::metadata(&target) {
                        Ok(t) if !magic && same_file(&m, &t) => Dest::File(target),
                        _ => Dest::Stream(path.to_path_buf()),
                    }
                }
                // Opened through the kernel's own link resolution, so that
                // `/dev/stdout` reaches a pipe.
                Ok(_) => Dest::Stream(path.to_path_buf()),
                // A new file, perhaps named by a dangling link; `check`
                // says what is wrong with its folder.
                Err(e) if not_there(&e) => Dest::File(follow_links(path)?.0),
                Err(e) => {
                    return Err(error::usage(format!("{}: {e}", path.display())));
                }
            }
        };
        Ok(OutputPath {
            given: path.to_path_buf(),
            dest,
        })
    }

    /// [`resolve`](Self::resolve), then proves the write can happen, before
    /// any work: a file's folder exists and takes a new file (tried, as the
    /// real write does), a device opens for writing. `what` names the path
    /// in the one-line error (`--results-file`, `output`); exit code 2.
    pub fn check(path: &Path, what: &str) -> Result<OutputPath> {
        let out = Self::resolve(path).map_err(|e| error::usage(format!("{what} {e}")))?;
        let fail = |why: String| error::usage(format!("{what} {}: {why}", path.display()));
        match &out.dest {
            Dest::Stdout => {}
            Dest::File(target) => {
                let dir = parent(target);
                match fs::metadata(dir) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(fail(format!("{} is not a folder", dir.display()))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(fail(format!(
                            "the folder {} does not exist; create it first",
                            dir.display()
                        )))
                    }
                    Err(e) => return Err(fail(format!("{}: {e}", dir.display()))),
                }
                tempfile_beside(target).map_err(|e| {
                    fail(format!(
                        "cannot create files in the folder {} ({})",
                        dir.display(),
                        e.root_cause()
                    ))
                })?;
            }
            // Opening a FIFO waits for its reader, so only devices are tried.
            Dest::Stream(target) => {
                let m = fs::metadata(target).map_err(|e| fail(e.to_string()))?;
                if !is_fifo(&m) {
                    fs::OpenOptions::new()
                        .append(true)
                        .open(target)
                        .map_err(|e| fail(format!("cannot open it for writing ({e})")))?;
                }
            }
        }
        Ok(out)
    }

    /// The path as the user gave it (for messages).
    pub fn given(&self) -> &Path {
        &self.given
    }

    pub fn dest(&self) -> &Dest {
        &self.dest
    }

    pub fn is_stdout(&self) -> bool {
        self.dest == Dest::Stdout
    }

    /// A temporary file to write the whole output into: beside the target
    /// for a file (so that the rename stays in one file system), in the
    /// temporary folder for a stream.
    pub fn staging(&self) -> Result<tempfile::NamedTempFile> {
        match &self.dest {
            Dest::File(target) => tempfile_beside(target),
            Dest::Stdout | Dest::Stream(_) => tempfile_in(&std::env::temp_dir()),
        }
    }

    /// A temporary folder where [`staging`](Self::staging) puts its file,
    /// for a writer that makes temporary files of its own beside the file
    /// it is given (the safetensors crate's): they are then named and
    /// cleaned up as dpn's own.
    pub fn staging_dir(&self) -> Result<tempfile::TempDir> {
        match &self.dest {
            Dest::File(target) => tempdir_in(parent(target)),
            Dest::Stdout | Dest::Stream(_) => tempdir_in(&std::env::temp_dir()),
        }
    }

    /// Puts a finished staging file in place: synced and renamed over a
    /// file, copied into a stream. The staging file is read by its path,
    /// since a writer may have replaced the file under it.
    pub fn commit(&self, staged: tempfile::NamedTempFile) -> Result<()> {
        let err = || format!("cannot write {}", self.given.display());
        match &self.dest {
            Dest::File(target) => {
                let f = File::open(staged.path()).with_context(err)?;
                keep_owner_and_mode(&f, target);
                f.sync_all().with_context(err)?;
                drop(f);
                staged.persist(target).with_context(err)?;
                sync_dir(parent(target));
            }
            Dest::Stdout => {
                let mut from = File::open(staged.path()).with_context(err)?;
                let stdout = std::io::stdout();
                let mut to = stdout.lock();
                std::io::copy(&mut from, &mut to).with_context(err)?;
                to.flush().with_context(err)?;
            }
            Dest::Stream(target) => {
                let mut from = File::open(staged.path()).with_context(err)?;
                let total = from.metadata().map(|m| m.len()).ok();
                // Appending: a regular file behind `/dev/stdout` may be a
                // log opened with `>>`.
                let mut to = fs::OpenOptions::new()
                    .append(true)
                    .open(target)
                    .with_context(err)?;
                let mut counted = Counted {
                    inner: &mut to,
                    written: 0,
                };
                let copied = std::io::copy(&mut from, &mut counted).and_then(|_| counted.flush());
                if let Err(e) = copied {
                    return Err(self.stream_error(target, e, counted.written, total));
                }
            }
        }
        Ok(())
    }

    /// The error of a stream that took only `written` of `total` bytes. A
    /// reader that went away (`head -c 10 fifo`) is an error like any other
    /// here: only standard output, whose reader is the user's own pipeline,
    /// has the quiet exit of `dpn ... | head` (also when named as
    /// `/dev/stdout`).
    fn stream_error(
        &self,
        target: &Path,
        e: std::io::Error,
        written: u64,
        total: Option<u64>,
    ) -> anyhow::Error {
        let given = self.given.display();
        if e.kind() == std::io::ErrorKind::BrokenPipe && is_stdout(target) {
            return anyhow::Error::new(e).context(format!("cannot write {given}"));
        }
        let of = total.map_or(String::new(), |t| format!(" of {t}"));
        let why = if e.kind() == std::io::ErrorKind::BrokenPipe {
            "its reader went away (broken pipe)".to_string()
        } else {
            e.to_string()
        };
        // As text, not the io::Error: a broken pipe in the chain would be
        // taken for a closed standard output.
        anyhow::anyhow!("cannot write {given}: {why}; only {written}{of} bytes were written")
    }

    /// Writes `bytes` whole or not at all.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        let mut t = self.staging()?;
        t.write_all(bytes)
            .with_context(|| format!("cannot write {}", self.given.display()))?;
        self.commit(t)
    }
}

/// Writes `bytes` to `path` whole or not at all, durably, as [`OutputPath`]
/// says: a regular file (or a symlink's target) is replaced by a rename, a
/// stream is written through.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    OutputPath::resolve(path)?.write(bytes)
}

/// A writer that counts the bytes it passed on.
struct Counted<'a, W: Write> {
    inner: &'a mut W,
    written: u64,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether `path` is the file this process's standard output is.
#[cfg(unix)]
fn is_stdout(path: &Path) -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    match (File::from(fd).metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => same_file(&a, &b),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_stdout(_: &Path) -> bool {
    false
}

/// `path` with its symlinks followed, link by link; the last target may not
/// exist yet (a dangling link names the file to create). The flag says
/// whether a link under `/proc` was passed (`/proc/self/fd/1`): those name
/// an open file, not a place to put a new one.
fn follow_links(path: &Path) -> Result<(PathBuf, bool)> {
    let mut p = path.to_path_buf();
    let mut magic = false;
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                magic |= p.starts_with("/proc");
                let to = fs::read_link(&p)
                    .with_context(|| format!("cannot read the symlink {}", p.display()))?;
                p = parent(&p).join(to);
            }
            _ => return Ok((p, magic)),
        }
    }
    Err(error::usage(format!(
        "{}: too many levels of symbolic links (a symlink loop?)",
        path.display()
    )))
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
}

#[cfg(unix)]
fn is_fifo(m: &Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: &Metadata) -> bool {
    false
}

/// What a path that is not a regular file is, for messages: "a directory",
/// "a character device", ... or "does not exist".
pub fn not_a_file(path: &Path) -> String {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".into(),
        Err(e) => format!("cannot be read ({e})"),
        Ok(m) if m.is_dir() => "is a directory".into(),
        Ok(m) if m.is_file() => "is a regular file".into(),
        Ok(m) => format!("is not a regular file ({})", kind(&m)),
    }
}

#[cfg(unix)]
fn kind(m: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn kind(_: &Metadata) -> &'static str {
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(
            OutputPath::resolve(Path::new("-")).unwrap().dest,
            Dest::Stdout
        );
        assert_eq!(OutputPath::resolve(&f).unwrap().dest, Dest::File(f.clone()));
        let new = dir.path().join("new");
        assert_eq!(OutputPath::resolve(&new).unwrap().dest, Dest::File(new));
        assert_eq!(
            OutputPath::resolve(Path::new("/dev/null")).unwrap().dest,
            Dest::Stream("/dev/null".into())
        );
        let e = OutputPath::resolve(dir.path()).unwrap_err();
        assert_eq!(error::exit_code(&e), 2);
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn follows_relative_and_dangling_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("sub/target", &link).unwrap();
        assert_eq!(
            OutputPath::resolve(&link).unwrap().dest,
            Dest::File(dir.path().join("sub/target"))
        );
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let e = OutputPath::resolve(&a).unwrap_err();
        assert!(e.to_string().contains("symbolic links"), "{e}");
    }

    #[test]
    fn check_names_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let e =
            OutputPath::check(&dir.path().join("missing/r.json"), "--results-file").unwrap_err();
        assert_eq!(error::exit_code(&e), 2);
        let s = e.to_string();
        assert!(
            s.starts_with("--results-file ") && s.contains("does not exist"),
            "{s}"
        );
    }
}
