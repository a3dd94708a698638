//! Files that appear whole or not at all: written to a temporary file beside
//! the target, synced, then renamed over it. These are the pieces;
//! `sys::output_path` decides, for a path a user names, whether such a
//! rename is the right thing to do.
//!
//! Every temporary file or folder dpn makes is named
//! `.dpn-tmp-<pid>-<host>-<random>`, so that a later run can tell whose it
//! is: one left by a process of this host that is no longer running (a
//! killed `export` leaves 150 MB) is removed when a run next makes a
//! temporary in the same folder. A PID alone could belong to another
//! machine on a shared file system; a name dpn cannot attribute (an older
//! version's, another program's) is never touched.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};

/// What every temporary name starts with.
pub const TMP_PREFIX: &str = ".dpn-tmp-";

/// A temporary file beside `path`, to be `persist`ed as it (see
/// [`tempfile_in`]).
pub fn tempfile_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile_in(parent(path))
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))
}

/// A temporary file in `dir`, named as this process's, after removing
/// those of dead processes there. Created with mode 0666 less the umask,
/// like any file a program writes (tempfile's default, 0600, would hide
/// results from a user's group).
pub fn tempfile_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    remove_stale(dir);
    let prefix = own_prefix();
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir).with_context(|| {
        format!(
            "cannot create a temporary file in the folder {}",
            dir.display()
        )
    })
}

/// A temporary folder in `dir` (private to the user; for writers that make
/// their own temporary files beside the one they are given), named and
/// cleaned as [`tempfile_in`]'s files.
pub fn tempdir_in(dir: &Path) -> Result<tempfile::TempDir> {
    remove_stale(dir);
    let prefix = own_prefix();
    tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(dir)
        .with_context(|| {
            format!(
                "cannot create a temporary folder in the folder {}",
                dir.display()
            )
        })
}

/// `.dpn-tmp-<pid>-<host>-`: what this process's temporary names start with.
fn own_prefix() -> String {
    format!("{TMP_PREFIX}{}-{}-", std::process::id(), host())
}

/// This machine's name as it goes into a file name: characters other than
/// ASCII letters, digits, `.`, `_` and `-` become `_` (`unknown` if there
/// is none).
pub fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let name = hostname().unwrap_or_default();
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.is_empty() {
            "unknown".into()
        } else {
            clean
        }
    })
}

#[cfg(unix)]
fn hostname() -> Option<String> {
    // POSIX's HOST_NAME_MAX is 255; the name may lack its NUL if truncated.
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, which is passed.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

#[cfg(not(unix))]
fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

/// The owner of a temporary name, `(pid, host)`, if it is one of dpn's.
pub fn tmp_owner(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix(TMP_PREFIX)?;
    let (pid, rest) = rest.split_once('-')?;
    let (host, random) = rest.rsplit_once('-')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) || host.is_empty() {
        return None;
    }
    if random.is_empty() {
        return None;
    }
    Some((pid.parse().ok()?, host))
}

/// Whether process `pid` is running on this machine. A PID that has been
/// reused counts as running: a leftover is then kept, never a live file
/// removed.
pub fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    true
}

/// Removes the temporary files and folders in `dir` that processes of this
/// host left and that are no longer running (best effort: what cannot be
/// read or removed stays); returns what went.
pub fn remove_stale(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some((pid, h)) = tmp_owner(name) else {
            continue;
        };
        if h != host() || pid_alive(pid) {
            continue;
        }
        let path = e.path();
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if gone.is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Syncs a directory so that a rename in it survives a crash (best effort:
/// not every file system lets a directory be opened for that).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The directory a relative file name lives in (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Gives `staged`, about to replace the regular file `target`, the
/// target's owner (where this process may: `fchown` by anyone but root
/// can only keep the owner that is already there) and mode, as editors do:
/// replacing a 0600 file must not make it readable by all. A target that
/// does not exist yet leaves the staged file as it is.
#[cfg(unix)]
pub fn keep_owner_and_mode(staged: &std::fs::File, target: &Path) {
    use std::os::unix::fs::{fchown, MetadataExt, PermissionsExt};
    let Ok(old) = std::fs::metadata(target) else {
        return;
    };
    if !old.is_file() {
        return;
    }
    let Ok(new) = staged.metadata() else {
        return;
    };
    let mut same_owner = (new.uid(), new.gid()) == (old.uid(), old.gid());
    if !same_owner {
        // EPERM for another user's file: the group alone may still be ours
        // to give (a member of it), as editors try.
        same_owner = fchown(staged, Some(old.uid()), Some(old.gid())).is_ok();
        if !same_owner {
            let _ = fchown(staged, None, Some(old.gid()));
        }
    }
    // Set-user and set-group bits only on a file whose owner was kept.
    let bits = if same_owner { 0o7777 } else { 0o0777 };
    let _ = staged.set_permissions(std::fs::Permissions::from_mode(old.mode() & bits));
}

#[cfg(not(unix))]
pub fn keep_owner_and_mode(staged: &std::fs::File, target: &Path) {
    if let Ok(old) = std::fs::metadata(target) {
        let _ = staged.set_permissions(old.permissions());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_name_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let f = tempfile_in(dir.path()).unwrap();
        let name = f.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(tmp_owner(&name), Some((std::process::id(), host())));
        let d = tempdir_in(dir.path()).unwrap();
        let name = d.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(tmp_owner(&name), Some((std::process::id(), host())));
        assert_eq!(
            tmp_owner(".dpn-tmp-12-a-b-host-XyZ12"),
            Some((12, "a-b-host"))
        );
        for other in [
            ".dpn-tmp-Ab3xyz",
            ".tmpAb3xyz",
            ".dpn-tmp--h-r",
            ".dpn-tmp-1-h-",
        ] {
            assert_eq!(tmp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn only_dead_processes_of_this_host_lose_their_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        // A PID above Linux's largest (2^22) cannot be running.
        let dead = format!("{TMP_PREFIX}99999999-{}-abc123", host());
        let dead_dir = format!("{TMP_PREFIX}99999998-{}-abc123", host());
        let live = format!("{TMP_PREFIX}{}-{}-abc123", std::process::id(), host());
        let elsewhere = format!("{TMP_PREFIX}99999999-{}x-abc123", host());
        for n in [&dead, &live, &elsewhere, &".tmpabc123".to_string()] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join(&dead_dir)).unwrap();
        std::fs::write(dir.path().join(&dead_dir).join("f"), b"x").unwrap();
        let mut removed = remove_stale(dir.path());
        removed.sort();
        let mut want = vec![dir.path().join(&dead_dir), dir.path().join(&dead)];
        want.sort();
        assert_eq!(removed, want);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = vec![live, elsewhere, ".tmpabc123".to_string()];
        expected.sort();
        assert_eq!(left, expected);
    }
}
