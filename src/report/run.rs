//! The page of one or more `dpn train` run folders: what `metrics.csv`,
//! `steps.csv` and `run.json` hold (see `train::logs` and
//! `train::checkpoint` for their layout), drawn.
//!
//! The files are read by their column names, not through `train`'s types,
//! so the report stays beside `train` in the layering and reads run
//! folders of older versions (a missing column is an empty series).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use maud::{html, Markup};

use super::chart::{line_chart_marked, num, LineChart, Series};
use super::page;
use crate::sys::error;

/// One epoch's row of metrics.csv (columns by name; absent ones are None).
#[derive(Debug, Clone, Default)]
pub struct EpochRow {
    pub values: BTreeMap<String, f64>,
}

impl EpochRow {
    pub fn get(&self, k: &str) -> Option<f64> {
        self.values.get(k).copied()
    }
}

/// What the report reads of one run folder.
#[derive(Debug, Clone)]
pub struct RunData {
    pub name: String,
    pub dir: PathBuf,
    pub epochs: Vec<EpochRow>,
    /// (update, lr, loss) per optimizer step.
    pub steps: Vec<(f64, f64, f64)>,
    /// run.json's top-level settings, as compact JSON text.
    pub settings: BTreeMap<String, String>,
    /// segments.csv: where each process that trained the run started
    /// (empty for runs of versions that did not record it).
    pub segments: Vec<Segment>,
    /// Updates per epoch, from steps.csv's step column.
    pub updates_per_epoch: Option<f64>,
}

/// One row of segments.csv (see `train::logs::record_segment`).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// When the process started, RFC 3339.
    pub started: String,
    /// The update it started from.
    pub update: u64,
    /// Epochs completed before it.
    pub epoch: u64,
    /// Its first step in the epoch.
    pub step: u64,
    /// The updates steps.csv held when it started.
    pub logged_before: u64,
}

impl Segment {
    /// Updates an earlier process did past this start that are done again
    /// (it was killed after its last checkpoint).
    pub fn redone(&self) -> u64 {
        self.logged_before.saturating_sub(self.update)
    }

    /// Where it started, in words.
    pub fn place(&self) -> String {
        if self.step == 0 {
            format!("update {} (start of epoch {})", self.update, self.epoch + 1)
        } else {
            format!(
                "update {} (epoch {}, step {})",
                self.update,
                self.epoch + 1,
                self.step
            )
        }
    }
}

/// segments.csv's rows; rows that do not parse are left out (the file only
/// adds to the page), a missing file is no rows.
fn read_segments(path: &Path) -> Result<Vec<Segment>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = match r.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(_) => return Ok(Vec::new()),
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(started), Some(update), Some(epoch), Some(step), Some(logged)) = (
        col("started"),
        col("update"),
        col("epoch"),
        col("step"),
        col("logged_before"),
    ) else {
        return Ok(Vec::new());
    };
    let rows = r
        .records()
        .flatten()
        .filter_map(|rec| {
            let n = |i: usize| rec.get(i)?.parse::<u64>().ok();
            Some(Segment {
                started: rec.get(started)?.to_string(),
                update: n(update)?,
                epoch: n(epoch)?,
                step: n(step)?,
                logged_before: n(logged)?,
            })
        })
        .collect();
    Ok(rows)
}

fn read_csv(path: &Path) -> Result<Option<Vec<BTreeMap<String, f64>>>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| error::bad_input(format!("{}: {e}", path.display())))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| error::bad_input(format!("{}: {e}", path.display())))?;
        let row = header
            .iter()
            .zip(rec.iter())
            .filter_map(|(k, v)| v.parse::<f64>().ok().map(|v| (k.clone(), v)))
            .collect();
        rows.push(row);
    }
    Ok(Some(rows))
}

