//! Weights I/O in pure Rust: PyTorch `.pth`/`.pt`/`.bin` files (zip and
//! pre-1.6 legacy formats) and safetensors, without Python.
//!
//! One job per file:
//! * this file: the in-memory types, format detection by magic bytes,
//!   [`read_any`] and key normalization;
//! * [`pickle`]: a minimal unpickler that executes nothing (allow-listed
//!   globals only);
//! * [`pth`]: the PyTorch container formats, storages and tensor views;
//! * [`safetensors`]: reading (memory-mapped) and atomic writing;
//! * [`tch_bridge`]: conversion to and from `tch::Tensor`;
//! * [`meta`]: the metadata keys dpn writes (and the preprocessing they record);
//! * [`hub_config`]: the `config.json` of a timm Hugging Face model folder;
//! * [`convert`]: validating a state dict against an architecture, choosing
//!   the model that fits a file, writing timm-named safetensors;
//! * [`load`]: a weights file to a ready `Dpn` on a device;
//! * [`health`]: NaN/infinite values and negative BatchNorm variances.
//!
//! Every problem with a file's contents is reported through
//! [`crate::sys::error::bad_input`] (exit code 3) on one line naming the file; I/O
//! failures such as a missing file are plain errors with the path as context.
//! No input bytes make the readers panic.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context;

pub mod convert;
pub mod health;
pub mod hub_config;
pub mod load;
pub mod meta;
pub mod pickle;
pub mod pth;
pub mod safetensors;
pub mod tch_bridge;

pub use self::pth::{read_pth, read_pth_bytes};
pub use self::safetensors::from_st as safetensors_dtype;
pub use self::safetensors::{
    read_safetensors, read_safetensors_bytes, safetensors_metadata, write_safetensors,
};
pub use self::tch_bridge::{from_tch, kind_of, to_tch};

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The name safetensors uses ("F32", "BF16", "BOOL", ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::F64 => "F64",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I16 => "I16",
            DType::I8 => "I8",
            DType::U8 => "U8",
            DType::Bool => "BOOL",
        }
    }

    /// True for the floating-point types.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A dense tensor: contiguous, row-major, little-endian bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl RawTensor {
    /// Number of elements (1 for a scalar), `None` on overflow.
    pub fn numel(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Checks that `data` holds exactly `numel * dtype.size()` bytes.
    pub fn check_len(&self) -> Result<(), String> {
        let want = self
            .numel()
            .and_then(|n| n.checked_mul(self.dtype.size()))
            .ok_or_else(|| format!("shape {:?} is too large", self.shape))?;
        if want != self.data.len() {
            return Err(format!(
                "{} tensor of shape {:?} needs {} bytes but has {}",
                self.dtype,
                self.shape,
                want,
                self.data.len()
            ));
        }
        Ok(())
    }

    /// [`RawTensor::cast`] that hands the tensor back without a copy when
    /// nothing changes.
    pub fn into_cast(self, dtype: DType) -> RawTensor {
        if self.dtype == dtype || !self.dtype.is_float() || !dtype.is_float() {
            self
        } else {
            self.cast(dtype)
        }
    }

    /// This tensor converted to `dtype` if both are floating-point types;
    /// otherwise an unchanged copy. Conversions round to nearest even.
    pub fn cast(&self, dtype: DType) -> RawTensor {
        if self.dtype == dtype || !self.dtype.is_float() || !dtype.is_float() {
            return self.clone();
        }
        let n = self.data.len() / self.dtype.size();
        let mut out = Vec::with_capacity(n * dtype.size());
        for chunk in self.data.chunks_exact(self.dtype.size()) {
            let v: f64 = match self.dtype {
                DType::F32 => f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as f64,
                DType::F16 => half::f16::from_le_bytes([chunk[0], chunk[1]]).to_f64(),
                DType::BF16 => half::bf16::from_le_bytes([chunk[0], chunk[1]]).to_f64(),
                DType::F64 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(chunk);
                    f64::from_le_bytes(b)
                }
                _ => unreachable!("checked is_float above"),
            };
            // Narrowing goes through f32, as PyTorch's casts do (c10's
            // Half/BFloat16 are built from float); half's from_f64 rounds
            // some values differently from torch (measured: 38 in 10^6).
            match dtype {
                DType::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
                DType::F16 => out.extend_from_slice(&half::f16::from_f32(v as f32).to_le_bytes()),
                DType::BF16 => out.extend_from_slice(&half::bf16::from_f32(v as f32).to_le_bytes()),
                DType::F64 => out.extend_from_slice(&v.to_le_bytes()),
                _ => unreachable!("checked is_float above"),
            }
        }
        RawTensor {
            dtype,
            shape: self.shape.clone(),
            data: out,
        }
    }
}

