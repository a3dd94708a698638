//! Self-contained HTML reports (issue 28): one file per run, evaluation or
//! profile, that opens anywhere offline. Charts are inline SVG drawn by
//! plotters; the HTML comes from maud templates checked at compile time,
//! which escape every value they insert
//! (<https://maud.lambda.xyz/text-and-variables.html>), so class names and
//! paths from the data are shown, never run. The page carries no script
//! and a Content-Security-Policy that forbids any fetch or script.
//!
//! The report reads the files other modules write (metrics.csv, steps.csv,
//! run.json) by name, so it sits beside `train` and `metrics` in the layering.

pub mod bars;
pub mod calib;
pub mod chart;
pub mod eval;
pub mod page;
pub mod profile;
pub mod run;

use std::path::Path;

use anyhow::Result;

/// Writes the report of the run folders `dirs` to `out`, atomically.
pub fn write_run_report(dirs: &[&Path], out: &Path) -> Result<()> {
    let runs = dirs
        .iter()
        .map(|d| run::load(d))
        .collect::<Result<Vec<_>>>()?;
    let html = run::render(&runs);
    crate::sys::output_path::write_atomic(out, html.as_bytes())
}