/// Reads a run folder; fails (bad input) when it has none of the files.
pub fn load(dir: &Path) -> Result<RunData> {
    let metrics = read_csv(&dir.join("metrics.csv"))?;
    let steps = read_csv(&dir.join("steps.csv"))?;
    let run_json = dir.join("run.json");
    let settings = match fs::read(&run_json) {
        Ok(bytes) => {
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                error::bad_input(format!("{}: invalid run settings: {e}", run_json.display()))
            })?;
            v.as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
                .unwrap_or_default()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", run_json.display())),
    };
    if metrics.is_none() && steps.is_none() && settings.is_empty() {
        return Err(error::bad_input(format!(
            "{}: not a dpn train run folder (no metrics.csv, steps.csv or run.json)",
            dir.display()
        )));
    }
    let segments = read_segments(&dir.join("segments.csv"))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let steps = steps.unwrap_or_default();
    let updates_per_epoch = steps
        .iter()
        .filter_map(|r| r.get("step").copied())
        .reduce(f64::max)
        .map(|s| s + 1.0);
    let steps = steps
        .into_iter()
        .filter_map(|r| Some((r.get("update")?.to_owned(), *r.get("lr")?, *r.get("loss")?)))
        .collect();
    Ok(RunData {
        name,
        dir: dir.to_path_buf(),
        epochs: metrics
            .unwrap_or_default()
            .into_iter()
            .map(|values| EpochRow { values })
            .collect(),
        steps,
        settings,
        segments,
        updates_per_epoch,
    })
}

/// The epoch with the best validation top-1 (the first of equals, as
/// `--eval-metric top1` picks `best`).
pub fn best_epoch(run: &RunData) -> Option<(f64, f64)> {
    let mut best: Option<(f64, f64)> = None;
    for r in &run.epochs {
        if let (Some(e), Some(t)) = (r.get("epoch"), r.get("top1")) {
            if best.is_none_or(|(_, b)| t > b) {
                best = Some((e, t));
            }
        }
    }
    best
}