/// Named tensors in file order, plus string metadata (safetensors header
/// `__metadata__`; empty for PyTorch files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDict {
    pub tensors: Vec<(String, RawTensor)>,
    pub metadata: BTreeMap<String, String>,
}

impl StateDict {
    /// The tensor called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.tensors.iter().find(|(k, _)| k == name).map(|(_, t)| t)
    }

    /// A copy with every floating-point tensor converted to `dtype` (F32, F16,
    /// BF16 or F64). Integer and bool tensors are untouched; if `dtype` itself
    /// is not a float type the copy is unchanged.
    pub fn cast(&self, dtype: DType) -> StateDict {
        StateDict {
            tensors: self
                .tensors
                .iter()
                .map(|(k, t)| (k.clone(), t.cast(dtype)))
                .collect(),
            metadata: self.metadata.clone(),
        }
    }

    /// Tensor names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}

/// The container formats [`read_any`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Hugging Face safetensors.
    Safetensors,
    /// PyTorch >= 1.6 `torch.save` (a zip archive around `data.pkl`).
    PthZip,
    /// PyTorch < 1.6 `torch.save` (concatenated pickles and raw storages).
    PthLegacy,
}

/// Maximum leading bytes [`detect_format_bytes`] looks at.
const SNIFF_LEN: usize = 16;

/// The format of `path`, decided by its first bytes (never by extension).
pub fn detect_format(path: impl AsRef<Path>) -> anyhow::Result<Format> {
    let path = path.as_ref();
    let mut file =
        File::open(path).with_context(|| format!("cannot open weights file {}", path.display()))?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut file)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read weights file {}", path.display()))?;
    detect_format_bytes(&head)
        .map_err(|e| crate::sys::error::bad_input(format!("weights file {}: {e}", path.display())))
}

/// The format of a file starting with `head` (at least its first 16 bytes,
/// when the file has that many). The error is a bare description.
pub fn detect_format_bytes(head: &[u8]) -> Result<Format, String> {
    if head.is_empty() {
        return Err("the file is empty".into());
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Format::PthZip);
    }
    // safetensors: u64 little-endian header length, then a JSON object.
    // (Checked before the legacy format: a header length of 128..=255 bytes
    // also starts with 0x80.)
    if head.len() > 8 && head[8] == b'{' {
        return Ok(Format::Safetensors);
    }
    // Legacy torch.save: a pickle (protocol 2+ opens with PROTO 0x80) whose
    // first object is the LONG1 magic number 0x1950a86a20f9469cfc6c (checked
    // by the reader).
    if head[0] == 0x80 && head.get(1).is_some_and(|&p| p <= 5) {
        return Ok(Format::PthLegacy);
    }
    Err("not a PyTorch or safetensors file (unknown magic bytes)".into())
}

/// A bad-input error naming the weights file (or "data" for bytes).
pub(crate) fn bad(name: impl fmt::Display, msg: String) -> anyhow::Error {
    crate::sys::error::bad_input(format!("weights file {name}: {msg}"))
}

