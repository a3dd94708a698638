//! `dpn evaluate`: top-1/top-5 and loss on a labelled image set, beside the
//! registry's published figures; shards of a job array merge exactly (the
//! scoring and the results files are [`crate::metrics`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use super::common::{self, ModelArgs, PreprocessArgs, RunArgs};
use super::Context;
use crate::data::classes::Classes;
use crate::data::folders::{self, ClassIndex, ImageFolder};
use crate::data::shard::Shard;
use crate::data::{BatchLoader, LoaderOptions};
use crate::dist;
use crate::metrics::breakdown::{Observer, MAX_ERRORS};
use crate::metrics::results::{self, Results, Setup};
use crate::metrics::tally::Expected;
use crate::metrics::{score, Tally};
use crate::model::infer;
use crate::output::{self, paths, Cell, Column, Format, Table};
use crate::sys::error;
use crate::sys::output_path::OutputPath;

#[derive(Debug, Args)]
#[command(after_help = "\
--data is an ImageFolder tree (<class>/<image>). When the model's class names are known (a `dpn \
train` checkpoint carries them; --labels names them), each folder is looked up by name (or \
synset id) among them, so a folder holding some of the classes scores correctly; a folder that \
is not among them is an error naming it (exit code 3). Weights without names (ImageNet \
checkpoints): folders named by ImageNet synset ids map to ImageNet's indices, other trees use \
sorted folder order. --labels-file lists `path,label` (CSV, header allowed) or `path label` lines \
(ILSVRC2012 val.txt); a label is a class index, a class name or a synset id; relative paths are \
under --data.

Preprocessing: what the weights record (a `dpn train` checkpoint records its validation's), \
else the registry's; --img-size, --crop-pct and --interpolation override it (-v shows which).

Shards (--shard I/N, or --shard auto: the Slurm array's or RANK/WORLD_SIZE) take a deterministic \
slice; without --shard every image is evaluated. Write each shard's --results-file as JSON and \
combine them with `dpn evaluate --merge FILE...`, which gives the whole set's result and refuses \
duplicated, missing or foreign shards.

Under torchrun or srun (RANK/WORLD_SIZE, or a Slurm job step) without --shard, the processes \
split the images among themselves, add up their counts exactly, and rank 0 alone prints and \
writes the one result: the same as one process evaluating everything (--dist-timeout bounds the \
wait for the other ranks). Every rank must run the same command on the same files: the ranks \
compare their settings, the weights' SHA-256 and the data listing before any work, and rank 0 \
checks each rank's counts against its share (exit code 9 otherwise; docs/distributed.md).

--report FILE.html writes a self-contained page (no script, no network): per-class accuracy worst \
first, the confusion matrix (a heat map up to 100 classes, else the most confused pairs), a \
reliability diagram with the expected calibration error (15 bins), and the --report-errors K most \
confident mistakes with thumbnails. With --results-file the file carries these counts, so that \
`--merge FILE... --report` writes the same page from shards that ran with --report.")]
pub struct EvaluateArgs {
    /// Image folder (ImageFolder tree, or the root that --labels-file paths are relative to)
    #[arg(long, value_name = "DIR", required_unless_present = "merge")]
    pub data: Option<PathBuf>,

    /// Labels as `path,label` CSV or `path label` lines, instead of class folders
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,

    /// Class names of the model's outputs, one per line (`name` or
    /// `synset<TAB>name`); default: the weights' own
    #[arg(long, value_name = "FILE", conflicts_with = "merge")]
    pub labels: Option<PathBuf>,

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

    /// Write the result (and the exact counts needed by --merge) to FILE (.json or .csv);
    /// with --shard, `{rank}` in FILE becomes the shard's index
    #[arg(long, value_name = "FILE")]
    pub results_file: Option<PathBuf>,

    /// Write per-class accuracy to FILE (CSV); with --shard, `{rank}` in FILE becomes the
    /// shard's index
    #[arg(long, value_name = "FILE")]
    pub per_class: Option<PathBuf>,

    /// Combine the JSON results files of shards into the whole set's result
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["data", "labels_file"])]
    pub merge: Vec<PathBuf>,

    /// Output format of the summary
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Under torchrun or srun: seconds to wait for the other ranks before giving up
    #[arg(long, value_name = "SECS", default_value_t = dist::DEFAULT_TIMEOUT_SECS)]
    pub dist_timeout: u64,

    /// Write a self-contained HTML report to FILE.html: per-class accuracy, confusions,
    /// calibration, the most confident mistakes; with --shard, `{rank}` in FILE becomes the
    /// shard's index
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// How many of the most confident mistakes the report shows, with thumbnails (0 to 1000)
    #[arg(long, value_name = "K", default_value_t = 24, requires = "report",
          value_parser = clap::value_parser!(u64).range(0..=MAX_ERRORS as u64))]
    pub report_errors: u64,
}

