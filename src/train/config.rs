//! The resolved settings of a training run, as state.json keeps them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sched::SchedKind;

/// Every setting that decides what a run computes (and a few that do not:
/// workers, device), with defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: String,
    pub data: PathBuf,
    pub val_data: Option<PathBuf>,
    pub val_split: Option<f64>,
    pub num_classes: usize,
    /// Where the starting weights came from ("scratch", or a file path).
    pub init: String,
    pub epochs: u64,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub sched: SchedKind,
    pub warmup_epochs: u64,
    pub warmup_lr: f64,
    pub min_lr: f64,
    pub decay_epochs: u64,
    pub decay_rate: f64,
    pub label_smoothing: f64,
    pub img_size: usize,
    pub scale: (f64, f64),
    pub ratio: (f64, f64),
    pub hflip: f64,
    pub crop_pct: f64,
    /// "f32" (no AMP), "bf16" or "f16".
    pub amp: String,
    pub channels_last: bool,
    pub device: String,
    pub seed: u64,
    pub workers: usize,
    pub strict: bool,
    /// Processes the run is data-parallel over (1 without a launcher);
    /// `batch_size` is per process.
    #[serde(default = "one")]
    pub world_size: usize,
    /// What happens to BatchNorm's running statistics at the end of each
    /// epoch of a distributed run (timm's `--dist-bn`): "reduce" (averaged
    /// over the ranks), "broadcast" (rank 0's) or "none".
    #[serde(default = "reduce")]
    pub dist_bn: String,
    /// BatchNorm statistics over every rank's batch (SyncBatchNorm).
    #[serde(default)]
    pub sync_bn: bool,
}

fn one() -> usize {
    1
}

fn reduce() -> String {
    "reduce".into()
}
