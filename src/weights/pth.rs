//! PyTorch `torch.save` files: the zip format (torch >= 1.6) and the legacy
//! format (torch < 1.6, e.g. 2017-era pretrained weights).
//!
//! * Zip: `<archive>/data.pkl` (the pickled object, storages as persistent
//!   ids `('storage', torch.FloatStorage, key, location, numel)`) plus one
//!   `<archive>/data/<key>` entry of raw bytes per storage, and an optional
//!   `<archive>/byteorder` (`little`/`big`). The archive directory name varies.
//! * Legacy: five concatenated pickles — the magic number
//!   0x1950a86a20f9469cfc6c, the protocol version 1001, `sys_info`, the object
//!   (storages as persistent ids, optionally with view metadata), and the list
//!   of storage keys — followed, for each key, by a little-endian u64 element
//!   count and the raw elements.
//!
//! Which dictionary holds the tensors: if the top-level object is a dict with
//! a `state_dict` entry that is a dict holding tensors, that one; otherwise
//! `model`, then `state_dict_ema`, then `model_ema` (the plain weights are
//! preferred over EMA weights); otherwise the top-level dict itself. Entries
//! that are not tensors (epoch numbers, strings, argparse namespaces, ...)
//! are ignored.
//!
//! Tensors are views `(storage, offset, size, stride)`; each is materialized
//! as a contiguous copy after checking that every index it can reach lies
//! inside its storage. The total materialized size is capped relative to the
//! input size (see [`MATERIALIZE_SLACK`]), so a tiny file with absurd shapes
//! or zero strides cannot allocate gigabytes.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};
use std::path::Path;

use super::bad;

use super::pickle::{self, Global, Obj, Pickle, Value};
use super::{detect_format_bytes, DType, Format, RawTensor, StateDict};

/// Bytes that tensors may materialize beyond four times the input size
/// (room for expanded tensors with zero strides and shared storages).
pub const MATERIALIZE_SLACK: u64 = 64 << 20;

type R<T> = Result<T, String>;

/// Reads a PyTorch file (zip or legacy format) into a [`StateDict`], keys as
/// stored (see [`super::read_any`] for normalized keys).
pub fn read_pth(path: impl AsRef<Path>) -> anyhow::Result<StateDict> {
    let path = path.as_ref();
    read_pth_inner(&super::map_file(path)?).map_err(|m| bad(path.display(), m))
}

/// [`read_pth`] on bytes in memory (errors name "weights data").
pub fn read_pth_bytes(bytes: &[u8]) -> anyhow::Result<StateDict> {
    read_pth_inner(bytes).map_err(|m| bad("data", m))
}

pub(super) fn read_pth_inner(bytes: &[u8]) -> R<StateDict> {
    match detect_format_bytes(&bytes[..bytes.len().min(16)])? {
        Format::PthZip => read_zip(bytes),
        Format::PthLegacy => read_legacy(bytes),
        Format::Safetensors => Err("this is a safetensors file, not a PyTorch file".into()),
    }
}

/// A storage as named by a persistent id.
#[derive(Debug, Clone)]
struct StorageRef {
    key: String,
    dtype: DType,
    /// Declared element count of the (root) storage.
    numel: u64,
    /// Legacy storage views: (element offset, element count) into the root.
    view: Option<(u64, u64)>,
}

#[derive(Debug)]
struct TensorSpec {
    storage: StorageRef,
    offset: u64,
    size: Vec<u64>,
    stride: Vec<u64>,
}

fn int_of(v: &Value, what: &str) -> R<u64> {
    match v.as_int() {
        Some(i) if i >= 0 => Ok(i as u64),
        _ => Err(format!("a tensor's {what} is not a non-negative integer")),
    }
}

fn ints_of(pk: &Pickle, v: &Value, what: &str) -> R<Vec<u64>> {
    let items = pk
        .seq(v)
        .ok_or_else(|| format!("a tensor's {what} is not a tuple"))?;
    items.iter().map(|x| int_of(x, what)).collect()
}

fn key_string(v: &Value) -> R<String> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        Value::Int(i) => Ok(i.to_string()),
        _ => Err("a storage key is neither a string nor an integer".into()),
    }
}