pub fn run(args: EvaluateArgs, ctx: &Context) -> Result<()> {
    let outputs = Outputs::check(&args)?;
    if !args.merge.is_empty() {
        return merge(&args, &outputs, ctx);
    }
    let data = args
        .data
        .as_deref()
        .expect("clap requires --data without --merge");
    let run_args = with_amp(&args)?;
    let sharding = Shard::resolve(run_args.shard.as_deref())?;
    // Under a launcher, without --shard: one result from all the ranks. The
    // ranks meet first, so that one failing below stops the others at once.
    let group = match sharding {
        Some(_) => None,
        None => dist::join_from_env(Duration::from_secs(args.dist_timeout.max(1)))?,
    };
    let leader = group.as_ref().is_none_or(|g| g.is_leader());
    let ui = if leader { ctx.ui } else { ctx.ui.silent() };
    let loaded = load(
        &args,
        &run_args,
        data,
        ctx,
        sharding.as_ref(),
        group.is_some(),
    );
    if let Some(g) = &group {
        if let Err(e) = g.agree_on(loaded.as_ref().map(|l| &l.fingerprint)) {
            loaded?;
            return Err(e);
        }
    }
    let Loaded {
        p,
        classes,
        items,
        total_inputs,
        weights_sha256,
        ..
    } = loaded?;
    if let Some(s) = &sharding {
        ui.info(s.describe(items.len(), total_inputs, "images"));
    }
    let total = items.len();
    let num_classes = p.loaded.arch.num_classes;
    let (items, expected) = split_among_ranks(group.as_deref(), items, num_classes, &ui);
    // Recorded in the results file, so that --merge can tell shards of
    // other weights apart.
    let weights_sha256 = weights_sha256.filter(|_| outputs.results.is_some() && leader);
    let shard = sharding.as_ref().map_or(Shard::WHOLE, |s| s.shard);
    let mut observer = outputs.report.is_some().then(|| {
        Observer::new(
            class_pairs(&classes),
            args.report_errors as usize,
            p.preprocess.mean,
            p.preprocess.std,
        )
    });
    let mut c = score_all(&p, &run_args, items, &ui, observer.as_mut())?;
    let mut breakdown = observer.map(Observer::finish);
    if let Some(g) = &group {
        c = c.all_ranks(g, &expected)?;
        if let Some(b) = breakdown.take() {
            breakdown = Some(b.all_ranks(g, &c)?);
        }
        if !leader {
            return Ok(());
        }
    }
    if c.non_finite > 0 {
        return Err(error::bad_input(format!(
            "{} of {total} images gave NaN or infinite outputs with the weights {}; no accuracy \
             or loss is reported (check the weights; with --dtype bf16/f16 or --amp, try f32)",
            c.non_finite,
            p.weights.display()
        )));
    }
    if paths::needs_escape(&p.weights) || paths::needs_escape(data) {
        ui.warn(paths::ESCAPED_WARNING);
    }
    let setup = setup(&p, data, shard, total_inputs, weights_sha256);
    let mut results = summarize(ctx, setup, c);
    results.breakdown = breakdown;
    finish(&args, &outputs, ctx, &results, &classes, None)?;
    if results.skipped > 0 {
        return Err(error::partial(format!(
            "{} of {total} images could not be read and were skipped (reported above)",
            results.skipped
        )));
    }
    Ok(())
}

/// The run arguments with `--amp` applied (it needs a CUDA device).
fn with_amp(args: &EvaluateArgs) -> Result<RunArgs> {
    let mut run_args = args.run.clone();
    if let Some(amp) = &args.amp {
        run_args.target.dtype = amp.clone();
        if infer::parse_device(&run_args.target.device)? == tch::Device::Cpu {
            return Err(error::usage(
                "--amp needs a CUDA device; on the CPU use --dtype bf16",
            ));
        }
    }
    Ok(run_args)
}

