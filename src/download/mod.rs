//! Getting pretrained weights into the cache (finding them there is
//! [`crate::store`]'s job).
//!
//! * [`fetch_url`]: the registry's URL (or the same file name under a
//!   `--mirror`), downloaded with resume ([`http`]), checked against the
//!   SHA-256 prefix in its name, moved into place atomically, recorded in a
//!   provenance file beside it and converted once to safetensors.
//! * [`hf::fetch`]: `model.safetensors` of the model's hub id, in the cache
//!   layout of Python's huggingface_hub.
//!
//! Processes fetching the same file take turns on a file lock ([`lock`]), so
//! an array job downloads once; every file appears under its final name only
//! by a rename, so no process ever reads a partial file.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::registry::ModelSpec;
use crate::store::cache::Cache;
use crate::sys::digest::file_sha256;
use crate::sys::error;
use crate::sys::output_path::write_atomic;
use crate::sys::time::now_rfc3339;
use crate::ui::Ui;

pub mod hf;
pub mod http;
pub mod lock;

/// How `dpn fetch` may get files.
#[derive(Debug, Clone)]
pub struct Options {
    /// Download again even when a verified file is cached.
    pub force: bool,
    /// Never touch the network (local mirrors are still read).
    pub offline: bool,
    /// Base URL or directory holding the same file names as the registry URLs.
    pub mirror: Option<String>,
    /// Connect and read timeout.
    pub timeout: Duration,
    /// Retries after a transient failure (timeout, connection lost, 5xx, 429).
    pub retries: u32,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What a fetch left in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub model: String,
    /// The verified file as downloaded.
    pub path: PathBuf,
    /// The safetensors file runs load from (the download itself when it is
    /// safetensors already).
    pub converted: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// False when the cache already held the verified file.
    pub downloaded: bool,
}

/// What `<file>.provenance.json` records about a download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub model: String,
    pub file_name: String,
    /// Where the bytes came from (the mirror's URL when one was used).
    pub url: Option<String>,
    /// The URL the registry names.
    pub registry_url: Option<String>,
    pub sha256: String,
    pub size: u64,
    /// RFC 3339, UTC.
    pub fetched_at: String,
    pub dpn_version: String,
}

impl Provenance {
    pub fn read(path: &Path) -> Option<Provenance> {
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }
}

/// The URL a file comes from: the registry's, or `file_name` under the mirror.
pub fn source_url(spec_url: &str, file_name: &str, mirror: Option<&str>) -> String {
    match mirror {
        Some(base) => format!("{}/{file_name}", base.trim_end_matches('/')),
        None => spec_url.to_string(),
    }
}

/// Downloads (or finds) the registry's weights file for `spec`, verifies and
/// converts it. See the module documentation.
pub fn fetch_url(cache: &Cache, spec: &ModelSpec, opts: &Options, ui: &Ui) -> Result<Fetched> {
    let w = spec.weights.as_ref().ok_or_else(|| {
        let hint = if spec.hub_id.is_some() {
            "; try `--source hf`"
        } else {
            ""
        };
        error::usage(format!(
            "model `{}` has no weights URL in the registry{hint}",
            spec.name
        ))
    })?;
    let (dest, part, prov_path, lock_path) = match (
        cache.source_path(spec),
        cache.partial_path(spec),
        cache.provenance_path(spec),
        cache.lock_path(spec),
    ) {
        (Some(d), Some(p), Some(v), Some(l)) => (d, p, v, l),
        _ => unreachable!("a spec with weights has cache paths"),
    };
    let converted = cache.converted_path(spec);
    let url = source_url(&w.url, &w.file_name, opts.mirror.as_deref());
    let needs_network = !http::is_local(&url);
    if opts.offline && needs_network {
        if opts.force {
            return Err(error::usage(
                "--force needs the network, but --offline (or DPN_OFFLINE) forbids it",
            ));
        }
        if !dest.is_file() {
            return Err(error::not_cached(format!(
                "offline: {} is not cached (looked for {}); run `dpn fetch {}` where the network is \
                 reachable, or use --mirror DIR",
                spec.name,
                dest.display(),
                spec.name
            )));
        }
    }
    fs::create_dir_all(cache.weights_dir()).with_context(|| {
        format!(
            "cannot create cache directory {}",
            cache.weights_dir().display()
        )
    })?;
    let _lock = lock::Lock::acquire(&lock_path, true, ui, &w.file_name)?;

    let expected = w.sha256_prefix.as_deref().map(str::to_ascii_lowercase);
    if !opts.force {
        if let Some((sha256, size)) = verified_cached(&dest, &prov_path, expected.as_deref(), ui)? {
            if Provenance::read(&prov_path).map(|p| p.sha256).as_ref() != Some(&sha256) {
                write_provenance(&prov_path, spec, &w.file_name, None, &w.url, &sha256, size)?;
            }
            let conv = ensure_converted(&dest, &converted, spec, &sha256, false, ui)?;
            ui.debug(format!(
                "{}: verified file already in the cache: {}",
                spec.name,
                dest.display()
            ));
            return Ok(Fetched {
                model: spec.name.clone(),
                path: dest,
                converted: conv,
                sha256,
                size,
                downloaded: false,
            });
        }
        if opts.offline && needs_network {
            return Err(error::not_cached(format!(
                "offline: {} is not cached in verified form (looked for {})",
                spec.name,
                dest.display()
            )));
        }
    } else if part.exists() {
        fs::remove_file(&part).with_context(|| format!("cannot remove {}", part.display()))?;
    }

    ui.info(format!("fetching {} from {url}", spec.name));
    let client = http::Client::new(opts.timeout, opts.retries);
    client.download(&url, &part, &[], None, opts.progress, ui, &w.file_name)?;
    let (sha256, size) = file_sha256(&part)?;
    if let Some(exp) = &expected {
        if !sha256.starts_with(exp.as_str()) {
            let _ = fs::remove_file(&part);
            return Err(error::verification(format!(
                "{} from {url} fails its digest check: SHA-256 expected to start with {exp}, got {sha256}; \
                 the file was removed",
                w.file_name
            )));
        }
    }
    check_weights(&part, spec, &w.file_name, &url)?;
    commit(&part, &dest)?;
    write_provenance(
        &prov_path,
        spec,
        &w.file_name,
        Some(&url),
        &w.url,
        &sha256,
        size,
    )?;
    let conv = ensure_converted(&dest, &converted, spec, &sha256, true, ui)?;
    ui.info(format!(
        "{}: {} verified (sha256 {sha256})",
        spec.name,
        dest.display()
    ));
    Ok(Fetched {
        model: spec.name.clone(),
        path: dest,
        converted: conv,
        sha256,
        size,
        downloaded: true,
    })
}