/// Interprets a persistent id `('storage', StorageType, key, location, numel[, view])`.
fn parse_pid(pk: &Pickle, pid: &Value) -> R<StorageRef> {
    let items = pk
        .seq(pid)
        .ok_or("a persistent id is not a tuple (not a torch.save file?)")?;
    if items.len() < 5 || items[0].as_str() != Some("storage") {
        return Err("a persistent id is not a torch storage reference".into());
    }
    let dtype = match &items[1] {
        Value::Global(Global::Storage(d)) => *d,
        _ => return Err("a storage reference names no known storage type".into()),
    };
    let key = key_string(&items[2])?;
    let numel = int_of(&items[4], "storage size")?;
    let view = match items.get(5) {
        None | Some(Value::None) => None,
        Some(v) => {
            let vm = pk.seq(v).ok_or("a storage view is malformed")?;
            if vm.len() != 3 {
                return Err("a storage view is malformed".into());
            }
            Some((
                int_of(&vm[1], "storage view offset")?,
                int_of(&vm[2], "storage view size")?,
            ))
        }
    };
    Ok(StorageRef {
        key,
        dtype,
        numel,
        view,
    })
}

const MAX_DEPTH: usize = 8;

/// The tensor `v` rebuilds, `None` when `v` is not a tensor at all.
fn tensor_of(pk: &Pickle, v: &Value, depth: usize) -> R<Option<TensorSpec>> {
    match pk.obj(v) {
        Some(Obj::Call { func, args }) => tensor_from_call(pk, *func, args, depth).map(Some),
        _ => Ok(None),
    }
}

fn tensor_from_call(pk: &Pickle, func: Global, args: &Value, depth: usize) -> R<TensorSpec> {
    if depth > MAX_DEPTH {
        return Err("tensor rebuild calls are nested too deeply".into());
    }
    let a = pk
        .seq(args)
        .ok_or("a tensor's rebuild arguments are not a tuple")?;
    let need = |n: usize| -> R<()> {
        if a.len() < n {
            Err(format!(
                "a tensor rebuild call has {} arguments, expected at least {n}",
                a.len()
            ))
        } else {
            Ok(())
        }
    };
    match func {
        Global::RebuildTensor | Global::RebuildTensorV2 => {
            need(4)?;
            let storage = match pk.obj(&a[0]) {
                Some(Obj::PersId(pid)) => parse_pid(pk, pid)?,
                _ => return Err("a tensor's storage is not a persistent storage reference".into()),
            };
            let offset = int_of(&a[1], "storage offset")?;
            let size = ints_of(pk, &a[2], "size")?;
            let stride = ints_of(pk, &a[3], "stride")?;
            if size.len() != stride.len() {
                return Err(format!(
                    "a tensor has {} sizes but {} strides",
                    size.len(),
                    stride.len()
                ));
            }
            Ok(TensorSpec {
                storage,
                offset,
                size,
                stride,
            })
        }
        Global::RebuildParameter | Global::RebuildParameterWithState => {
            need(1)?;
            tensor_of(pk, &a[0], depth + 1)?
                .ok_or_else(|| "a parameter wraps something that is not a tensor".into())
        }
        Global::RebuildFromTypeV2 => {
            // (func, type, args, state)
            need(3)?;
            match (&a[0], &a[1]) {
                (Value::Global(f), Value::Global(Global::TensorType)) => {
                    tensor_from_call(pk, *f, &a[2], depth + 1)
                }
                _ => Err("a tensor subclass rebuild names an unsupported function or type".into()),
            }
        }
        _ => Err("an unsupported call was recorded as a tensor".into()),
    }
}

/// The dictionary holding the tensors, per the module docs.
fn select_dict(pk: &Pickle) -> R<&pickle::Dict> {
    let top = match pk.obj(&pk.value) {
        Some(Obj::Dict(d)) => d,
        Some(Obj::Call { .. }) => {
            return Err("the file holds a single tensor, not a state dict".into())
        }
        Some(Obj::List(_)) | Some(Obj::Tuple(_)) => {
            return Err("the file holds a list or tuple, not a state dict".into())
        }
        _ => {
            return Err(format!(
                "the file holds a {}, not a state dict",
                pk.value.kind()
            ))
        }
    };
    for name in ["state_dict", "model", "state_dict_ema", "model_ema"] {
        if let Some(d) = top.get_str(name).and_then(|v| pk.dict(v)) {
            if d.items
                .iter()
                .any(|(_, v)| matches!(pk.obj(v), Some(Obj::Call { .. })))
            {
                return Ok(d);
            }
        }
    }
    Ok(top)
}

fn collect_specs(pk: &Pickle) -> R<Vec<(String, TensorSpec)>> {
    let d = select_dict(pk)?;
    let mut out = Vec::new();
    for (k, v) in &d.items {
        let Some(name) = k.as_str() else { continue };
        if let Some(spec) = tensor_of(pk, v, 0).map_err(|e| format!("tensor '{name}': {e}"))? {
            out.push((name.to_string(), spec));
        }
    }
    if out.is_empty() {
        return Err("no tensors found (not a state dict or checkpoint)".into());
    }
    Ok(out)
}

