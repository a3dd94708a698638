//! A ready-to-run model from a registry spec and a weights file: the one path
//! every subcommand that runs a network takes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use tch::{nn, Device};

use crate::convert::choose_model;
use crate::model::{load_state_dict, Dpn, LoadReport};
use crate::registry::{ArchSpec, ModelSpec, Registry};
use crate::weights::{self, to_tch};

pub struct Loaded {
    pub vs: nn::VarStore,
    pub model: Dpn,
    /// The spec's architecture with the class count of the weights.
    pub arch: ArchSpec,
    pub report: LoadReport,
    /// Reading the file and copying it into the model.
    pub load_time: Duration,
}

/// Builds `spec`'s network and loads `path` (any format `dpn convert`
/// reads) into it strictly, on `device`. A file fine-tuned to another class
/// count gets a classifier of that size.
pub fn load_model(registry: &Registry, spec: &ModelSpec, path: &Path, device: Device) -> Result<Loaded> {
    let t0 = Instant::now();
    let sd = weights::read_any(path)?;
    let (_, arch) = choose_model(registry, &sd, Some(&spec.name), path)?;
    let tensors = sd
        .tensors
        .iter()
        .map(|(k, t)| Ok((k.clone(), to_tch(t)?)))
        .collect::<Result<Vec<_>>>()?;
    drop(sd);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = Dpn::new(&vs.root(), &arch);
    let report = load_state_dict(&mut vs, &tensors, true)?;
    drop(tensors);
    if device != Device::Cpu {
        vs.set_device(device);
    }
    Ok(Loaded { vs, model, arch, report, load_time: t0.elapsed() })
}
