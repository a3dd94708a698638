//! A ready-to-run model from a registry spec and a weights file: the one path
//! every subcommand that runs a network takes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use safetensors::SafeTensors;
use tch::{nn, Device, Tensor};

use crate::arch::ArchSpec;
use crate::model::{load_state_dict, Dpn, LoadReport};
use crate::registry::{ModelSpec, Registry};
use crate::sys::error;
use crate::weights::convert::{choose_model, shapes};
use crate::weights::health::{self, Health};
use crate::weights::{self, kind_of, to_tch, Format};

pub struct Loaded {
    pub vs: nn::VarStore,
    pub model: Dpn,
    /// The spec's architecture with the class count of the weights.
    pub arch: ArchSpec,
    pub report: LoadReport,
    /// NaN/infinite values and negative BatchNorm variances in the loaded
    /// variables; the caller warns or refuses ([`Health::verdict`]).
    pub health: Health,
    /// Reading the file and copying it into the model.
    pub load_time: Duration,
}

/// Builds `spec`'s network and loads `path` (any format `dpn convert`
/// reads) into it strictly, on `device`. A file fine-tuned to another class
/// count gets a classifier of that size. Every variable is checked for NaN
/// and infinite values (after the cast to the model's dtype) and every
/// BatchNorm running variance for negative values ([`Loaded::health`]).
pub fn load_model(
    registry: &Registry,
    spec: &ModelSpec,
    path: &Path,
    device: Device,
) -> Result<Loaded> {
    let t0 = Instant::now();
    let (vs, model, arch, report) = match weights::detect_format(path)? {
        Format::Safetensors => load_safetensors(registry, spec, path)?,
        Format::PthZip | Format::PthLegacy => {
            let sd = weights::read_any(path)?;
            let (_, arch) = choose_model(registry, &shapes(&sd), Some(&spec.name), path)?;
            let tensors = sd
                .tensors
                .iter()
                .map(|(k, t)| Ok((k.clone(), to_tch(t)?)))
                .collect::<Result<Vec<_>>>()?;
            drop(sd);
            let mut vs = nn::VarStore::new(Device::Cpu);
            let model = Dpn::new_for_loading(&vs.root(), &arch);
            let report = load_state_dict(&mut vs, &model, &tensors, true)?;
            (vs, model, arch, report)
        }
    };
    let variables = vs.variables();
    let health = health::check(
        model
            .keys()
            .iter()
            .filter_map(|k| variables.get(k).map(|t| (k.as_str(), t))),
    )?;
    drop(variables);
    let mut vs = vs;
    if device != Device::Cpu {
        vs.set_device(device);
    }
    Ok(Loaded {
        vs,
        model,
        arch,
        report,
        health,
        load_time: t0.elapsed(),
    })
}

/// The fast path: tensors are viewed in place in the memory-mapped file and
/// copied once, straight into the model's variables.
fn load_safetensors(
    registry: &Registry,
    spec: &ModelSpec,
    path: &Path,
) -> Result<(nn::VarStore, Dpn, ArchSpec, LoadReport)> {
    let map = weights::map_file(path)?;
    let st = SafeTensors::deserialize(&map).map_err(|e| {
        error::bad_input(format!(
            "weights file {}: not a valid safetensors file ({e})",
            path.display()
        ))
    })?;
    let found: Vec<(String, Vec<i64>)> = st
        .iter()
        .map(|(k, v)| (k.to_string(), v.shape().iter().map(|&d| d as i64).collect()))
        .collect();
    let (_, arch) = choose_model(registry, &found, Some(&spec.name), path)?;
    let mut views = Vec::with_capacity(found.len());
    for (name, view) in st.iter() {
        let dtype = weights::safetensors_dtype(view.dtype()).map_err(|e| {
            error::bad_input(format!(
                "weights file {}: tensor '{name}': {e}",
                path.display()
            ))
        })?;
        let size: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let data = view.data();
        // from_blob needs element alignment; the safetensors layout gives it
        // in files written by the safetensors library, but a hand-made file
        // may not, so fall back to a copy.
        let t = if (data.as_ptr() as usize) % dtype.size() == 0 {
            let strides = contiguous_strides(&size);
            // SAFETY: `data` lives in `map`, which outlives every use of `t`
            // (the copy into the model below); the length was checked by the
            // safetensors parser against shape and dtype.
            unsafe {
                Tensor::f_from_blob(data.as_ptr(), &size, &strides, kind_of(dtype), Device::Cpu)?
            }
        } else {
            Tensor::f_from_data_size(data, &size, kind_of(dtype))?
        };
        views.push((name.to_string(), t));
    }
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = Dpn::new_for_loading(&vs.root(), &arch);
    let report = load_state_dict(&mut vs, &model, &views, true)?;
    drop(views);
    drop(map);
    Ok((vs, model, arch, report))
}

fn contiguous_strides(size: &[i64]) -> Vec<i64> {
    let mut strides = vec![1i64; size.len()];
    for i in (0..size.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * size[i + 1].max(1);
    }
    strides
}
