//! `model.safetensors` from the Hugging Face hub, in the cache layout of
//! Python's huggingface_hub, so that files a timm user downloaded are found
//! without any network, and files we download serve timm too:
//!
//! ```text
//! $HF_HUB_CACHE/models--timm--dpn92.mx_in1k/
//!     blobs/<etag>                         the bytes (etag = SHA-256 for LFS files)
//!     snapshots/<commit>/model.safetensors -> ../../blobs/<etag>
//!     refs/main                            <commit>
//! $HF_HUB_CACHE/.locks/models--timm--dpn92.mx_in1k/<etag>.lock
//! ```
//!
//! The hub's download route is `{endpoint}/{repo}/resolve/{revision}/{file}`;
//! a HEAD without following redirects gives the commit (`X-Repo-Commit`) and
//! the blob's etag (`X-Linked-Etag` for LFS files, else `ETag`), then a GET
//! follows the redirect to the CDN.
//!
//! Written here on the crate's own ureq client rather than with the hf-hub
//! crate: hf-hub's blocking API brings a second, older ureq (2.x) and its own
//! progress bars, and it would bypass what every other download here has:
//! `--timeout`, the retries with backoff, resume from `.incomplete`, the
//! exit codes and `--offline`. The layout and environment variables are the
//! ones huggingface_hub documents (`HF_HOME`, `HF_HUB_CACHE`, `HF_ENDPOINT`,
//! `HF_TOKEN`, `HF_HUB_OFFLINE`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{file_sha256, lock::Lock, Fetched, Options};
use crate::registry::ModelSpec;
use crate::store::cache::env_path;
use crate::store::hub::{
    blob_digest, cached_file, hf_home, hub_cache_dir, is_sha256, repo_dir, FILE, REVISION,
};
use crate::sys::error;
use crate::sys::output_path::write_atomic;
use crate::ui::Ui;

