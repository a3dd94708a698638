//! Which checkpoints a run keeps: timm's `CheckpointSaver` keeps the
//! `--checkpoint-hist` best epoch checkpoints by the eval metric
//! (timm/utils/checkpoint_saver.py: sorted by metric, `decreasing` for
//! `loss`, ties keep the older one) and names the best `model_best`; dpn
//! keeps those epoch folders under `checkpoints/`, besides `last`, and
//! points `best` at the first of them.
//!
//! The ranking is read from the checkpoints themselves (each state.json
//! holds its epoch's metrics row), so a resumed run, an older run folder or
//! a changed `--checkpoint-hist` need no other record.
//!
//! The metric of an epoch is timm's `eval_metrics[eval_metric]`: the EMA's
//! validation when the run validates an EMA (train.py replaces the model's
//! metrics by the EMA's), else the model's; `loss` without validation is
//! the training loss.

use std::fs;
use std::path::{Path, PathBuf};

use super::checkpoint::{EpochMetrics, CHECKPOINTS_DIR, STATE_FILE};

/// The value of `metric` (top1, top5, loss) in an epoch's row.
pub fn row_metric(row: &EpochMetrics, metric: &str) -> Option<f64> {
    let ema = row.ema_top1.is_some();
    let v = match (metric, ema) {
        ("top5", true) => row.ema_top5,
        ("top5", false) => row.top5,
        ("loss", true) => row.ema_val_loss,
        ("loss", false) => row.val_loss.or(Some(row.train_loss)),
        (_, true) => row.ema_top1,
        _ => row.top1,
    };
    v.filter(|v| v.is_finite())
}

/// Whether metric value `a` is better than `b` (`loss` is lower-better).
pub fn better(metric: &str, a: f64, b: f64) -> bool {
    if metric == "loss" {
        a < b
    } else {
        a > b
    }
}

/// An epoch checkpoint of a run and its metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub dir: PathBuf,
    pub epoch: u64,
    pub metric: f64,
}

/// The epoch checkpoints under `output/checkpoints` with a metric, best
/// first (ties: the older first, as timm's stable sort).
pub fn ranked(output: &Path, metric: &str) -> Vec<Ranked> {
    let mut all = Vec::new();
    let Ok(entries) = fs::read_dir(output.join(CHECKPOINTS_DIR)) else {
        return all;
    };
    for e in entries.flatten() {
        let dir = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if let Some((epoch, row)) = epoch_row(&dir) {
            if let Some(m) = row_metric(&row, metric) {
                all.push(Ranked {
                    dir,
                    epoch,
                    metric: m,
                });
            }
        }
    }
    all.sort_by(|a, b| {
        let ord = a.metric.total_cmp(&b.metric);
        let ord = if metric == "loss" { ord } else { ord.reverse() };
        ord.then(a.epoch.cmp(&b.epoch))
    });
    all
}

/// The epoch and metrics row of an end-of-epoch checkpoint folder (none
/// for mid-epoch ones and unreadable ones).
fn epoch_row(dir: &Path) -> Option<(u64, EpochMetrics)> {
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(STATE_FILE)).ok()?).ok()?;
    if v["step_in_epoch"].as_u64()? != 0 || v["reason"].as_str()? != "epoch" {
        return None;
    }
    let epoch = v["epoch"].as_u64()?;
    let row: EpochMetrics =
        serde_json::from_value(v["history"].as_array()?.last()?.clone()).ok()?;
    (row.epoch == epoch).then_some((epoch, row))
}

/// The `n` best epoch checkpoints of `output` (at least the best one).
pub fn kept(output: &Path, n: usize, metric: &str) -> Vec<PathBuf> {
    ranked(output, metric)
        .into_iter()
        .take(n.max(1))
        .map(|r| r.dir)
        .collect()
}
