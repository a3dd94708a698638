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

/// segments.csv: one row per process that trained in the run folder and
/// whose work the run keeps, so that a resumed run shows where it was
/// resumed (steps.csv and metrics.csv read as one uninterrupted run). A
/// start drops the rows from its own update on, as steps.csv drops those
/// updates, and appends its own: the time it started (RFC 3339, UTC), the
/// update, epoch (completed) and step it starts from, and how many updates
/// steps.csv held then (more than `update` when the process before it was
/// killed past its last checkpoint and those updates are done again).
pub const SEGMENTS_FILE: &str = "segments.csv";
pub const SEGMENTS_HEADER: &str = "started,update,epoch,step,logged_before";

/// Records that a process starts (or resumes) training at `epoch`, `step`
/// (update `upto`); call it before [`open_steps`] truncates steps.csv.
pub fn record_segment(output: &Path, epoch: u64, step: u64, upto: u64) -> Result<()> {
    let path = output.join(SEGMENTS_FILE);
    let mut keep = String::from(SEGMENTS_HEADER);
    keep.push('\n');
    if let Ok(text) = fs::read_to_string(&path) {
        for line in text.lines().skip(1) {
            let u = line.split(',').nth(1).and_then(|f| f.parse::<u64>().ok());
            if u.is_some_and(|u| u < upto) {
                keep.push_str(line);
                keep.push('\n');
            }
        }
    }
    let logged = logged_updates(&output.join(STEPS_FILE));
    keep.push_str(&format!(
        "{},{upto},{epoch},{step},{logged}\n",
        crate::sys::time::now_rfc3339()
    ));
    write_atomic(&path, keep.as_bytes())
}

/// The updates steps.csv holds (its last line's update + 1; 0 without
/// one), read from the file's tail: an ImageNet run's log is long.
fn logged_updates(path: &Path) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = fs::File::open(path) else {
        return 0;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let from = len.saturating_sub(4096);
    let mut tail = String::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_string(&mut tail).is_err() {
        return 0;
    }
    tail.lines()
        .rev()
        .find_map(|l| l.split(',').next()?.parse::<u64>().ok())
        .map_or(0, |u| u + 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(dir: &Path) -> Vec<Vec<String>> {
        fs::read_to_string(dir.join(SEGMENTS_FILE))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').skip(1).map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn segments_keep_what_a_resume_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        record_segment(out, 0, 0, 0).unwrap();
        let steps: String = (0..10).map(|u| format!("{u},0,{u},0.1,2.0,16\n")).collect();
        fs::write(out.join(STEPS_FILE), format!("{STEPS_HEADER}\n{steps}")).unwrap();
        // Killed after update 9; resumed from the checkpoint at update 5.
        record_segment(out, 1, 0, 5).unwrap();
        assert_eq!(rows(out), [["0", "0", "0", "0"], ["5", "1", "0", "10"]]);
        // Resumed again from update 5: the row of the process that kept nothing goes.
        record_segment(out, 1, 0, 5).unwrap();
        assert_eq!(rows(out), [["0", "0", "0", "0"], ["5", "1", "0", "10"]]);
        // A start over from update 0 (no checkpoint) leaves one row.
        record_segment(out, 0, 0, 0).unwrap();
        assert_eq!(rows(out), [["0", "0", "0", "10"]]);
    }
}