fn epoch_series(runs: &[RunData], col: &str, label: &str) -> Vec<Series> {
    runs.iter()
        .map(|r| Series {
            name: if label.is_empty() {
                r.name.clone()
            } else {
                format!("{} {label}", r.name)
            },
            points: r
                .epochs
                .iter()
                .filter_map(|e| Some((e.get("epoch")?, e.get(col)?)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// Gaps in the epochs or updates (a run resumed from an earlier
/// checkpoint, or metrics lost): listed so that they show.
fn gaps(run: &RunData) -> Vec<String> {
    let mut out = Vec::new();
    let epochs: Vec<f64> = run.epochs.iter().filter_map(|e| e.get("epoch")).collect();
    for w in epochs.windows(2) {
        if w[1] != w[0] + 1.0 {
            out.push(format!("epochs jump from {} to {}", num(w[0]), num(w[1])));
        }
    }
    for w in run.steps.windows(2) {
        if w[1].0 != w[0].0 + 1.0 {
            out.push(format!(
                "updates jump from {} to {}",
                num(w[0].0),
                num(w[1].0)
            ));
        }
    }
    out
}

/// What the run's segments say, one note each: its resumes, and work
/// done again after a kill.
fn resumes(run: &RunData) -> Vec<String> {
    let mut out = Vec::new();
    for (i, s) in run.segments.iter().enumerate() {
        let redone = match s.redone() {
            0 => String::new(),
            n if i == 0 => format!("; {n} updates of an earlier process discarded"),
            n => format!("; {n} updates past its last checkpoint done again"),
        };
        if i == 0 {
            if !redone.is_empty() {
                out.push(format!("started over{redone}"));
            }
        } else {
            out.push(format!("resumed at {}{redone}", s.place()));
        }
    }
    out
}

/// Dashed markers where runs were resumed: (x, label) on the per-update
/// charts (`by_update`) or the per-epoch ones (between the epochs' points:
/// epoch E's point is at x = E).
fn resume_markers(runs: &[RunData], by_update: bool) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    for r in runs {
        for s in r.segments.iter().skip(1) {
            let x = if by_update {
                s.update as f64
            } else {
                let frac = r
                    .updates_per_epoch
                    .filter(|u| *u > 0.0)
                    .map_or(0.0, |u| s.step as f64 / u);
                s.epoch as f64 + 0.5 + frac
            };
            let label = if runs.len() == 1 {
                "resumed".to_string()
            } else {
                format!("{} resumed", r.name)
            };
            out.push((x, label));
        }
    }
    out
}

fn f4(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}%")).unwrap_or_else(|| "-".into())
}

fn summary(runs: &[RunData]) -> Markup {
    let ema = runs
        .iter()
        .any(|r| r.epochs.iter().any(|e| e.get("ema_top1").is_some()));
    html! {
        table.summary {
            thead { tr {
                th { "run" } th { "epochs" } th { "best epoch" } th { "best top-1" }
                th { "last train loss" } th { "last val loss" } th { "last top-1" } th { "last top-5" }
                @if ema { th { "last EMA val loss" } th { "last EMA top-1" } th { "last EMA top-5" } }
                th { "segments" } th { "notes" }
            } }
            tbody {
                @for (i, r) in runs.iter().enumerate() {
                    @let last = r.epochs.last().cloned().unwrap_or_default();
                    @let best = best_epoch(r);
                    @let g = gaps(r);
                    @let res = resumes(r);
                    tr data-run=(i) {
                        td { (r.name) br; small { (r.dir.display().to_string()) } }
                        td data-k="epochs" { (r.epochs.len()) }
                        td data-k="best-epoch" { (best.map(|b| num(b.0)).unwrap_or_else(|| "-".into())) }
                        td data-k="best-top1" { (pct(best.map(|b| b.1))) }
                        td data-k="last-train-loss" { (f4(last.get("train_loss"))) }
                        td data-k="last-val-loss" { (f4(last.get("val_loss"))) }
                        td data-k="last-top1" { (pct(last.get("top1"))) }
                        td data-k="last-top5" { (pct(last.get("top5"))) }
                        @if ema {
                            td data-k="last-ema-val-loss" { (f4(last.get("ema_val_loss"))) }
                            td data-k="last-ema-top1" { (pct(last.get("ema_top1"))) }
                            td data-k="last-ema-top5" { (pct(last.get("ema_top5"))) }
                        }
                        td data-k="segments" { @if r.segments.is_empty() { "-" } @else { (r.segments.len()) } }
                        td data-k="notes" {
                            @if g.is_empty() && res.is_empty() { "continuous" }
                            @for n in &res { span.resume { (n) } br; }
                            @for n in &g { span.gap { (n) } br; }
                        }
                    }
                }
            }
        }
    }
}

fn settings_table(runs: &[RunData]) -> Markup {
    let keys: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|r| r.settings.keys()).collect();
    html! {
        @if !keys.is_empty() {
            h2 { "Settings" }
            @if runs.len() > 1 { p { "Settings that differ between the runs are marked " mark { "like this" } "." } }
            table.settings {
                thead { tr { th { "setting" } @for r in runs { th { (r.name) } } } }
                tbody {
                    @for k in &keys {
                        @let vals: Vec<&str> = runs.iter().map(|r| r.settings.get(*k).map_or("-", String::as_str)).collect();
                        @let differs = vals.windows(2).any(|w| w[0] != w[1]);
                        tr class=[differs.then_some("differs")] {
                            th { (k) }
                            @for v in &vals { td { @if differs { mark { (v) } } @else { (v) } } }
                        }
                    }
                }
            }
        }
    }
}

/// The processes that trained the runs, from segments.csv.
fn segments_table(runs: &[RunData]) -> Markup {
    html! {
        @if runs.iter().any(|r| r.segments.len() > 1 || !resumes(r).is_empty()) {
            h2 { "Interruptions and resumes" }
            p { "Each segment is one process that trained the run (segments.csv): where it started, and how far \
                 the run got before the next one took over. Updates an interrupted process did after its last \
                 checkpoint are done again by the next, and logged once." }
            table.segments {
                thead { tr {
                    th { "run" } th { "segment" } th { "started (UTC)" } th { "from" }
                    th { "to update" } th { "updates kept" } th { "updates done again" }
                } }
                tbody {
                    @for (i, r) in runs.iter().enumerate() {
                        @let last = r.steps.last().map(|s| s.0 as u64 + 1);
                        @for (j, s) in r.segments.iter().enumerate() {
                            @let to = r.segments.get(j + 1).map(|n| n.update).or(last).unwrap_or(s.update);
                            tr data-run=(i) data-segment=(j) {
                                td { (r.name) }
                                td { (j + 1) }
                                td data-k="started" { (s.started) }
                                td data-k="from" { (s.place()) }
                                td data-k="to" { (to) }
                                td data-k="kept" { (to.saturating_sub(s.update)) }
                                td data-k="redone" { (s.redone()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn epoch_table(run: &RunData) -> Markup {
    let cols: Vec<&String> = run
        .epochs
        .first()
        .map(|e| e.values.keys().collect())
        .unwrap_or_default();
    html! {
        details {
            summary { "metrics.csv of " (run.name) }
            table.numbers {
                thead { tr { @for c in &cols { th { (c) } } } }
                tbody { @for e in &run.epochs { tr { @for c in &cols { td { (e.get(c).map(num).unwrap_or_default()) } } } } }
            }
        }
    }
}

/// The whole page for `runs`.
pub fn render(runs: &[RunData]) -> String {
    let marker = |runs: &[RunData]| {
        (runs.len() == 1)
            .then(|| best_epoch(&runs[0]))
            .flatten()
            .map(|(e, _)| (e, format!("best epoch {}", num(e))))
    };
    let mut loss = epoch_series(runs, "train_loss", "train");
    loss.extend(epoch_series(runs, "val_loss", "val"));
    loss.extend(epoch_series(runs, "ema_val_loss", "EMA val"));
    let mut acc = epoch_series(runs, "top1", "top-1");
    acc.extend(epoch_series(runs, "top5", "top-5"));
    acc.extend(epoch_series(runs, "ema_top1", "EMA top-1"));
    acc.extend(epoch_series(runs, "ema_top5", "EMA top-5"));
    let lr: Vec<Series> = runs
        .iter()
        .filter(|r| !r.steps.is_empty())
        .map(|r| Series {
            name: r.name.clone(),
            points: r.steps.iter().map(|s| (s.0, s.1)).collect(),
        })
        .collect();
    let step_loss: Vec<Series> = runs
        .iter()
        .filter(|r| !r.steps.is_empty())
        .map(|r| Series {
            name: r.name.clone(),
            points: r.steps.iter().map(|s| (s.0, s.2)).collect(),
        })
        .collect();
    let title = if runs.len() == 1 {
        format!("dpn training run {}", runs[0].name)
    } else {
        format!(
            "dpn training runs: {}",
            runs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let by_epoch = resume_markers(runs, false);
    let by_update = resume_markers(runs, true);
    let body = html! {
        h1 { (title) }
        (summary(runs))
        section.charts {
            (line_chart_marked(&LineChart { title: "Loss per epoch", x_label: "epoch", y_label: "loss", series: loss, marker: marker(runs), max_table_rows: 400 }, &by_epoch))
            (line_chart_marked(&LineChart { title: "Validation accuracy per epoch", x_label: "epoch", y_label: "accuracy (%)", series: acc, marker: marker(runs), max_table_rows: 400 }, &by_epoch))
            (line_chart_marked(&LineChart { title: "Learning rate per update", x_label: "update", y_label: "learning rate", series: lr, marker: None, max_table_rows: 200 }, &by_update))
            (line_chart_marked(&LineChart { title: "Training loss per update", x_label: "update", y_label: "loss", series: step_loss, marker: None, max_table_rows: 200 }, &by_update))
            (line_chart_marked(&LineChart { title: "Training throughput per epoch", x_label: "epoch", y_label: "images/s", series: epoch_series(runs, "images_per_s", ""), marker: None, max_table_rows: 400 }, &by_epoch))
        }
        (segments_table(runs))
        (settings_table(runs))
        h2 { "Metrics" }
        @for r in runs { (epoch_table(r)) }
    };
    page::page(&title, body)
}