/// Refuses a download that is not weights of `spec` (an error page, another
/// model), before it enters the cache; the file is removed. A digest only
/// says the bytes are the ones named, and a name may carry none.
pub(crate) fn check_weights(part: &Path, spec: &ModelSpec, name: &str, url: &str) -> Result<()> {
    crate::weights::convert::check_for(spec, part).map_err(|e| {
        let _ = fs::remove_file(part);
        e.context(format!(
            "{name} from {url} is not weights of model `{}`; the file was removed",
            spec.name
        ))
    })?;
    Ok(())
}

/// The cached file's digest and size when it is there and verifies; a file
/// that does not verify is removed (with its provenance) and `None` returned.
/// It is hashed every time (a fetch is no hot path): its digest must start
/// with the prefix in its name, or, for a name without one, equal what the
/// provenance recorded at download.
fn verified_cached(
    dest: &Path,
    prov_path: &Path,
    expected: Option<&str>,
    ui: &Ui,
) -> Result<Option<(String, u64)>> {
    if !dest.is_file() {
        return Ok(None);
    }
    let recorded = Provenance::read(prov_path).map(|p| p.sha256);
    let ok = |sha: &str| match (expected, &recorded) {
        (Some(e), _) => sha.starts_with(e),
        (None, Some(r)) => sha == r,
        (None, None) => true,
    };
    let (sha, size) = file_sha256(dest)?;
    if ok(&sha) {
        return Ok(Some((sha, size)));
    }
    let want = expected
        .map(|e| format!("{e}..."))
        .or(recorded)
        .unwrap_or_default();
    ui.warn(format!(
        "cached {} fails its digest check (expected {want}, got {sha}); downloading it again",
        dest.display()
    ));
    fs::remove_file(dest).with_context(|| format!("cannot remove {}", dest.display()))?;
    let _ = fs::remove_file(prov_path);
    Ok(None)
}

/// Converts `source` to safetensors at `converted` unless a conversion of
/// these very bytes is there already (or `force`). A source that is
/// safetensors itself is its own conversion.
fn ensure_converted(
    source: &Path,
    converted: &Path,
    spec: &ModelSpec,
    sha256: &str,
    force: bool,
    ui: &Ui,
) -> Result<PathBuf> {
    if source == converted || (!force && converted_from(converted).as_deref() == Some(sha256)) {
        return Ok(converted.to_path_buf());
    }
    ui.debug(format!(
        "{}: converting {} to {}",
        spec.name,
        source.display(),
        converted.display()
    ));
    // The same conversion as `dpn convert`: validated against the
    // architecture, timm's names, provenance in the metadata.
    let c = crate::weights::convert::convert_for(
        spec,
        source,
        converted,
        crate::weights::DType::F32,
        Some(sha256.to_string()),
    )
    .with_context(|| format!("cannot convert {} to safetensors", source.display()))?;
    if let Some(warning) = c.health.verdict(source, false)? {
        ui.warn(warning);
    }
    Ok(converted.to_path_buf())
}

/// The `source_sha256` a converted file records in its safetensors header,
/// read without loading the tensors.
pub fn converted_from(path: &Path) -> Option<String> {
    crate::weights::safetensors_metadata(path)
        .ok()?
        .remove(crate::weights::meta::SOURCE_SHA256)
}

fn write_provenance(
    path: &Path,
    spec: &ModelSpec,
    file_name: &str,
    url: Option<&str>,
    registry_url: &str,
    sha256: &str,
    size: u64,
) -> Result<()> {
    let p = Provenance {
        model: spec.name.clone(),
        file_name: file_name.to_string(),
        url: url.map(str::to_string),
        registry_url: Some(registry_url.to_string()),
        sha256: sha256.to_string(),
        size,
        fetched_at: now_rfc3339(),
        dpn_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut text = serde_json::to_vec_pretty(&p)?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Moves a complete download into place: fsync, rename, fsync the directory.
pub(crate) fn commit(part: &Path, dest: &Path) -> Result<()> {
    fs::File::open(part)
        .and_then(|f| f.sync_all())
        .and_then(|_| fs::rename(part, dest))
        .with_context(|| format!("cannot move {} to {}", part.display(), dest.display()))?;
    #[cfg(unix)]
    if let Some(dir) = dest.parent() {
        let _ = fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_urls() {
        assert_eq!(
            source_url("https://x/a/f.pth", "f.pth", None),
            "https://x/a/f.pth"
        );
        assert_eq!(
            source_url("https://x/a/f.pth", "f.pth", Some("file:///m/")),
            "file:///m/f.pth"
        );
        assert_eq!(
            source_url("https://x/a/f.pth", "f.pth", Some("/m")),
            "/m/f.pth"
        );
    }
}
