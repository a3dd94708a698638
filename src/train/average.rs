//! `dpn average`: the mean of checkpoints' weights, as timm's
//! `avg_checkpoints.py` computes it: every tensor of the state dict
//! (BatchNorm statistics and `num_batches_tracked` included) summed in
//! f64, divided by the number of checkpoints, clamped to f32's range and
//! stored as f32. `num_batches_tracked` stays an integer here (timm stores
//! it as f32, which `load_state_dict` casts back): the f32 mean, truncated,
//! which is what loading timm's file gives.
//!
//! Inputs: a run folder (`dpn train`'s output: its `-n` best epoch
//! checkpoints by the run's `--eval-metric`, as the script sorts by the
//! recorded metric), checkpoint folders, or weights files. A checkpoint
//! with an EMA (`<checkpoint>/ema`) gives the EMA's weights unless
//! `use_ema` is off (the script's `--no-use-ema`). The metadata (model,
//! classes, preprocessing) is the first input's, so every subcommand and
//! timm load the result.

use std::path::{Path, PathBuf};

use anyhow::Result;
use tch::{Kind, Tensor};

use super::checkpoint::{CHECKPOINTS_DIR, MODEL_FILE, STATE_FILE};
use super::ema::EMA_DIR;
use super::history;
use crate::sys::error;
use crate::weights::{self, from_tch, to_tch, StateDict};

/// The weights files to average, with the metric each was chosen by.
pub struct Selection {
    pub files: Vec<(PathBuf, Option<f64>)>,
}

/// The weights file of input `path`: itself, or a checkpoint folder's
/// model (its EMA's when it has one and `use_ema`).
fn weights_of(path: &Path, use_ema: bool) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join(MODEL_FILE).is_file() {
        let ema = path.join(EMA_DIR).join(MODEL_FILE);
        return Ok(if use_ema && ema.is_file() {
            ema
        } else {
            path.join(MODEL_FILE)
        });
    }
    if !path.exists() {
        return Err(error::usage(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    Err(error::bad_input(format!(
        "{}: neither a weights file, a checkpoint folder (no {MODEL_FILE}) nor a dpn train run \
         folder (no {CHECKPOINTS_DIR}/)",
        path.display()
    )))
}

/// What to average: with one run folder, its `n` best epoch checkpoints by
/// the run's eval metric; else the inputs as given.
pub fn select(inputs: &[PathBuf], n: usize, use_ema: bool) -> Result<Selection> {
    if let [run] = inputs {
        if run.join(CHECKPOINTS_DIR).is_dir() && !run.join(MODEL_FILE).is_file() {
            let metric = run_metric(run);
            let ranked = history::ranked(run, &metric);
            if ranked.is_empty() {
                return Err(error::bad_input(format!(
                    "{}: no epoch checkpoint with a recorded {metric} under {CHECKPOINTS_DIR}/",
                    run.display()
                )));
            }
            let files = ranked
                .into_iter()
                .take(n.max(1))
                .map(|r| Ok((weights_of(&r.dir, use_ema)?, Some(r.metric))))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Selection { files });
        }
    }
    let files = inputs
        .iter()
        .map(|p| Ok((weights_of(p, use_ema)?, None)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Selection { files })
}

/// The eval metric a run folder's newest checkpoint records (top1 for
/// runs before `--eval-metric`).
fn run_metric(run: &Path) -> String {
    let v: serde_json::Value = std::fs::read(run.join("last").join(STATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    v["config"]["eval_metric"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("top1")
        .to_string()
}

/// The mean of `files`' tensors (same names and shapes in each) with the
/// first file's metadata.
pub fn average(files: &[PathBuf]) -> Result<StateDict> {
    let Some(first) = files.first() else {
        return Err(error::usage("nothing to average"));
    };
    let read = |p: &Path| {
        weights::read_safetensors(p)
            .map_err(|e| error::bad_input(format!("{}: {e:#}", p.display())))
    };
    let base = read(first)?;
    let mut sums: Vec<(String, Tensor, Kind)> = Vec::new();
    for (name, raw) in &base.tensors {
        let t = to_tch(raw)?;
        let kind = t.kind();
        sums.push((name.clone(), t.to_kind(Kind::Double), kind));
    }
    for path in &files[1..] {
        let sd = read(path)?;
        if sd.tensors.len() != sums.len() {
            return Err(error::bad_input(format!(
                "{}: {} tensors, {} has {}; checkpoints to average must be of one model",
                path.display(),
                sd.tensors.len(),
                first.display(),
                sums.len()
            )));
        }
        for (name, raw) in &sd.tensors {
            let Some((_, sum, _)) = sums.iter_mut().find(|(k, _, _)| k == name) else {
                return Err(error::bad_input(format!(
                    "{}: tensor {name} is not in {}; checkpoints to average must be of one model",
                    path.display(),
                    first.display()
                )));
            };
            let t = to_tch(raw)?;
            if t.size() != sum.size() {
                return Err(error::bad_input(format!(
                    "{}: {name} has shape {:?}, {:?} in {}",
                    path.display(),
                    t.size(),
                    sum.size(),
                    first.display()
                )));
            }
            *sum += t.to_kind(Kind::Double);
        }
    }
    let n = files.len() as f64;
    let (lo, hi) = (f32::MIN as f64, f32::MAX as f64);
    let mut out = StateDict {
        tensors: Vec::new(),
        metadata: base.metadata.clone(),
    };
    for (name, sum, kind) in sums {
        let mean = (sum / n).clamp(lo, hi).to_kind(Kind::Float);
        let t = if matches!(
            kind,
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ) {
            mean
        } else {
            mean.to_kind(kind)
        };
        out.tensors.push((name, from_tch(&t)?));
    }
    Ok(out)
}
