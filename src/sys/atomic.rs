//! Files that appear whole or not at all: written to a temporary file beside
//! the target, synced, then renamed over it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// A temporary file beside `path`, to be `persist`ed as it. Created with mode
/// 0666 less the umask, like any file a program writes (tempfile's default,
/// 0600, would hide results from a user's group).
pub fn tempfile_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".dpn-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(parent(path))
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))
}

/// Writes `bytes` to `path` whole or not at all, durably: the data and the
/// directory entry are synced, so a crash leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut t = tempfile_beside(path)?;
    t.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    t.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    t.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    sync_dir(parent(path));
    Ok(())
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
