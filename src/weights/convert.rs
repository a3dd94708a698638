//! Turning any supported weights file into the safetensors file every dpn
//! subcommand loads: timm's names, validated against the architecture,
//! `num_batches_tracked` present (so timm loads it with `strict=True`), and
//! provenance in the metadata. Used by `dpn convert` and by `dpn fetch`.

use std::path::Path;

use anyhow::Result;

use crate::arch::ArchSpec;
use crate::model::infer::Precision;
use crate::model::{is_nbt, parameter_shapes, LoadReport};
use crate::registry::{ModelSpec, Registry};
use crate::sys::error;
use crate::weights::health::{self, Health};
use crate::weights::{self, meta, to_tch, DType, RawTensor, StateDict};

/// What a conversion did, for the caller to report.
#[derive(Debug, Clone)]
pub struct Converted {
    pub model: String,
    pub num_classes: usize,
    pub tensors: usize,
    pub dtype: DType,
    pub source_sha256: String,
    pub bytes: u64,
    /// `num_batches_tracked` buffers the source lacked and that were added as 0.
    pub added_nbt: usize,
    /// NaN/infinite values and negative BatchNorm variances in the output.
    pub health: Health,
}

/// Parses `--dtype` for weights: f32, f16 or bf16, with the aliases that
/// `--dtype` accepts everywhere ([`Precision::parse_name`]).
pub fn parse_dtype(s: &str) -> Result<DType> {
    match Precision::parse_name(s) {
        Some(Precision::F32) => Ok(DType::F32),
        Some(Precision::F16) => Ok(DType::F16),
        Some(Precision::Bf16) => Ok(DType::BF16),
        None => Err(error::usage(format!(
            "invalid --dtype `{s}`: expected f32, f16 or bf16"
        ))),
    }
}

pub fn shapes(sd: &StateDict) -> Vec<(String, Vec<i64>)> {
    sd.tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.iter().map(|&d| d as i64).collect()))
        .collect()
}

/// `arch` with the class count of the file's classifier, so that a
/// checkpoint fine-tuned to another number of classes still fits.
fn with_classes(arch: &ArchSpec, found: &[(String, Vec<i64>)]) -> ArchSpec {
    let mut a = arch.clone();
    let classes = found
        .iter()
        .find(|(k, _)| k == "classifier.weight")
        .and_then(|(_, s)| s.first().copied());
    if let Some(n) = classes.filter(|&n| n > 0) {
        a.num_classes = n as usize;
    }
    a
}

/// `spec`'s architecture (with the file's class count) if the state dict
/// fits it, else a bad-input error naming every problem.
pub fn fit(spec: &ModelSpec, found: &[(String, Vec<i64>)], file: &Path) -> Result<ArchSpec> {
    let arch = with_classes(&spec.arch, found);
    let report = LoadReport::compare(&parameter_shapes(&arch), found);
    if !report.is_strict_ok() {
        return Err(error::bad_input(format!(
            "weights file {} does not fit model `{}`: {}",
            file.display(),
            spec.name,
            report.summary()
        )));
    }
    Ok(arch)
}

/// The registry model a state dict fits, named or inferred from the shapes.
pub fn choose_model<'r>(
    registry: &'r Registry,
    found: &[(String, Vec<i64>)],
    model: Option<&str>,
    file: &Path,
) -> Result<(&'r ModelSpec, ArchSpec)> {
    if let Some(name) = model {
        let spec = registry.get(name)?;
        return Ok((spec, fit(spec, found, file)?));
    }
    let mut scored: Vec<(usize, &ModelSpec, ArchSpec, LoadReport)> = registry
        .models()
        .iter()
        .map(|spec| {
            let arch = with_classes(&spec.arch, found);
            let report = LoadReport::compare(&parameter_shapes(&arch), found);
            let problems = report.missing.iter().filter(|m| !is_nbt(m)).count()
                + report.unexpected.len()
                + report.mismatched.len();
            (problems, spec, arch, report)
        })
        .collect();
    scored.sort_by_key(|(p, ..)| *p);
    match scored.first() {
        Some((0, spec, arch, _)) => Ok((*spec, arch.clone())),
        Some((_, spec, _, report)) => Err(error::bad_input(format!(
            "weights file {} matches no known model; closest is `{}`: {}; pass --model NAME if it is that model",
            file.display(),
            spec.name,
            report.summary()
        ))),
        None => Err(error::usage("the registry holds no models")),
    }
}

/// Reads `input` (any supported format), validates it against its model and
/// writes `output` atomically as safetensors in timm's names. With
/// `reject_non_finite`, NaN or infinite values or negative BatchNorm
/// variances (in `dtype`) are an error and nothing is written; otherwise
/// [`Converted::health`] reports them.
pub fn convert_file(
    registry: &Registry,
    input: &Path,
    output: &Path,
    model: Option<&str>,
    dtype: DType,
    reject_non_finite: bool,
) -> Result<Converted> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(error::usage(format!(
                "the output {} is the input file; choose another output path",
                output.display()
            )));
        }
    }
    let sd = weights::read_any(input)?;
    let (spec, arch) = choose_model(registry, &shapes(&sd), model, input)?;
    write_converted(
        sd,
        spec,
        &arch,
        input,
        output,
        dtype,
        None,
        reject_non_finite,
    )
}