/// `path` mapped read-only. An empty file (which cannot be mapped) is a
/// bad-input error.
pub(crate) fn map_file(path: &Path) -> anyhow::Result<memmap2::Mmap> {
    // A directory opens and a device maps as empty or endless: say what it
    // is. (A missing file is left to open's own error.)
    if path.exists() && !path.is_file() {
        return Err(crate::sys::error::usage(format!(
            "weights file {} {}",
            path.display(),
            crate::sys::output_path::not_a_file(path)
        )));
    }
    let file =
        File::open(path).with_context(|| format!("cannot open weights file {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("cannot read weights file {}", path.display()))?
        .len();
    if len == 0 {
        return Err(bad(path.display(), "the file is empty".into()));
    }
    // SAFETY: read-only map; like every mmap-based reader we assume the file
    // is not truncated while it is mapped.
    unsafe { memmap2::Mmap::map(&file) }
        .with_context(|| format!("cannot read weights file {}", path.display()))
}

/// Reads any supported weights file (format chosen by magic bytes) and
/// normalizes its keys with [`normalize_key`]. Two keys that normalize to the
/// same name are an error.
pub fn read_any(path: &Path) -> anyhow::Result<StateDict> {
    let map = map_file(path)?;
    let sd = match detect_format_bytes(&map[..map.len().min(SNIFF_LEN)]) {
        Ok(Format::Safetensors) => self::safetensors::parse(&map),
        Ok(Format::PthZip | Format::PthLegacy) => self::pth::read_pth_inner(&map),
        Err(e) => Err(e),
    }
    .map_err(|m| bad(path.display(), m))?;
    drop(map);
    normalized(sd).map_err(|m| bad(path.display(), m))
}

/// `sd` with every key through [`normalize_key`], in order; two keys that
/// become one name are an error.
fn normalized(sd: StateDict) -> Result<StateDict, String> {
    let mut seen = HashSet::new();
    let mut tensors = Vec::with_capacity(sd.tensors.len());
    for (name, t) in sd.tensors {
        let norm = normalize_key(&name);
        if !seen.insert(norm.clone()) {
            return Err(format!(
                "two tensors are both named '{norm}' once prefixes are normalized"
            ));
        }
        tensors.push((norm, t));
    }
    Ok(StateDict {
        tensors,
        metadata: sd.metadata,
    })
}

/// One key normalized: every leading `module.` (from `nn.DataParallel`) is
/// stripped, then a leading `last_linear.` (Cadene's pretrainedmodels naming)
/// becomes `classifier.` (timm's naming).
pub fn normalize_key(name: &str) -> String {
    let mut k = name;
    while let Some(rest) = k.strip_prefix("module.") {
        k = rest;
    }
    match k.strip_prefix("last_linear.") {
        Some(rest) => format!("classifier.{rest}"),
        None => k.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_magic() {
        assert_eq!(detect_format_bytes(b"PK\x03\x04rest"), Ok(Format::PthZip));
        // a 128-byte safetensors header also starts with 0x80
        assert_eq!(
            detect_format_bytes(b"\x80\0\0\0\0\0\0\0{\"a\""),
            Ok(Format::Safetensors)
        );
        assert_eq!(
            detect_format_bytes(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20"),
            Ok(Format::PthLegacy)
        );
        assert!(detect_format_bytes(b"").is_err());
        assert!(detect_format_bytes(b"GIF89a....").is_err());
    }

    #[test]
    fn normalizes_keys() {
        let t = RawTensor {
            dtype: DType::U8,
            shape: vec![1],
            data: vec![1],
        };
        let sd = |names: &[&str]| StateDict {
            tensors: names.iter().map(|n| (n.to_string(), t.clone())).collect(),
            metadata: BTreeMap::new(),
        };
        let n = normalized(sd(&["module.module.a", "last_linear.weight", "b"])).unwrap();
        assert_eq!(
            n.names().collect::<Vec<_>>(),
            ["a", "classifier.weight", "b"]
        );
        let err = normalized(sd(&["module.a", "a"])).unwrap_err();
        assert!(err.contains("'a'"), "{err}");
    }
}
