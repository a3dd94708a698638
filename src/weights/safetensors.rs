//! safetensors files: read through a memory map, write atomically.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, View};
use safetensors::SafeTensors;

use super::{DType, RawTensor, StateDict};
use crate::sys::output_path::OutputPath;

type R<T> = Result<T, String>;

use super::bad;

/// The [`DType`] for a safetensors dtype (error text for the others).
pub fn from_st(d: Dtype) -> Result<DType, String> {
    Ok(match d {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F64 => DType::F64,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::I8 => DType::I8,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        other => return Err(format!("unsupported tensor dtype {other}")),
    })
}

fn to_st(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F64 => Dtype::F64,
        DType::I64 => Dtype::I64,
        DType::I32 => Dtype::I32,
        DType::I16 => Dtype::I16,
        DType::I8 => Dtype::I8,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

/// Reads a safetensors file; tensors in file (data offset) order, metadata
/// from the header's `__metadata__`.
pub fn read_safetensors(path: impl AsRef<Path>) -> anyhow::Result<StateDict> {
    let path = path.as_ref();
    parse(&super::map_file(path)?).map_err(|m| bad(path.display(), m))
}

/// [`read_safetensors`] on bytes in memory (errors name "weights data").
pub fn read_safetensors_bytes(bytes: &[u8]) -> anyhow::Result<StateDict> {
    parse(bytes).map_err(|m| bad("data", m))
}

pub(super) fn parse(bytes: &[u8]) -> R<StateDict> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a valid safetensors file ({e})"))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("not a valid safetensors file ({e})"))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut tensors = Vec::with_capacity(st.len());
    for name in header.offset_keys() {
        let view = st
            .tensor(&name)
            .map_err(|e| format!("tensor '{name}': {e}"))?;
        let dtype = from_st(view.dtype()).map_err(|e| format!("tensor '{name}': {e}"))?;
        let t = RawTensor {
            dtype,
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        };
        t.check_len().map_err(|e| format!("tensor '{name}': {e}"))?;
        tensors.push((name, t));
    }
    Ok(StateDict { tensors, metadata })
}

struct TensorRef<'a>(&'a RawTensor);

impl View for TensorRef<'_> {
    fn dtype(&self) -> Dtype {
        to_st(self.0.dtype)
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0.data)
    }
    fn data_len(&self) -> usize {
        self.0.data.len()
    }
}

/// Writes `sd` (with its metadata) as a safetensors file, atomically: the
/// bytes go to a temporary file, which is fsynced and renamed over `path`
/// (or copied into it when `path` is `-`, a device or a FIFO:
/// [`OutputPath`]); on any error the temporary file is removed and `path`
/// is untouched. Tensors are laid out as the safetensors crate
/// orders them (by dtype alignment, then name).
pub fn write_safetensors(path: &Path, sd: &StateDict) -> anyhow::Result<()> {
    let mut seen = HashSet::new();
    for (name, t) in &sd.tensors {
        if !seen.insert(name.as_str()) {
            anyhow::bail!(
                "cannot write {}: two tensors are named '{name}'",
                path.display()
            );
        }
        t.check_len().map_err(|e| {
            anyhow::anyhow!("cannot write {}: tensor '{name}': {e}", path.display())
        })?;
    }
    let out = OutputPath::resolve(path)?;
    // Removed again on any error (NamedTempFile's drop).
    let tmp = out.staging()?;
    // The mode of a new file (0666 less the umask); the safetensors crate's
    // writer may replace the file with a private (0600) one.
    let mode = tmp.as_file().metadata().map(|m| m.permissions()).ok();

    let metadata: Option<HashMap<String, String>> = if sd.metadata.is_empty() {
        None
    } else {
        Some(
            sd.metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    };
    let views = sd.tensors.iter().map(|(k, t)| (k.as_str(), TensorRef(t)));
    // The crate writes through a temporary file of its own beside the one
    // it is given (`.tmpXXXXXX`, which a kill would leave behind under a
    // name nobody can attribute): it is given one in a folder of dpn's,
    // and its result moved onto the staging file.
    let dir = out.staging_dir()?;
    let written = dir.path().join("weights.safetensors");
    safetensors::serialize_to_file(views, metadata, &written)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    fs::rename(&written, tmp.path())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    drop(dir);
    if let Some(mode) = mode {
        let _ = fs::set_permissions(tmp.path(), mode);
    }
    out.commit(tmp)
}

/// The `__metadata__` of a safetensors file, without reading its tensors.
pub fn safetensors_metadata(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let map = super::map_file(path)?;
    let (_, header) = SafeTensors::read_metadata(&map[..]).map_err(|e| {
        bad(
            path.display(),
            format!("not a valid safetensors file ({e})"),
        )
    })?;
    Ok(header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}
