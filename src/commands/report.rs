//! `dpn report`: one self-contained HTML page for one or more `dpn train`
//! run folders (see `report::run`), to look at instead of reading CSVs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::report;
use crate::sys::error;

#[derive(Debug, Args)]
#[command(after_help = "\
The page has no script and loads nothing from the network: charts are inline SVG, each with \
its numbers in a table. With several runs their settings (run.json) are shown side by side, \
the ones that differ highlighted. `dpn train` also keeps report.html in its run folder current.")]
pub struct ReportArgs {
    /// `dpn train` output folders (metrics.csv, steps.csv, run.json)
    #[arg(value_name = "RUN", required = true)]
    pub runs: Vec<PathBuf>,

    /// The HTML file to write (default: RUN/report.html for one run, report.html for several)
    #[arg(short, long, value_name = "FILE.html")]
    pub output: Option<PathBuf>,
}

pub fn run(args: ReportArgs, _ctx: &Context) -> Result<()> {
    for r in &args.runs {
        if !r.is_dir() {
            return Err(error::bad_input(format!(
                "{}: not a folder; pass dpn train output folders",
                r.display()
            )));
        }
    }
    let out = match (&args.output, args.runs.as_slice()) {
        (Some(o), _) => o.clone(),
        (None, [one]) => one.join("report.html"),
        (None, _) => PathBuf::from("report.html"),
    };
    let dirs: Vec<&Path> = args.runs.iter().map(PathBuf::as_path).collect();
    report::write_run_report(&dirs, &out)?;
    println!("{}", out.display());
    Ok(())
}