/// Every storage reference in the pickle (also those outside the selected
/// dict), for the legacy format's element sizes.
fn all_storage_dtypes(pk: &Pickle) -> HashMap<String, DType> {
    let mut out = HashMap::new();
    for o in &pk.arena {
        if let Obj::PersId(pid) = o {
            if let Ok(s) = parse_pid(pk, pid) {
                out.entry(s.key).or_insert(s.dtype);
            }
        }
    }
    out
}

/// Copies tensor `spec` out of `root` (the bytes of its root storage).
fn materialize(spec: &TensorSpec, root: &[u8], big_endian: bool, budget: &mut u64) -> R<RawTensor> {
    let dtype = spec.storage.dtype;
    let es = dtype.size() as u64;
    let root_len = root.len() as u64 / es;
    let (base, avail) = match spec.storage.view {
        Some((off, len)) => {
            if off.checked_add(len).is_none_or(|end| end > root_len) {
                return Err(format!(
                    "storage view {off}+{len} lies outside its storage of {root_len} elements"
                ));
            }
            (off, len)
        }
        None => (0, root_len),
    };
    let too_big = || format!("shape {:?} is too large", spec.size);
    let numel = spec
        .size
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(too_big)?;
    let shape: Vec<usize> = spec
        .size
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| too_big()))
        .collect::<R<_>>()?;
    if numel == 0 {
        return Ok(RawTensor {
            dtype,
            shape,
            data: Vec::new(),
        });
    }
    let mut last = spec.offset;
    for (&d, &s) in spec.size.iter().zip(&spec.stride) {
        last = (d - 1)
            .checked_mul(s)
            .and_then(|x| x.checked_add(last))
            .ok_or_else(too_big)?;
    }
    if last >= avail {
        return Err(format!(
            "a view (offset {}, size {:?}, stride {:?}) reaches element {last} of a storage of {avail} \
             elements (truncated or corrupt file)",
            spec.offset, spec.size, spec.stride
        ));
    }
    let nbytes = numel.checked_mul(es).ok_or_else(too_big)?;
    if nbytes > *budget {
        return Err(format!(
            "tensors would need more memory ({nbytes} bytes for shape {:?}) than a file this size can hold",
            spec.size
        ));
    }
    *budget -= nbytes;
    let es = es as usize;
    let start = (base + spec.offset) as usize * es; // < root.len(): checked above
    let nbytes = nbytes as usize;
    let contiguous = is_contiguous(&spec.size, &spec.stride);
    let mut data = if contiguous {
        root[start..start + nbytes].to_vec()
    } else {
        gather(&root[start..], &spec.size, &spec.stride, es, nbytes)
    };
    if big_endian && es > 1 {
        for chunk in data.chunks_exact_mut(es) {
            chunk.reverse();
        }
    }
    Ok(RawTensor { dtype, shape, data })
}

/// Row-major contiguity (dimensions of size 1 may have any stride).
fn is_contiguous(size: &[u64], stride: &[u64]) -> bool {
    let mut expect = 1u64;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expect {
            return false;
        }
        expect = expect.saturating_mul(d);
    }
    true
}

