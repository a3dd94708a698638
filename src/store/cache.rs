//! Where downloaded and converted weights live.
//!
//! `DPN_CACHE_DIR` (or `--cache-dir`) wins; otherwise the XDG base-directory
//! rule: `$XDG_CACHE_HOME/dpn`, else `~/.cache/dpn`.

use std::path::{Path, PathBuf};

use crate::registry::ModelSpec;

pub fn default_cache_dir() -> PathBuf {
    match user_cache_dir() {
        Some(dir) => dir.join("dpn"),
        // No home at all (some batch environments): stay beside the job.
        None => PathBuf::from(".dpn-cache"),
    }
}

/// A path from a non-empty environment variable.
pub fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The XDG user cache directory: `$XDG_CACHE_HOME` when absolute (the spec
/// ignores relative ones), else `~/.cache`; none without a home.
pub fn user_cache_dir() -> Option<PathBuf> {
    env_path("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| env_path("HOME").map(|h| h.join(".cache")))
}

/// The cache as one directory tree.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    pub fn weights_dir(&self) -> PathBuf {
        self.root.join("weights")
    }

    /// The downloaded file, under the name its URL gives it.
    pub fn source_path(&self, spec: &ModelSpec) -> Option<PathBuf> {
        spec.weights
            .as_ref()
            .map(|w| self.weights_dir().join(&w.file_name))
    }

    /// The converted safetensors file that runs load from.
    pub fn converted_path(&self, spec: &ModelSpec) -> PathBuf {
        let stem = spec
            .weights
            .as_ref()
            .map(|w| {
                w.file_name
                    .split('.')
                    .next()
                    .unwrap_or(&w.file_name)
                    .to_string()
            })
            .unwrap_or_else(|| spec.name.clone());
        self.weights_dir().join(format!("{stem}.safetensors"))
    }

    /// Provenance of the downloaded file (URL, SHA-256, size, date), beside it
    /// as `<file>.provenance.json`.
    pub fn provenance_path(&self, spec: &ModelSpec) -> Option<PathBuf> {
        self.source_path(spec)
            .map(|p| with_suffix(&p, ".provenance.json"))
    }

    /// Where an unfinished download grows (`<file>.part`); the next fetch resumes it.
    pub fn partial_path(&self, spec: &ModelSpec) -> Option<PathBuf> {
        self.source_path(spec).map(|p| with_suffix(&p, ".part"))
    }

    /// The lock file that serializes processes fetching the same file.
    pub fn lock_path(&self, spec: &ModelSpec) -> Option<PathBuf> {
        self.source_path(spec).map(|p| with_suffix(&p, ".lock"))
    }

    /// The best cached weights for a model: converted first, else the download.
    pub fn cached_weights(&self, spec: &ModelSpec) -> Option<PathBuf> {
        std::iter::once(self.converted_path(spec))
            .chain(self.source_path(spec))
            .find(|p| p.is_file())
    }
}

/// `path` with `suffix` appended to its file name (`a.pth` -> `a.pth.part`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}
