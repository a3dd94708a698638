//! `dpn evaluate`: top-1/top-5 and loss on a labelled image set, beside the
//! registry's published figures; shards of a job array merge exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::common::{self, ModelArgs, PreprocessArgs, RunArgs};
use super::Context;
use crate::atomic::write_atomic;
use crate::classes::Classes;
use crate::data::{BatchLoader, LoaderOptions};
use crate::error;
use crate::inputs::{self, Shard};
use crate::model::device;
use crate::output::{self, Cell, Column, Format, Table};

#[derive(Debug, Args)]
#[command(after_help = "\
--data is an ImageFolder tree (<class>/<image>): folders named by ImageNet synset ids map to \
ImageNet class indices, other trees use sorted folder order. --labels-file lists `path,label` \
(CSV, header allowed) or `path label` lines (ILSVRC2012 val.txt); a label is a class index or a \
synset id; relative paths are under --data.

Shards (--shard I/N, or the job array's variables) take a deterministic slice; write each \
shard's --results-file as JSON and combine them with `dpn evaluate --merge FILE...`, which gives \
the whole set's result.")]
pub struct EvaluateArgs {
    /// Image folder (ImageFolder tree, or the root that --labels-file paths are relative to)
    #[arg(long, value_name = "DIR", required_unless_present = "merge")]
    pub data: Option<PathBuf>,

    /// Labels as `path,label` CSV or `path label` lines, instead of class folders
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub preprocess: PreprocessArgs,

    /// Mixed precision on CUDA: bf16 (default) or f16 (same as --dtype)
    #[arg(long, value_name = "DTYPE", num_args = 0..=1, default_missing_value = "bf16")]
    pub amp: Option<String>,

    /// Evaluate only the first N images (after sharding)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Write the result (and the exact counts needed by --merge) to FILE (.json or .csv)
    #[arg(long, value_name = "FILE")]
    pub results_file: Option<PathBuf>,

    /// Write per-class accuracy to FILE (CSV)
    #[arg(long, value_name = "FILE")]
    pub per_class: Option<PathBuf>,

    /// Combine the JSON results files of shards into the whole set's result
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["data", "labels_file"])]
    pub merge: Vec<PathBuf>,

    /// Output format of the summary
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Per-image losses are summed as integers in units of 2^-24 so that the
/// sum, and with it a merged result, does not depend on summation order.
const LOSS_SCALE: f64 = (1u64 << 24) as f64;

/// Everything a result is computed from; shards add up field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub images: u64,
    pub skipped: u64,
    pub correct1: u64,
    pub correct5: u64,
    /// Sum of per-image cross-entropy losses, in units of 2^-24.
    pub loss_units: i128,
    pub seconds: f64,
    /// Per class: [images, top-1 correct, top-5 correct].
    pub per_class: Vec<[u64; 3]>,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.images += o.images;
        self.skipped += o.skipped;
        self.correct1 += o.correct1;
        self.correct5 += o.correct5;
        self.loss_units += o.loss_units;
        // Shards run side by side: the whole took as long as the slowest.
        self.seconds = self.seconds.max(o.seconds);
        if self.per_class.len() < o.per_class.len() {
            self.per_class.resize(o.per_class.len(), [0; 3]);
        }
        for (a, b) in self.per_class.iter_mut().zip(&o.per_class) {
            for i in 0..3 {
                a[i] += b[i];
            }
        }
    }

    fn pct(&self, n: u64) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            100.0 * n as f64 / self.images as f64
        }
    }

    fn mean_loss(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.loss_units as f64 / LOSS_SCALE / self.images as f64
        }
    }
}

/// A results file: the figures, what produced them, and the exact counts.
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
    pub counts: Counts,
}