/// Under a launcher: this rank's share of `items`, and what rank 0 expects
/// of each rank's counts. Otherwise `items` whole.
fn split_among_ranks(
    group: Option<&dist::Group>,
    items: Vec<crate::data::batches::Item>,
    num_classes: usize,
    ui: &crate::ui::Ui,
) -> (Vec<crate::data::batches::Item>, Vec<Expected>) {
    let Some(g) = group else {
        return (items, Vec::new());
    };
    let labels: Vec<Option<i64>> = items.iter().map(|i| i.label).collect();
    let expected = Expected::shares(&labels, g.world(), num_classes);
    let whole = items.len();
    let items = Shard {
        index: g.rank(),
        count: g.world(),
    }
    .take(items);
    ui.info(format!(
        "distributed: {} processes share the {whole} images; rank 0 reports",
        g.world()
    ));
    (items, expected)
}

/// The data's classes as `(synset, name)` pairs, for the report.
fn class_pairs(classes: &Classes) -> Vec<(String, String)> {
    classes
        .classes
        .iter()
        .map(|c| (c.synset.clone(), c.name.clone()))
        .collect()
}

/// Runs the model over `items` and counts: the tally, and what `observer`
/// (the report's counts, when one is written) keeps of each batch.
fn score_all(
    p: &common::Prepared,
    run_args: &RunArgs,
    items: Vec<crate::data::batches::Item>,
    ui: &crate::ui::Ui,
    mut observer: Option<&mut Observer>,
) -> Result<Tally> {
    let share = items.len();
    let loader = BatchLoader::new(
        items,
        p.transform.clone(),
        LoaderOptions {
            batch_size: run_args.batch_size,
            workers: common::workers(run_args.workers, ui),
            prefetch: 2,
        },
    )?;
    let bar = crate::ui::progress::bar(ui, share as u64, "images");
    let mut c = Tally::new(p.loaded.arch.num_classes);
    let mut runner = infer::Runner::new(p.net(), p.opts, !run_args.no_retry);
    let t0 = Instant::now();
    for batch in loader {
        let batch = batch?;
        for f in &batch.failures {
            bar.suspend(|| ui.warn(&f.error));
        }
        c.skipped += batch.failures.len() as u64;
        if !batch.is_empty() {
            let labels = batch
                .label_tensor()
                .expect("every evaluation item has a label");
            let logits = runner.logits(&batch.images)?;
            for note in runner.take_notes() {
                bar.suspend(|| ui.warn(note));
            }
            score(&logits, &labels, &mut c)?;
            if let Some(o) = observer.as_deref_mut() {
                let texts: Vec<String> = batch
                    .paths
                    .iter()
                    .map(|p| paths::path_text(p).into_owned())
                    .collect();
                let labels: Vec<i64> = batch.labels.iter().map(|l| l.unwrap_or(-1)).collect();
                o.observe(&logits, &labels, &batch.images, &texts)?;
            }
        }
        bar.inc((batch.indices.len() + batch.failures.len()) as u64);
        bar.set_message(format!("top-1 {:.2}%", c.top1()));
    }
    c.seconds = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(c)
}

/// What produced the result, for the results file.
fn setup(
    p: &common::Prepared,
    data: &std::path::Path,
    shard: Shard,
    total_inputs: usize,
    weights_sha256: Option<String>,
) -> Setup {
    Setup {
        model: p.spec.name.clone(),
        weights: Some(paths::path_text(&p.weights).into_owned()),
        weights_sha256,
        data: Some(paths::path_text(data).into_owned()),
        shard: format!("{}/{}", shard.index, shard.count),
        shard_index: shard.index,
        shard_count: shard.count,
        total_images: total_inputs as u64,
        param_count: crate::model::parameter_count(&p.loaded.arch),
        img_size: p.preprocess.image_size,
        crop_pct: p.preprocess.crop_pct,
        interpolation: p.preprocess.interpolation.to_string(),
        mean: p.preprocess.mean,
        std: p.preprocess.std,
    }
}