/// `HF_ENDPOINT`, else the public hub.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// `HF_TOKEN`, else the file `HF_TOKEN_PATH` or `$HF_HOME/token`.
pub fn token() -> Option<String> {
    if let Ok(t) = std::env::var("HF_TOKEN") {
        if !t.trim().is_empty() {
            return Some(t.trim().to_string());
        }
    }
    let path = env_path("HF_TOKEN_PATH").unwrap_or_else(|| hf_home().join("token"));
    fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// True when `HF_HUB_OFFLINE` asks for no network.
pub fn env_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Downloads (or finds) `model.safetensors` of the model's hub id.
pub fn fetch(spec: &ModelSpec, opts: &Options, ui: &Ui) -> Result<Fetched> {
    let repo_id = spec.hub_id.as_deref().ok_or_else(|| {
        error::usage(format!(
            "model `{}` has no hub id in the registry; use `--source url`",
            spec.name
        ))
    })?;
    let hub = hub_cache_dir();
    let dir = repo_dir(&hub, repo_id);
    let found = |path: PathBuf, downloaded: bool| -> Result<Fetched> {
        let (sha256, size) = blob_digest(&path).map_or_else(|| file_sha256(&path), Ok)?;
        Ok(Fetched {
            model: spec.name.clone(),
            converted: path.clone(),
            path,
            sha256,
            size,
            downloaded,
        })
    };
    if !opts.force {
        if let Some(path) = cached_file(&hub, repo_id) {
            ui.debug(format!(
                "{}: found in the Hugging Face cache: {}",
                spec.name,
                path.display()
            ));
            return found(path, false);
        }
    }
    if opts.offline || env_offline() {
        return Err(error::not_cached(format!(
            "offline: {repo_id} is not in the Hugging Face cache (looked for {}/snapshots/<commit>/{FILE} \
             through {}/refs/{REVISION})",
            dir.display(),
            dir.display()
        )));
    }

    let url = format!("{}/{repo_id}/resolve/{REVISION}/{FILE}", endpoint());
    let mut headers = Vec::new();
    if let Some(t) = token() {
        headers.push(("Authorization".to_string(), format!("Bearer {t}")));
    }
    let client = super::http::Client::new(opts.timeout, opts.retries);
    let (commit, etag, size) = head(&client, &url, &headers, ui)?;
    let blob = dir.join("blobs").join(&etag);
    let pointer = dir.join("snapshots").join(&commit).join(FILE);
    fs::create_dir_all(blob.parent().unwrap_or(&dir))
        .with_context(|| format!("cannot create {}", dir.join("blobs").display()))?;
    let locks = hub.join(".locks").join(dir.file_name().unwrap_or_default());
    fs::create_dir_all(&locks).with_context(|| format!("cannot create {}", locks.display()))?;
    let _lock = Lock::acquire(&locks.join(format!("{etag}.lock")), false, ui, repo_id)?;

    let mut downloaded = false;
    if opts.force || !blob.is_file() {
        let part = crate::store::cache::with_suffix(&blob, ".incomplete");
        if opts.force {
            let _ = fs::remove_file(&part);
        }
        ui.info(format!("fetching {} from {url}", spec.name));
        client.download(&url, &part, &headers, size, opts.progress, ui, repo_id)?;
        if is_sha256(&etag) {
            let (sha, _) = file_sha256(&part)?;
            if sha != etag {
                let _ = fs::remove_file(&part);
                return Err(error::verification(format!(
                    "{repo_id}/{FILE} from {url} fails its digest check: SHA-256 expected {etag}, got {sha}; \
                     the file was removed"
                )));
            }
        } else {
            ui.warn(format!(
                "{url}: the hub states no SHA-256 (ETag `{etag}`); the file is checked as {}'s \
                 weights only, and `fetch --list` marks it unverified",
                spec.name
            ));
        }
        // Where timm would load it from too: it must be safetensors of this
        // model, whatever the digest said.
        check_safetensors(&part, &url)?;
        super::check_weights(&part, spec, &format!("{repo_id}/{FILE}"), &url)?;
        super::commit(&part, &blob)?;
        downloaded = true;
    }
    link(&blob, &pointer, &etag)?;
    let refs = dir.join("refs");
    fs::create_dir_all(&refs).with_context(|| format!("cannot create {}", refs.display()))?;
    write_atomic(&refs.join(REVISION), commit.as_bytes())?;
    ui.info(format!(
        "{}: {} ({repo_id} at {commit})",
        spec.name,
        pointer.display()
    ));
    found(pointer, downloaded)
}

/// A download that is not safetensors at all (an HTML page, a `.pth`) is
/// refused and removed (exit code 3).
fn check_safetensors(part: &Path, url: &str) -> Result<()> {
    match crate::weights::detect_format(part) {
        Ok(crate::weights::Format::Safetensors) => Ok(()),
        other => {
            let _ = fs::remove_file(part);
            let what = match other {
                Ok(_) => "a PyTorch .pth file".to_string(),
                Err(e) => format!("{e:#}"),
            };
            Err(error::bad_input(format!(
                "{url}: the hub sent no safetensors file ({what}); the file was removed"
            )))
        }
    }
}

/// The commit, etag and size (`X-Linked-Size`, when stated) the hub
/// reports for the file, from a
/// HEAD request whose redirect is not followed (the headers are on the
/// hub's answer).
fn head(
    client: &super::http::Client,
    url: &str,
    headers: &[(String, String)],
    ui: &Ui,
) -> Result<(String, String, Option<u64>)> {
    let resp = client.head(url, headers, ui)?;
    let status = resp.status().as_u16();
    match status {
        200..=399 => {}
        401 | 403 => {
            return Err(error::network(format!(
                "access to {url} denied (HTTP {status}); set HF_TOKEN if the repository is gated or private"
            )))
        }
        404 => return Err(error::network(format!("{url} does not exist (HTTP 404)"))),
        _ => return Err(error::network(format!("{url}: HTTP {status} from the hub"))),
    }
    let get = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let commit = get("x-repo-commit").ok_or_else(|| {
        error::network(format!(
            "{url}: the server sent no X-Repo-Commit header; is HF_ENDPOINT a hub?"
        ))
    })?;
    let etag = get("x-linked-etag")
        .or_else(|| get("etag"))
        .map(|e| {
            e.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
        .filter(|e| !e.is_empty() && !e.contains(['/', '\\']) && e != "." && e != "..")
        .ok_or_else(|| error::network(format!("{url}: the server sent no usable ETag")))?;
    if commit.is_empty() || commit.contains(['/', '\\']) || commit == "." || commit == ".." {
        return Err(error::network(format!(
            "{url}: bad X-Repo-Commit `{commit}`"
        )));
    }
    // Not Content-Length: on the redirect it is that of its empty body.
    let size = get("x-linked-size").and_then(|v| v.trim().parse::<u64>().ok());
    Ok((commit, etag, size))
}

/// `snapshots/<commit>/model.safetensors -> ../../blobs/<etag>`, as
/// huggingface_hub makes it (a copy where symbolic links are not available).
fn link(blob: &Path, pointer: &Path, etag: &str) -> Result<()> {
    let dir = pointer.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = crate::store::cache::with_suffix(pointer, &format!(".tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(Path::new("../../blobs").join(etag), &tmp);
    #[cfg(not(unix))]
    let made = fs::copy(blob, &tmp).map(|_| ());
    let _ = blob;
    made.and_then(|_| fs::rename(&tmp, pointer))
        .with_context(|| format!("cannot create {}", pointer.display()))
}