/// Strided copy; every index was bounds-checked by the caller.
fn gather(src: &[u8], size: &[u64], stride: &[u64], es: usize, nbytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(nbytes);
    let nd = size.len();
    let inner = size[nd - 1] as usize;
    let inner_stride = stride[nd - 1] as usize * es;
    let mut idx = vec![0u64; nd - 1];
    loop {
        let mut off = 0usize;
        for i in 0..nd - 1 {
            off += (idx[i] * stride[i]) as usize * es;
        }
        if inner_stride == es {
            out.extend_from_slice(&src[off..off + inner * es]);
        } else {
            for j in 0..inner {
                let p = off + j * inner_stride;
                out.extend_from_slice(&src[p..p + es]);
            }
        }
        // odometer over the outer dimensions
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < size[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

fn budget_for(input_len: usize) -> u64 {
    (input_len as u64)
        .saturating_mul(4)
        .saturating_add(MATERIALIZE_SLACK)
}

/// A storage's bytes: borrowed from the input, or read out of a zip entry.
enum Bytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

fn build(
    specs: Vec<(String, TensorSpec)>,
    mut storages: HashMap<String, Bytes<'_>>,
    big_endian: bool,
    input_len: usize,
) -> R<StateDict> {
    let mut budget = budget_for(input_len);
    let mut users: HashMap<String, usize> = HashMap::new();
    for (_, spec) in &specs {
        *users.entry(spec.storage.key.clone()).or_insert(0) += 1;
    }
    let mut tensors = Vec::with_capacity(specs.len());
    for (name, spec) in specs {
        let key = &spec.storage.key;
        let left = users.get_mut(key).map_or(0, |n| {
            *n -= 1;
            *n
        });
        let t = match storages.get(key) {
            None => return Err(format!("tensor '{name}': its storage '{key}' is missing")),
            // The last user of an owned storage that it covers exactly takes
            // the buffer instead of copying it (halves peak memory).
            Some(Bytes::Owned(v))
                if left == 0
                    && spec.storage.view.is_none()
                    && spec.offset == 0
                    && is_contiguous(&spec.size, &spec.stride)
                    && spec
                        .size
                        .iter()
                        .try_fold(spec.storage.dtype.size() as u64, |a, &d| a.checked_mul(d))
                        == Some(v.len() as u64)
                    && (v.len() as u64) <= budget =>
            {
                let Some(Bytes::Owned(mut data)) = storages.remove(key) else {
                    unreachable!("matched Owned above")
                };
                budget -= data.len() as u64;
                let es = spec.storage.dtype.size();
                if big_endian && es > 1 {
                    for chunk in data.chunks_exact_mut(es) {
                        chunk.reverse();
                    }
                }
                let shape = spec.size.iter().map(|&d| d as usize).collect(); // product fits in usize
                Ok(RawTensor {
                    dtype: spec.storage.dtype,
                    shape,
                    data,
                })
            }
            Some(Bytes::Owned(v)) => materialize(&spec, v, big_endian, &mut budget),
            Some(Bytes::Borrowed(b)) => materialize(&spec, b, big_endian, &mut budget),
        }
        .map_err(|e| format!("tensor '{name}': {e}"))?;
        tensors.push((name, t));
    }
    Ok(StateDict {
        tensors,
        metadata: BTreeMap::new(),
    })
}

// ---------------------------------------------------------------- zip format

fn read_zip(bytes: &[u8]) -> R<StateDict> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the zip archive is truncated or corrupt ({e})"))?;
    // `<archive>/data.pkl`: the shortest such name, at most one directory deep.
    let pkl_name = zip
        .file_names()
        .filter(|n| {
            n.strip_suffix("data.pkl")
                .is_some_and(|p| p.is_empty() || (p.ends_with('/') && p.matches('/').count() == 1))
        })
        .min_by_key(|n| n.len())
        .map(str::to_string)
        .ok_or("the zip archive has no data.pkl entry (not a torch.save file, or a TorchScript archive)")?;
    let prefix = pkl_name[..pkl_name.len() - "data.pkl".len()].to_string();
    let limit = (bytes.len() as u64)
        .saturating_mul(4)
        .saturating_add(1 << 20);
    let pkl = read_entry(&mut zip, &pkl_name, limit)?;
    let pk = pickle::unpickle(&pkl)?;
    let specs = collect_specs(&pk)?;

    let big_endian = match zip.index_for_name(&format!("{prefix}byteorder")) {
        Some(_) => {
            let b = read_entry(&mut zip, &format!("{prefix}byteorder"), 16)?;
            match b.as_slice() {
                b"little" => false,
                b"big" => true,
                _ => {
                    return Err(
                        "the archive's byteorder entry is neither 'little' nor 'big'".into(),
                    )
                }
            }
        }
        None => false,
    };

    // Bytes each storage must have: the largest declared size among its users.
    let mut need: HashMap<&str, u64> = HashMap::new();
    for (name, s) in &specs {
        let n = s
            .storage
            .numel
            .checked_mul(s.storage.dtype.size() as u64)
            .ok_or_else(|| format!("tensor '{name}': its storage size is absurd"))?;
        let e = need.entry(s.storage.key.as_str()).or_insert(0);
        *e = (*e).max(n);
    }
    // torch.save stores its entries uncompressed, so real storages add up
    // to less than the file; a deflated entry that would inflate past the
    // materialization budget is refused before a byte of it is inflated
    // (docs/conventions.md, "Limits on sizes").
    let mut inflate_budget = budget_for(bytes.len());
    let mut storages: HashMap<String, Bytes> = HashMap::new();
    for (key, n) in need {
        let entry = format!("{prefix}data/{key}");
        if zip.index_for_name(&entry).is_none() {
            return Err(format!(
                "the zip archive has no entry '{entry}' for a tensor's storage (truncated or corrupt file)"
            ));
        }
        // The central directory's size, read without inflating anything.
        let declared = zip
            .by_name(&entry)
            .map_err(|e| format!("cannot read zip entry '{entry}' ({e})"))?
            .size();
        if declared < n {
            return Err(format!(
                "storage entry '{entry}' holds {declared} bytes, {n} expected (truncated file?)"
            ));
        }
        if n > inflate_budget {
            return Err(format!(
                "storage entry '{entry}' would inflate to {n} bytes, more than a {}-byte file can hold \
                 (at most 4 times its size plus {} MiB in all; a zip bomb?)",
                bytes.len(),
                MATERIALIZE_SLACK >> 20
            ));
        }
        inflate_budget -= n;
        let data = read_entry(&mut zip, &entry, n)?;
        if (data.len() as u64) < n {
            return Err(format!(
                "storage entry '{entry}' holds {} bytes, {n} expected (truncated file?)",
                data.len()
            ));
        }
        storages.insert(key.to_string(), Bytes::Owned(data));
    }
    build(specs, storages, big_endian, bytes.len())
}

/// Reads at most `limit` bytes of entry `name`.
fn read_entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str, limit: u64) -> R<Vec<u8>> {
    let input_len = zip.central_directory_start(); // <= input length

    let entry = zip
        .by_name(name)
        .map_err(|e| format!("cannot read zip entry '{name}' ({e})"))?;
    // Pre-allocate only what the input can really hold (declared sizes lie).
    let hint = entry
        .size()
        .min(limit)
        .min(entry.compressed_size())
        .min(input_len) as usize;
    let mut buf = Vec::with_capacity(hint);
    entry
        .take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| format!("zip entry '{name}' is truncated or corrupt ({e})"))?;
    Ok(buf)
}

