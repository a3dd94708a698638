//! Where downloaded and converted weights live.
//!
//! `DPN_CACHE_DIR` (or `--cache-dir`) wins; otherwise the XDG base-directory
//! rule: `$XDG_CACHE_HOME/dpn`, else `~/.cache/dpn`.

use std::path::{Path, PathBuf};

use crate::registry::ModelSpec;

pub fn default_cache_dir() -> PathBuf {
    let from_env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = from_env("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return dir.join("dpn");
    }
    match from_env("HOME") {
        Some(home) => home.join(".cache").join("dpn"),
        // No home at all (some batch environments): stay beside the job.
        None => PathBuf::from(".dpn-cache"),
    }
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

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn weights_dir(&self) -> PathBuf {
        self.root.join("weights")
    }

    /// The downloaded file, under the name its URL gives it.
    pub fn source_path(&self, spec: &ModelSpec) -> Option<PathBuf> {
        spec.weights.as_ref().map(|w| self.weights_dir().join(&w.file_name))
    }

    /// The converted safetensors file that runs load from.
    pub fn converted_path(&self, spec: &ModelSpec) -> PathBuf {
        let stem = spec
            .weights
            .as_ref()
            .map(|w| w.file_name.split('.').next().unwrap_or(&w.file_name).to_string())
            .unwrap_or_else(|| spec.name.clone());
        self.weights_dir().join(format!("{stem}.safetensors"))
    }

    /// The best cached weights for a model: converted first, else the download.
    pub fn cached_weights(&self, spec: &ModelSpec) -> Option<PathBuf> {
        std::iter::once(self.converted_path(spec))
            .chain(self.source_path(spec))
            .find(|p| p.is_file())
    }
}
