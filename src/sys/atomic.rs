//! Files that appear whole or not at all: written to a temporary file beside
//! the target, synced, then renamed over it. These are the pieces;
//! `sys::output_path` decides, for a path a user names, whether such a
//! rename is the right thing to do.

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
