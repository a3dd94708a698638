//! What a run writes beside its checkpoints: `steps.csv` (one line per
//! update) and `metrics.csv` (one row per epoch, the table `dpn train`
//! prints).

use std::fs::{self, OpenOptions};
use std::path::Path;

use anyhow::{Context, Result};

use super::checkpoint::EpochMetrics;
use crate::output::{Cell, Column, Format, Table};
use crate::sys::output_path::write_atomic;

/// Header of steps.csv (one line per optimizer step).
pub const STEPS_HEADER: &str = "update,epoch,step,lr,loss,images";
pub const STEPS_FILE: &str = "steps.csv";
pub const METRICS_FILE: &str = "metrics.csv";

/// Keeps the lines of steps.csv before update `upto` (a resumed run
/// rewrites the rest) and opens it for appending.
pub fn open_steps(output: &Path, upto: u64) -> Result<fs::File> {
    let path = output.join(STEPS_FILE);
    let mut keep = String::from(STEPS_HEADER);
    keep.push('\n');
    if let Ok(text) = fs::read_to_string(&path) {
        for line in text.lines().skip(1) {
            let u = line.split(',').next().and_then(|f| f.parse::<u64>().ok());
            if u.is_some_and(|u| u < upto) {
                keep.push_str(line);
                keep.push('\n');
            }
        }
    }
    write_atomic(&path, keep.as_bytes())?;
    OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// metrics.csv from the history (rewritten whole, atomically).
pub fn write_metrics(output: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut bytes = Vec::new();
    metrics_table(history).write(Format::Csv, &mut bytes)?;
    write_atomic(&output.join(METRICS_FILE), &bytes)
}

/// The per-epoch metrics as a table: metrics.csv, and what `dpn train` prints.
/// A run with a validated EMA (`--model-ema`) has three more columns, last:
/// ema_val_loss, ema_top1, ema_top5.
pub fn metrics_table(history: &[EpochMetrics]) -> Table {
    let ema = history.iter().any(|m| m.ema_top1.is_some());
    let mut columns = vec![
        Column::new("epoch", "Epoch", true),
        Column::new("lr", "LR", true),
        Column::new("train_loss", "Train loss", true),
        Column::new("val_loss", "Val loss", true),
        Column::new("top1", "Top-1", true),
        Column::new("top5", "Top-5", true),
        Column::new("images_per_s", "img/s", true),
        Column::new("seconds", "Seconds", true),
        Column::new("skipped", "Skipped", true),
    ];
    if ema {
        columns.extend([
            Column::new("ema_val_loss", "EMA val loss", true),
            Column::new("ema_top1", "EMA top-1", true),
            Column::new("ema_top5", "EMA top-5", true),
        ]);
    }
    let mut t = Table::new(columns);
    let pct = |v: f64| format!("{v:.2}%");
    for m in history {
        let mut row = vec![
            Cell::plain(m.epoch),
            Cell::new(m.lr, format!("{:.5}", m.lr)),
            Cell::new(m.train_loss, format!("{:.4}", m.train_loss)),
            Cell::opt(m.val_loss, |v| format!("{v:.4}")),
            Cell::opt(m.top1, pct),
            Cell::opt(m.top5, pct),
            Cell::new(m.images_per_s, format!("{:.1}", m.images_per_s)),
            Cell::new(m.seconds, format!("{:.1}", m.seconds)),
            Cell::plain(m.skipped),
        ];
        if ema {
            row.extend([
                Cell::opt(m.ema_val_loss, |v| format!("{v:.4}")),
                Cell::opt(m.ema_top1, pct),
                Cell::opt(m.ema_top5, pct),
            ]);
        }
        t.push(row);
    }
    t
}
