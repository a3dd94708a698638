//! The Hugging Face hub cache on this machine, in the layout of Python's
//! huggingface_hub, so that files a timm user downloaded are found without
//! any network and files dpn downloads serve timm too:
//!
//! ```text
//! $HF_HUB_CACHE/models--timm--dpn92.mx_in1k/
//!     blobs/<etag>                         the bytes (etag = SHA-256 for LFS files)
//!     snapshots/<commit>/model.safetensors -> ../../blobs/<etag>
//!     refs/main                            <commit>
//! ```
//!
//! Reading it needs no network; writing it is `download::hf`'s job.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::cache::{env_path, user_cache_dir};

/// The file fetched from a model's hub repository.
pub const FILE: &str = "model.safetensors";
/// The revision fetched.
pub const REVISION: &str = "main";

/// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
pub fn hf_home() -> PathBuf {
    env_path("HF_HOME").unwrap_or_else(|| {
        user_cache_dir()
            .unwrap_or_else(|| PathBuf::from(".cache"))
            .join("huggingface")
    })
}

/// `HF_HUB_CACHE` (or its older name `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`.
pub fn hub_cache_dir() -> PathBuf {
    env_path("HF_HUB_CACHE")
        .or_else(|| env_path("HUGGINGFACE_HUB_CACHE"))
        .unwrap_or_else(|| hf_home().join("hub"))
}

/// `models--timm--dpn92.mx_in1k` under the hub cache.
pub fn repo_dir(hub_cache: &Path, repo_id: &str) -> PathBuf {
    hub_cache.join(format!("models--{}", repo_id.replace('/', "--")))
}

/// The snapshot file that `refs/main` points at, when it is there.
pub fn cached_file(hub_cache: &Path, repo_id: &str) -> Option<PathBuf> {
    let dir = repo_dir(hub_cache, repo_id);
    let commit = fs::read_to_string(dir.join("refs").join(REVISION)).ok()?;
    let path = dir.join("snapshots").join(commit.trim()).join(FILE);
    path.is_file().then_some(path)
}

/// The digest a snapshot file's blob name states (LFS etags are SHA-256),
/// and its size, without reading it.
pub fn blob_digest(pointer: &Path) -> Option<(String, u64)> {
    let target = fs::read_link(pointer).ok()?;
    let name = target.file_name()?.to_str()?.to_string();
    let size = fs::metadata(pointer).ok()?.len();
    is_sha256(&name).then_some((name, size))
}

pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
