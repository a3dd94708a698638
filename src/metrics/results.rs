//! A results file: the figures, what produced them and the exact tally, so
//! that `dpn evaluate --merge` combines shards into the whole set's result.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::tally::Tally;
use crate::data::classes::Classes;
use crate::output;
use crate::sys::atomic::write_atomic;
use crate::sys::error;

/// What produced a result, besides its tally.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub model: String,
    pub weights: Option<String>,
    pub data: Option<String>,
    pub shard: String,
    pub param_count: u64,
    pub img_size: usize,
    pub crop_pct: f64,
    pub interpolation: String,
}

/// A results file's contents (its JSON keys are these field names).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub model: String,
    pub weights: Option<String>,
    pub data: Option<String>,
    pub shard: String,
    pub images: u64,
    pub skipped: u64,
    pub top1: f64,
    pub top1_err: f64,
    pub top5: f64,
    pub top5_err: f64,
    pub loss: f64,
    pub images_per_s: f64,
    pub reported_top1: Option<f64>,
    pub reported_top5: Option<f64>,
    pub top1_diff: Option<f64>,
    pub top5_diff: Option<f64>,
    pub param_count: u64,
    pub img_size: usize,
    pub crop_pct: f64,
    pub interpolation: String,
    pub counts: Tally,
}

impl Results {
    /// The figures of `tally`, beside the published top-1/top-5 of the model.
    pub fn new(setup: Setup, tally: Tally, reported: (Option<f64>, Option<f64>)) -> Results {
        let (top1, top5) = (tally.top1(), tally.top5());
        let (reported_top1, reported_top5) = reported;
        Results {
            model: setup.model,
            weights: setup.weights,
            data: setup.data,
            shard: setup.shard,
            images: tally.images,
            skipped: tally.skipped,
            top1,
            top1_err: 100.0 - top1,
            top5,
            top5_err: 100.0 - top5,
            loss: tally.mean_loss(),
            images_per_s: if tally.seconds > 0.0 {
                (tally.images + tally.skipped) as f64 / tally.seconds
            } else {
                0.0
            },
            reported_top1,
            reported_top5,
            top1_diff: reported_top1.map(|r| top1 - r),
            top5_diff: reported_top5.map(|r| top5 - r),
            param_count: setup.param_count,
            img_size: setup.img_size,
            crop_pct: setup.crop_pct,
            interpolation: setup.interpolation,
            counts: tally,
        }
    }

    /// Reads a JSON results file written by [`Results::write`].
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read results file {}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            error::bad_input(format!(
                "results file {}: not a dpn evaluate JSON results file ({e})",
                path.display()
            ))
        })
    }

    /// Writes the result atomically: CSV (one header row, the tally's totals
    /// flattened in) when `path` ends in `.csv`, else pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let csv_out = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let bytes = if csv_out {
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut v = serde_json::to_value(self)?;
            let counts = v.as_object_mut().and_then(|o| o.remove("counts"));
            let mut fields: Vec<(String, String)> = v
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), output::csv_field(v)))
                .collect();
            if let Some(serde_json::Value::Object(c)) = counts {
                for (k, v) in c.iter().filter(|(k, _)| *k != "per_class") {
                    fields.push((k.clone(), output::csv_field(v)));
                }
            }
            w.write_record(fields.iter().map(|(k, _)| k))?;
            w.write_record(fields.iter().map(|(_, v)| v))?;
            w.into_inner()
                .map_err(|e| anyhow::anyhow!("{}", e.error()))?
        } else {
            let mut b = serde_json::to_vec_pretty(self)?;
            b.push(b'\n');
            b
        };
        write_atomic(path, &bytes)
    }

    /// Writes per-class accuracy as CSV, one row per class that had images.
    pub fn write_per_class(&self, path: &Path, classes: &Classes) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "class_index",
            "synset",
            "class_name",
            "images",
            "top1",
            "top5",
        ])?;
        for (i, [n, c1, c5]) in self.counts.per_class.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let c = classes.get(i);
            let pct = |k: u64| (100.0 * k as f64 / *n as f64).to_string();
            w.write_record([
                i.to_string(),
                c.map(|c| c.synset.clone()).unwrap_or_default(),
                c.map(|c| c.name.clone()).unwrap_or_default(),
                n.to_string(),
                pct(*c1),
                pct(*c5),
            ])?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        write_atomic(path, &bytes)
    }
}

/// The setup and summed tally of the shard results in `paths`, refusing
/// files of different evaluations (model, image size, crop).
pub fn merge(paths: &[PathBuf]) -> Result<(Setup, Tally)> {
    let mut total = Tally::default();
    let mut first: Option<Results> = None;
    for path in paths {
        let r = Results::read(path)?;
        if let Some(f) = &first {
            if f.model != r.model || f.img_size != r.img_size || f.crop_pct != r.crop_pct {
                return Err(error::bad_input(format!(
                    "results file {} is for {} at {} px, crop {}, but {} is for {} at {} px, crop {}; \
                     only shards of one evaluation merge",
                    path.display(),
                    r.model,
                    r.img_size,
                    r.crop_pct,
                    paths[0].display(),
                    f.model,
                    f.img_size,
                    f.crop_pct
                )));
            }
        }
        total.add(&r.counts)?;
        first.get_or_insert(r);
    }
    let f = first.ok_or_else(|| error::usage("no results files to merge"))?;
    let setup = Setup {
        model: f.model,
        weights: f.weights,
        data: f.data,
        shard: format!("merged {}", paths.len()),
        param_count: f.param_count,
        img_size: f.img_size,
        crop_pct: f.crop_pct,
        interpolation: f.interpolation,
    };
    Ok((setup, total))
}