pub fn run(args: EvaluateArgs, ctx: &Context) -> Result<()> {
    if !args.merge.is_empty() {
        return merge(&args, ctx);
    }
    let data = args
        .data
        .as_deref()
        .expect("clap requires --data without --merge");
    let mut run_args = args.run.clone();
    if let Some(amp) = &args.amp {
        run_args.target.dtype = amp.clone();
        if device::parse_device(&run_args.target.device)? == tch::Device::Cpu {
            return Err(error::usage(
                "--amp needs a CUDA device; on the CPU use --dtype bf16",
            ));
        }
    }
    let labelled = match &args.labels_file {
        Some(f) => inputs::labels_file(f, data)?,
        None => inputs::image_folder(data)?,
    };
    let shard = Shard::resolve(run_args.shard.as_deref())?;
    let mut items = shard.take(labelled.items);
    if let Some(n) = args.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        return Err(error::usage("no images to evaluate in this shard"));
    }
    let p = common::prepare(ctx, &args.model, &run_args, &args.preprocess, None)?;
    let num_classes = p.loaded.arch.num_classes;
    if let Some(max) = items.iter().filter_map(|i| i.label).max() {
        if max as usize >= num_classes {
            return Err(error::usage(format!(
                "the data has label {max} but {} predicts {num_classes} classes",
                p.spec.name
            )));
        }
    }
    let total = items.len();
    let loader = BatchLoader::new(
        items,
        p.transform.clone(),
        LoaderOptions {
            batch_size: run_args.batch_size,
            workers: run_args.workers,
            prefetch: 2,
        },
    )?;
    let bar = super::progress::bar(&ctx.ui, total as u64, "images");
    let mut c = Counts {
        per_class: vec![[0; 3]; num_classes],
        ..Counts::default()
    };
    let t0 = Instant::now();
    for batch in loader {
        for f in &batch.failures {
            bar.suspend(|| ctx.ui.warn(&f.error));
        }
        c.skipped += batch.failures.len() as u64;
        if !batch.is_empty() {
            let labels = batch
                .label_tensor()
                .expect("every evaluation item has a label");
            let logits =
                device::infer(&p.loaded.model, &batch.images, &p.opts).to_device(tch::Device::Cpu);
            score(&logits, &labels, &mut c)?;
        }
        bar.inc((batch.indices.len() + batch.failures.len()) as u64);
        bar.set_message(format!("top-1 {:.2}%", c.pct(c.correct1)));
    }
    c.seconds = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let setup = Setup {
        model: p.spec.name.clone(),
        weights: Some(p.weights.display().to_string()),
        data: Some(data.display().to_string()),
        shard: format!("{}/{}", shard.index, shard.count),
        param_count: crate::arch::Plan::new(&p.loaded.arch).parameter_count(),
        img_size: p.preprocess.image_size,
        crop_pct: p.preprocess.crop_pct,
        interpolation: p.preprocess.interpolation.to_string(),
    };
    let results = summarize(ctx, setup, c);
    finish(&args, &results, &labelled.classes)?;
    if results.skipped > 0 {
        return Err(error::partial(format!(
            "{} of {total} images could not be read and were skipped (reported above)",
            results.skipped
        )));
    }
    Ok(())
}

/// Adds one batch's top-1/top-5 hits and losses.
fn score(logits: &Tensor, labels: &Tensor, c: &mut Counts) -> Result<()> {
    let n = labels.size()[0];
    let k = 5.min(logits.size()[1]);
    let (_, top) = logits.topk(k, -1, true, true);
    let hits = top.eq_tensor(&labels.unsqueeze(1));
    let top1: Vec<bool> = Vec::<bool>::try_from(hits.select(1, 0))?;
    let top5: Vec<bool> = Vec::<bool>::try_from(hits.any_dim(1, false))?;
    let losses = -logits
        .log_softmax(-1, Kind::Double)
        .gather(1, &labels.unsqueeze(1), false)
        .squeeze_dim(1);
    let losses: Vec<f64> = Vec::<f64>::try_from(losses)?;
    let labels: Vec<i64> = Vec::<i64>::try_from(labels)?;
    for i in 0..n as usize {
        let pc = &mut c.per_class[labels[i] as usize];
        pc[0] += 1;
        pc[1] += top1[i] as u64;
        pc[2] += top5[i] as u64;
        c.images += 1;
        c.correct1 += top1[i] as u64;
        c.correct5 += top5[i] as u64;
        c.loss_units += (losses[i] * LOSS_SCALE).round() as i128;
    }
    Ok(())
}

/// What produced a results file, besides its counts.
struct Setup {
    model: String,
    weights: Option<String>,
    data: Option<String>,
    shard: String,
    param_count: u64,
    img_size: usize,
    crop_pct: f64,
    interpolation: String,
}