/// The model and the data of an evaluation, before any image is read.
struct Loaded<'a> {
    p: common::Prepared<'a>,
    /// The data's classes (what --per-class names).
    classes: Classes,
    /// This shard's items (all of them under a launcher), after --limit.
    items: Vec<crate::data::batches::Item>,
    /// The inputs before sharding.
    total_inputs: usize,
    weights_sha256: Option<String>,
    /// What every rank of a launched run must agree on (empty otherwise).
    fingerprint: dist::Fingerprint,
}

fn load<'a>(
    args: &EvaluateArgs,
    run_args: &RunArgs,
    data: &std::path::Path,
    ctx: &'a Context,
    sharding: Option<&crate::data::shard::Sharding>,
    launched: bool,
) -> Result<Loaded<'a>> {
    let p = common::prepare(
        ctx,
        &args.model,
        run_args,
        &args.preprocess,
        args.labels.as_deref(),
    )?;
    let index = ClassIndex::for_model(&p.classes, p.named);
    let labelled = match &args.labels_file {
        Some(f) => folders::labels_file(f, data, index, p.loaded.arch.num_classes)?,
        None => {
            // An empty class folder still names a class of the model: it is
            // counted with no images (the report lists it), not refused.
            let (folder, empty) = ImageFolder::scan_keeping_empty(data, index)?;
            if !empty.is_empty() {
                ctx.ui.warn(format!(
                    "data folder {}: {} class folder{} without images ({}); counted as classes with none",
                    data.display(),
                    empty.len(),
                    if empty.len() == 1 { "" } else { "s" },
                    crate::data::classes::sample(&empty, 5),
                ));
            }
            folder
        }
    };
    let shard = sharding.map_or(Shard::WHOLE, |s| s.shard);
    let ImageFolder {
        classes,
        items: all,
        ..
    } = labelled;
    let total_inputs = all.len();
    let mut items = shard.take(all);
    if let Some(n) = args.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        return Err(error::usage("no images to evaluate in this shard"));
    }
    let num_classes = p.loaded.arch.num_classes;
    if let Some(max) = items.iter().filter_map(|i| i.label).max() {
        if max as usize >= num_classes {
            return Err(error::usage(format!(
                "the data has label {max} but {} predicts {num_classes} classes",
                p.spec.name
            )));
        }
    }
    let weights_sha256 = match (&args.results_file, launched) {
        (None, false) => None,
        _ => Some(crate::sys::digest::file_sha256(&p.weights)?.0),
    };
    let mut f = dist::Fingerprint::new();
    if launched {
        f.add("--model", &p.spec.name)
            .add("the architecture", format!("{:?}", p.loaded.arch))
            .add_sha256("--weights", weights_sha256.as_deref().unwrap_or_default())
            .add_classes("the model's classes", &p.classes.keys())
            .add_classes("the data's classes", &classes.keys())
            .add("--limit", format!("{:?}", args.limit))
            .add_listing("--data", data, &items)
            .add("--img-size", p.preprocess.image_size)
            .add("--crop-pct", p.preprocess.crop_pct)
            .add("--interpolation", p.preprocess.interpolation)
            .add(
                "the mean and std",
                format!("{:?} {:?}", p.preprocess.mean, p.preprocess.std),
            )
            .add("--dtype", &run_args.target.dtype)
            .add(
                "the network (--exact, --folded)",
                if p.fast.is_some() { "folded" } else { "exact" },
            )
            .add("--channels-last", run_args.target.channels_last)
            .add("--batch-size", run_args.batch_size);
    }
    Ok(Loaded {
        p,
        classes,
        items,
        total_inputs,
        weights_sha256,
        fingerprint: f,
    })
}

/// The figures of `tally`, beside the registry's published ones for the model.
fn summarize(ctx: &Context, setup: Setup, tally: Tally) -> Results {
    let reported = ctx
        .registry
        .get(&setup.model)
        .ok()
        .and_then(|s| s.imagenet_result());
    let published = (reported.and_then(|r| r.top1), reported.and_then(|r| r.top5));
    Results::new(setup, tally, published)
}