/// As [`convert_file`] for a known model (what `dpn fetch` does after a
/// download, passing the digest it has just verified).
pub fn convert_for(
    spec: &ModelSpec,
    input: &Path,
    output: &Path,
    dtype: DType,
    source_sha256: Option<String>,
) -> Result<Converted> {
    let sd = weights::read_any(input)?;
    let arch = fit(spec, &shapes(&sd), input)?;
    write_converted(sd, spec, &arch, input, output, dtype, source_sha256, false)
}

/// Reads `input` and checks that it holds `spec`'s tensors, names and
/// shapes (what a download must pass before it enters the cache); returns
/// the architecture it fits. Nothing is written.
pub fn check_for(spec: &ModelSpec, input: &Path) -> Result<ArchSpec> {
    let sd = weights::read_any(input)?;
    fit(spec, &shapes(&sd), input)
}

#[allow(clippy::too_many_arguments)]
fn write_converted(
    sd: StateDict,
    spec: &ModelSpec,
    arch: &ArchSpec,
    input: &Path,
    output: &Path,
    dtype: DType,
    source_sha256: Option<String>,
    reject_non_finite: bool,
) -> Result<Converted> {
    let expected = parameter_shapes(arch);

    // timm's order; absent num_batches_tracked buffers become 0, as
    // PyTorch >= 0.4.1 initializes them.
    let mut added_nbt = 0;
    let mut tensors = Vec::with_capacity(expected.len());
    // Owned and by name: each tensor moves into the output (no copy unless
    // it is cast), and the lookups are not a scan per parameter.
    let mut by_name: std::collections::HashMap<String, RawTensor> =
        sd.tensors.into_iter().collect();
    for p in &expected {
        let t = match by_name.remove(&p.name) {
            Some(t) if is_nbt(&p.name) => RawTensor {
                dtype: DType::I64,
                shape: vec![],
                data: nbt_bytes(&t),
            },
            Some(t) => t.into_cast(dtype),
            None => {
                added_nbt += 1;
                RawTensor {
                    dtype: DType::I64,
                    shape: vec![],
                    data: 0i64.to_le_bytes().to_vec(),
                }
            }
        };
        tensors.push((p.name.clone(), t));
    }
    // What the output will hold, one tensor at a time.
    let mut health = Health::default();
    for (name, t) in tensors.iter().filter(|(_, t)| t.dtype.is_float()) {
        let h = health::check([(name.as_str(), &to_tch(t)?)])?;
        health.non_finite.extend(h.non_finite);
        health.negative_var.extend(h.negative_var);
    }
    if reject_non_finite {
        health.verdict(input, true)?;
    }
    let source_sha256 = match source_sha256 {
        Some(d) => d,
        None => crate::sys::digest::file_sha256(input)?.0,
    };
    let mut out = StateDict {
        tensors,
        metadata: Default::default(),
    };
    let source_name = input
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    for (k, v) in [
        (meta::FORMAT, "pt".to_string()),
        (meta::MODEL, spec.name.clone()),
        (meta::NUM_CLASSES, arch.num_classes.to_string()),
        (meta::SOURCE_FILE, source_name),
        (meta::SOURCE_SHA256, source_sha256.clone()),
        (meta::VERSION, env!("CARGO_PKG_VERSION").to_string()),
    ] {
        out.metadata.insert(k.to_string(), v);
    }
    weights::write_safetensors(output, &out)?;
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    Ok(Converted {
        model: spec.name.clone(),
        num_classes: arch.num_classes,
        tensors: out.tensors.len(),
        dtype,
        source_sha256,
        bytes,
        added_nbt,
        health,
    })
}

/// A `num_batches_tracked` value of any integer width as an i64 scalar.
fn nbt_bytes(t: &RawTensor) -> Vec<u8> {
    let v: i64 = match (t.dtype, t.data.as_slice()) {
        (DType::I64, d) if d.len() >= 8 => i64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8])),
        (DType::I32, d) if d.len() >= 4 => {
            i32::from_le_bytes(d[..4].try_into().unwrap_or([0; 4])) as i64
        }
        _ => 0,
    };
    v.to_le_bytes().to_vec()
}

/// The exact size of the safetensors file of a model's state dict in `dtype`
/// (buffers as converted files hold them), without metadata. Laid out by the
/// safetensors crate's own header code, so it equals what writing the file
/// produces, without allocating the tensors.
pub fn safetensors_size(arch: &ArchSpec, dtype: DType) -> Result<u64> {
    use safetensors::tensor::{Metadata, TensorInfo};
    use safetensors::Dtype;
    let float = match dtype {
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        _ => Dtype::F32,
    };
    let mut entries: Vec<(String, Dtype, Vec<usize>)> = parameter_shapes(arch)
        .into_iter()
        .map(|p| {
            let dt = if is_nbt(&p.name) { Dtype::I64 } else { float };
            (p.name, dt, p.shape.iter().map(|&d| d as usize).collect())
        })
        .collect();
    // The crate's order: descending dtype, then name.
    entries.sort_by(|(ln, ld, _), (rn, rd, _)| rd.cmp(ld).then(ln.cmp(rn)));
    let mut offset = 0usize;
    let infos: Vec<(String, TensorInfo)> = entries
        .into_iter()
        .map(|(name, dtype, shape)| {
            let n = shape.iter().product::<usize>() * dtype.bitsize() / 8;
            let info = TensorInfo {
                dtype,
                shape,
                data_offsets: (offset, offset + n),
            };
            offset += n;
            (name, info)
        })
        .collect();
    let header = serde_json::to_string(&Metadata::new(None, infos)?)?;
    Ok((8 + header.len().next_multiple_of(8) + offset) as u64)
}