/// The figures of `c`, beside the registry's published ones for the model.
fn summarize(ctx: &Context, setup: Setup, c: Counts) -> Results {
    let reported = ctx
        .registry
        .get(&setup.model)
        .ok()
        .and_then(|s| s.imagenet_result());
    let (top1, top5) = (c.pct(c.correct1), c.pct(c.correct5));
    let reported_top1 = reported.and_then(|r| r.top1);
    let reported_top5 = reported.and_then(|r| r.top5);
    Results {
        model: setup.model,
        weights: setup.weights,
        data: setup.data,
        shard: setup.shard,
        images: c.images,
        skipped: c.skipped,
        top1,
        top1_err: 100.0 - top1,
        top5,
        top5_err: 100.0 - top5,
        loss: c.mean_loss(),
        images_per_s: if c.seconds > 0.0 {
            (c.images + c.skipped) as f64 / c.seconds
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
        counts: c,
    }
}

fn merge(args: &EvaluateArgs, ctx: &Context) -> Result<()> {
    let mut total = Counts::default();
    let mut first: Option<Results> = None;
    for path in &args.merge {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read results file {}", path.display()))?;
        let r: Results = serde_json::from_str(&text).map_err(|e| {
            error::bad_input(format!(
                "results file {}: not a dpn evaluate JSON results file ({e})",
                path.display()
            ))
        })?;
        if let Some(f) = &first {
            if f.model != r.model || f.img_size != r.img_size || f.crop_pct != r.crop_pct {
                return Err(error::bad_input(format!(
                    "results file {} is for {} at {} px, crop {}, but {} is for {} at {} px, crop {}; \
                     only shards of one evaluation merge",
                    path.display(),
                    r.model,
                    r.img_size,
                    r.crop_pct,
                    args.merge[0].display(),
                    f.model,
                    f.img_size,
                    f.crop_pct
                )));
            }
        }
        total.add(&r.counts);
        first.get_or_insert(r);
    }
    let f = first.expect("clap requires at least one --merge file");
    let setup = Setup {
        model: f.model,
        weights: f.weights,
        data: f.data,
        shard: format!("merged {}", args.merge.len()),
        param_count: f.param_count,
        img_size: f.img_size,
        crop_pct: f.crop_pct,
        interpolation: f.interpolation,
    };
    let results = summarize(ctx, setup, total);
    let classes = Classes::default_for(results.counts.per_class.len());
    finish(args, &results, &classes)
}

/// Prints the summary and writes the requested files.
fn finish(args: &EvaluateArgs, r: &Results, classes: &Classes) -> Result<()> {
    if let Some(path) = &args.results_file {
        write_results(path, r)?;
    }
    if let Some(path) = &args.per_class {
        write_per_class(path, r, classes)?;
    }
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("images", "Images", true),
        Column::new("skipped", "Skipped", true),
        Column::new("top1", "Top-1", true),
        Column::new("top5", "Top-5", true),
        Column::new("loss", "Loss", true),
        Column::new("images_per_s", "img/s", true),
        Column::new("reported_top1", "Top-1 (pub.)", true),
        Column::new("reported_top5", "Top-5 (pub.)", true),
        Column::new("top1_diff", "Δ top-1", true),
        Column::new("top5_diff", "Δ top-5", true),
    ]);
    let pct = |v: f64| format!("{v:.3}%");
    let diff = |v: f64| format!("{v:+.3}");
    t.push(vec![
        Cell::plain(r.model.as_str()),
        Cell::new(r.images, output::thousands(r.images)),
        Cell::plain(r.skipped),
        Cell::new(r.top1, pct(r.top1)),
        Cell::new(r.top5, pct(r.top5)),
        Cell::new(r.loss, format!("{:.4}", r.loss)),
        Cell::new(r.images_per_s, format!("{:.1}", r.images_per_s)),
        Cell::opt(r.reported_top1, pct),
        Cell::opt(r.reported_top5, pct),
        Cell::opt(r.top1_diff, diff),
        Cell::opt(r.top5_diff, diff),
    ]);
    t.print(args.format)
}

fn write_results(path: &Path, r: &Results) -> Result<()> {
    let csv_out = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let bytes = if csv_out {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut v = serde_json::to_value(r)?;
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
        let mut b = serde_json::to_vec_pretty(r)?;
        b.push(b'\n');
        b
    };
    write_atomic(path, &bytes)
}

fn write_per_class(path: &Path, r: &Results, classes: &Classes) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "class_index",
        "synset",
        "class_name",
        "images",
        "top1",
        "top5",
    ])?;
    for (i, [n, c1, c5]) in r.counts.per_class.iter().enumerate() {
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
