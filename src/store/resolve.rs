//! Which weights file a command loads for a model when the user names none:
//! the one look-up that predict, evaluate, profile, train and info share.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::registry::ModelSpec;
use crate::store::cache::Cache;
use crate::store::hub;
use crate::sys::error;

/// The weights a command should load for `spec`: the explicit file when one
/// is given, else the converted safetensors in the cache, else the
/// downloaded source file, else `model.safetensors` of the model's hub id in
/// the Hugging Face cache. Missing everywhere: an error (exit code 6) naming
/// the `dpn fetch` command that gets it.
pub fn resolve_weights(
    cache: &Cache,
    spec: &ModelSpec,
    explicit: Option<&Path>,
) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return explicit_file(path);
    }
    if let Some(found) = find_weights(cache, spec) {
        return Ok(found);
    }
    let how = match (&spec.weights, &spec.hub_id) {
        (Some(_), _) => format!("run `dpn fetch {}` (or pass --weights FILE)", spec.name),
        (None, Some(_)) => format!(
            "run `dpn fetch --source hf {}` (or pass --weights FILE)",
            spec.name
        ),
        (None, None) => "the registry names no weights for it; pass --weights FILE".to_string(),
    };
    Err(error::not_cached(format!(
        "no weights for {} in {}; {how}",
        spec.name,
        cache.weights_dir().display()
    )))
}

/// A weights file the user named, if it is a regular file (or a link to
/// one); else a usage error saying what it is: missing, a directory, a
/// device (`/dev/zero` would read as endless zeros).
pub fn explicit_file(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    Err(error::usage(format!(
        "weights file {} {}",
        path.display(),
        crate::sys::output_path::not_a_file(path)
    )))
}

/// The weights file on this machine that [`resolve_weights`] loads when no
/// file is named: the converted cache file, the downloaded source file, or
/// `model.safetensors` of the model's hub id in the Hugging Face cache.
pub fn find_weights(cache: &Cache, spec: &ModelSpec) -> Option<PathBuf> {
    cache.cached_weights(spec).or_else(|| {
        spec.hub_id
            .as_deref()
            .and_then(|id| hub::cached_file(&hub::hub_cache_dir(), id))
    })
}