fn merge(args: &EvaluateArgs, outputs: &Outputs, ctx: &Context) -> Result<()> {
    let (setup, total, breakdown) = results::merge_all(&args.merge)?;
    let mut results = summarize(ctx, setup, total);
    let classes = match &breakdown {
        Some(b) => Classes {
            classes: b
                .classes
                .iter()
                .map(|(synset, name)| crate::data::classes::Class {
                    synset: synset.clone(),
                    name: name.clone(),
                })
                .collect(),
        },
        None => Classes::default_for(results.counts.per_class.len()),
    };
    results.breakdown = breakdown;
    let note = format!("Merged from {} shard results files.", args.merge.len());
    finish(args, outputs, ctx, &results, &classes, Some(note))
}

/// The files evaluate writes, checked before any work so that a typo in a
/// folder name costs nothing.
struct Outputs {
    results: Option<OutputPath>,
    per_class: Option<OutputPath>,
    report: Option<OutputPath>,
}

impl Outputs {
    fn check(args: &EvaluateArgs) -> Result<Outputs> {
        let sharding = match args.merge.is_empty() {
            true => Shard::resolve(args.run.shard.as_deref())?,
            false => None,
        };
        let check = |p: &Option<PathBuf>, what| {
            p.as_deref()
                .map(|p| OutputPath::check(&per_shard(p, what, sharding.as_ref())?, what))
                .transpose()
        };
        let out = Outputs {
            results: check(&args.results_file, "--results-file")?,
            per_class: check(&args.per_class, "--per-class")?,
            report: check(&args.report, "--report")?,
        };
        let dashes: Vec<&str> = [
            ("--results-file", &out.results),
            ("--per-class", &out.per_class),
            ("--report", &out.report),
        ]
        .into_iter()
        .filter(|(_, o)| o.as_ref().is_some_and(OutputPath::is_stdout))
        .map(|(flag, _)| flag)
        .collect();
        if let [a, b, ..] = dashes[..] {
            return Err(error::usage(format!(
                "{a} and {b} cannot both be - (standard output)"
            )));
        }
        Ok(out)
    }

    /// How many of them are standard output.
    fn to_stdout(&self) -> usize {
        [&self.results, &self.per_class, &self.report]
            .into_iter()
            .flatten()
            .filter(|o| o.is_stdout())
            .count()
    }
}

/// An output path with `{rank}` replaced by the shard's index. Under a
/// launcher with --shard every process writes its own files: a path without
/// `{rank}` would have them all write one file, the last one winning, and
/// is refused (standard output is each process's own).
fn per_shard(
    path: &std::path::Path,
    flag: &str,
    sharding: Option<&crate::data::shard::Sharding>,
) -> Result<PathBuf> {
    let text = path.to_string_lossy();
    match sharding {
        Some(s) if text.contains("{rank}") => Ok(PathBuf::from(
            text.replace("{rank}", &s.shard.index.to_string()),
        )),
        Some(s) if s.shard.count > 1 && text != "-" => match dist::Launch::detect() {
            Some((rank, world, launcher)) => Err(error::usage(format!(
                "{flag} {}: under {launcher} (rank {rank} of {world}) with --shard every rank \
                 would write this one file; put {{rank}} in its name (e.g. results-{{rank}}.json) \
                 for one file per rank, or leave out --shard for one result from all the ranks",
                path.display()
            ))),
            None => Ok(path.to_path_buf()),
        },
        _ => Ok(path.to_path_buf()),
    }
}

/// Prints the summary and writes the requested files. A file written to
/// standard output (`-`) takes stdout for itself: the summary goes to stderr.
fn finish(
    args: &EvaluateArgs,
    outputs: &Outputs,
    ctx: &Context,
    r: &Results,
    classes: &Classes,
    note: Option<String>,
) -> Result<()> {
    if let Some(out) = &outputs.results {
        r.write(out)?;
    }
    if let Some(out) = &outputs.per_class {
        r.write_per_class(out, classes)?;
    }
    if let Some(out) = &outputs.report {
        let classes = class_pairs(classes);
        let page = crate::report::eval::render(&crate::report::eval::EvalPage {
            results: r,
            classes: &classes,
            note,
        });
        out.write(page.as_bytes())?;
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
    if outputs.to_stdout() > 0 {
        let mut text = Vec::new();
        t.write(args.format, &mut text)?;
        ctx.ui.info(String::from_utf8_lossy(&text).trim_end());
        return Ok(());
    }
    t.print(args.format)
}