// ------------------------------------------------------------- legacy format

/// Little-endian bytes of the legacy magic number 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_MAGIC_DEC: &str = "119547037146038801333356";

fn read_legacy(bytes: &[u8]) -> R<StateDict> {
    let mut pos = 0usize;
    let mut next = |what: &str| -> R<Pickle> {
        let pk = pickle::unpickle(&bytes[pos..]).map_err(|e| format!("{what}: {e}"))?;
        pos += pk.consumed;
        Ok(pk)
    };
    let magic = next("the magic number")?;
    let ok = match &magic.value {
        Value::BigInt(b) => **b == LEGACY_MAGIC || &**b == LEGACY_MAGIC_DEC.as_bytes(),
        _ => false,
    };
    if !ok {
        return Err(
            "not a PyTorch or safetensors file (a pickle without torch's magic number)".into(),
        );
    }
    let proto = next("the protocol version")?;
    if proto.value.as_int() != Some(1001) {
        return Err("unsupported legacy protocol version (expected 1001)".into());
    }
    let sys_info = next("the system info")?;
    let big_endian = matches!(
        sys_info
            .dict(&sys_info.value)
            .and_then(|d| d.get_str("little_endian")),
        Some(Value::Bool(false)) | Some(Value::Int(0))
    );
    let obj = next("the pickled object")?;
    let specs = collect_specs(&obj)?;
    let keys_pk = next("the storage key list")?;
    let keys: Vec<String> = keys_pk
        .seq(&keys_pk.value)
        .ok_or("the storage key list is not a list")?
        .iter()
        .map(key_string)
        .collect::<R<_>>()?;
    let dtypes = all_storage_dtypes(&obj);

    let mut storages: HashMap<String, Bytes> = HashMap::new();
    for key in keys {
        let dtype = *dtypes
            .get(&key)
            .ok_or_else(|| format!("storage '{key}' is listed but no tensor refers to it"))?;
        let head = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| format!("the file is truncated (storage '{key}' is missing)"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(head);
        let mut numel = u64::from_le_bytes(a);
        if big_endian {
            numel = u64::from_be_bytes(a);
        }
        pos += 8;
        let len = numel
            .checked_mul(dtype.size() as u64)
            .filter(|&l| l <= (bytes.len() - pos) as u64)
            .ok_or_else(|| {
                format!("the file is truncated (storage '{key}' declares {numel} elements, more than remain)")
            })? as usize;
        storages.insert(key, Bytes::Borrowed(&bytes[pos..pos + len]));
        pos += len;
    }
    build(specs, storages, big_endian, bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_transpose() {
        // 2x3 row-major [0..6) viewed as its 3x2 transpose
        let src: Vec<u8> = (0..6).collect();
        let out = gather(&src, &[3, 2], &[1, 3], 1, 6);
        assert_eq!(out, vec![0, 3, 1, 4, 2, 5]);
    }
}
