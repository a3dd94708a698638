//! `dpn predict`: top-k classes for images, streamed as they are classified.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::json;
use tch::Kind;

use super::common::{self, ModelArgs, PreprocessArgs, RunArgs};
use super::Context;
use crate::data::classes::Classes;
use crate::data::folders;
use crate::data::shard::Shard;
use crate::data::{Batch, BatchLoader, Item, LoaderOptions};
use crate::model::infer;
use crate::output::features::FeatureWriter;
use crate::output::paths::{needs_escape, path_text, ESCAPED_WARNING};
use crate::sys::error;
use crate::sys::output_path::OutputPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictFormat {
    /// A block per image, for people
    Table,
    /// One row per image and rank
    Csv,
    /// A JSON array, one object per image (streamed)
    Json,
    /// One JSON object per line per image
    Jsonl,
}

#[derive(Debug, Args)]
#[command(after_help = "\
PATH may be an image file (any name: the format is read from the content), a directory (walked \
recursively for .jpg/.jpeg/.png/.webp/.bmp/.tif/.tiff/.gif files, sorted), or `-` for one path \
per line on stdin (taken as is: only the line ending goes; with -0, paths end in NUL bytes, as \
`find -print0` writes them). A dangling or looping symlink in a directory counts as an image that \
cannot be read. Results are written as each batch finishes. An image that cannot be read is \
reported on its own row and on stderr, the others go on, and the exit code is 7. Paths are \
printed as they are unless they are not valid UTF-8 or hold a backslash: those are escaped (a \
byte that is not UTF-8 as \\xHH, a backslash as \\\\), with one warning on stderr.")]
pub struct PredictArgs {
    /// Images, directories, or - for paths on stdin
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Classes per image
    #[arg(short = 'k', long, default_value_t = 5, value_name = "K")]
    pub top_k: usize,

    /// Class names, one per line (`name` or `synset<TAB>name`); default: the
    /// weights' own, else ImageNet-1k's
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,

    /// Also write pooled pre-logit embeddings (.safetensors or .npy) keyed by path;
    /// with --shard, `{rank}` in FILE becomes the shard's index
    #[arg(long, value_name = "FILE")]
    pub features: Option<PathBuf>,

    /// Paths on stdin (`-`) end in NUL bytes instead of newlines (as `xargs -0`)
    #[arg(short = '0', long)]
    pub null: bool,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub preprocess: PreprocessArgs,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = PredictFormat::Table)]
    pub format: PredictFormat,
}

/// `--features` with `{rank}` replaced by the shard's index. Under a
/// launcher (torchrun, srun) every process would otherwise classify every
/// image and write the same file: such a run must take shards, and name a
/// features file per shard.
fn features_for_shard(
    features: Option<&std::path::Path>,
    sharding: Option<&crate::data::shard::Sharding>,
) -> Result<Option<PathBuf>> {
    let launched = crate::dist::Launch::detect();
    if let (Some((rank, world, launcher)), None) = (launched, sharding) {
        return Err(error::usage(format!(
            "dpn predict under {launcher} (rank {rank} of {world}): every process would classify \
             every image; pass --shard auto so that each takes its share (and writes its own output)"
        )));
    }
    let Some(f) = features else {
        return Ok(None);
    };
    let text = f.to_string_lossy();
    match sharding {
        Some(s) if text.contains("{rank}") => Ok(Some(PathBuf::from(
            text.replace("{rank}", &s.shard.index.to_string()),
        ))),
        Some(s) if s.shard.count > 1 && launched.is_some() => Err(error::usage(format!(
            "--features {}: every rank would write this one file; put {{rank}} in its name \
             (e.g. features-{{rank}}.safetensors) for one file per rank",
            f.display()
        ))),
        _ => Ok(Some(f.to_path_buf())),
    }
}

pub fn run(args: PredictArgs, ctx: &Context) -> Result<()> {
    if args.top_k == 0 {
        return Err(error::usage("--top-k must be at least 1"));
    }
    let (paths, features_out) = inputs(&args, ctx)?;
    let mut features = features_out.map(FeatureWriter::create).transpose()?;
    let p = common::prepare(
        ctx,
        &args.model,
        &args.run,
        &args.preprocess,
        args.labels.as_deref(),
    )?;
    let k = args.top_k.min(p.classes.len());
    let total = paths.len();
    let loader = BatchLoader::new(
        paths.into_iter().map(Item::new).collect(),
        p.transform.clone(),
        LoaderOptions {
            batch_size: args.run.batch_size,
            workers: common::workers(args.run.workers, &ctx.ui),
            prefetch: 2,
        },
    )?;
    let bar = crate::ui::progress::bar(&ctx.ui, total as u64, "images");
    let stdout = std::io::stdout();
    let mut sink = Sink::new(args.format, stdout.lock(), &p.classes);
    sink.begin()?;
    let mut failed = 0usize;
    // A closed stdout (`| head`) ends the run at once, unless --features
    // asked for a file: then the rows stop and the file is still completed.
    let mut stdout_open = true;
    let mut runner = infer::Runner::new(p.net(), p.opts, !args.run.no_retry);
    let mut non_finite = 0usize;
    let mut escaped = false;
    for batch in loader {
        let batch = batch?;
        // Once, before the first row that holds an escaped path.
        if !escaped
            && (batch.paths.iter().any(|p| needs_escape(p))
                || batch.failures.iter().any(|f| needs_escape(&f.path)))
        {
            escaped = true;
            bar.suspend(|| ctx.ui.warn(ESCAPED_WARNING));
        }
        let mut rows = Vec::new();
        if !batch.is_empty() {
            let mut classify = Classify {
                runner: &mut runner,
                features: features.as_mut(),
                k,
                dim: p.loaded.model.num_features(),
                ctx,
                bar: &bar,
            };
            non_finite += classify.batch(&batch, &mut rows)?;
        }
        // Rows in input order: failures sit where their image would have been.
        for f in &batch.failures {
            failed += 1;
            bar.suspend(|| ctx.ui.warn(&f.error));
            rows.push((f.index, f.path.clone(), Outcome::Failed(f.error.clone())));
        }
        rows.sort_by_key(|r| r.0);
        if stdout_open {
            let written = rows
                .into_iter()
                .try_for_each(|(_, path, outcome)| match outcome {
                    Outcome::Top(top) => sink.result(&path, &top),
                    Outcome::Failed(e) => sink.failure(&path, &e),
                })
                .and_then(|()| sink.flush());
            stdout_open = still_open(written, features.is_some())?;
        }
        bar.inc((batch.indices.len() + batch.failures.len()) as u64);
    }
    bar.finish_and_clear();
    if stdout_open {
        still_open(sink.end(), features.is_some())?;
    }
    if let Some(w) = features {
        let n = w.len();
        let out = w.finish()?;
        ctx.ui
            .info(format!("wrote {n} embeddings to {}", out.display()));
    }
    summary(non_finite, failed, total)
}

/// The images this process classifies (its shard's, when sharded) and the
/// checked `--features` output, if any.
fn inputs(args: &PredictArgs, ctx: &Context) -> Result<(Vec<PathBuf>, Option<OutputPath>)> {
    let sharding = Shard::resolve(args.run.shard.as_deref())?;
    let features_path = features_for_shard(args.features.as_deref(), sharding.as_ref())?;
    let features_out = features_path
        .as_deref()
        .map(|p| OutputPath::check(p, "--features"))
        .transpose()?;
    if features_out.as_ref().is_some_and(|o| o.is_stdout()) {
        return Err(error::usage(
            "--features -: standard output carries the predictions; name a file, a FIFO or a device",
        ));
    }
    let separator = if args.null { b'\0' } else { b'\n' };
    let all = folders::collect_paths(&args.paths, separator)?;
    let total_inputs = all.len();
    let paths = sharding
        .as_ref()
        .map_or(Shard::WHOLE, |s| s.shard)
        .take(all);
    if let Some(s) = &sharding {
        ctx.ui.info(s.describe(paths.len(), total_inputs, "images"));
    }
    if paths.is_empty() {
        return Err(error::usage(
            "no images to classify (directories are searched for image file extensions)",
        ));
    }
    Ok((paths, features_out))
}

/// A row of output: the image's input index, its path, and what became of it.
type Row = (usize, PathBuf, Outcome);

/// What classifying one batch needs.
struct Classify<'r, 'n, 'w, 'c> {
    runner: &'r mut infer::Runner<'n>,
    features: Option<&'w mut FeatureWriter>,
    /// Classes per image.
    k: usize,
    /// The embedding's length.
    dim: usize,
    ctx: &'c Context,
    bar: &'c indicatif::ProgressBar,
}

impl Classify<'_, '_, '_, '_> {
    /// Classifies the batch's images into `rows` (embeddings to the features
    /// file); returns how many gave NaN or infinite logits.
    fn batch(&mut self, batch: &Batch, rows: &mut Vec<Row>) -> Result<usize> {
        let k = self.k;
        let (logits, feats) = if self.features.is_some() {
            let (l, f) = self.runner.logits_and_features(&batch.images)?;
            (l, Some(Vec::<f32>::try_from(f.flatten(0, -1))?))
        } else {
            (self.runner.logits(&batch.images)?, None)
        };
        for note in self.runner.take_notes() {
            self.bar.suspend(|| self.ctx.ui.warn(note));
        }
        // Only the top k of each row leaves the device.
        let (top_p, top_i) = logits
            .softmax(-1, Kind::Float)
            .topk(k as i64, -1, true, true);
        let top_p: Vec<f32> = Vec::<f32>::try_from(top_p.flatten(0, -1))?;
        let top_i: Vec<i64> = Vec::<i64>::try_from(top_i.flatten(0, -1))?;
        let finite = Vec::<bool>::try_from(logits.isfinite().all_dim(1, false))?;
        let dim = self.dim;
        let mut non_finite = 0;
        for (row, (&index, path)) in batch.indices.iter().zip(&batch.paths).enumerate() {
            // Never a probability from NaN or infinite logits.
            if !finite[row] {
                let e = format!(
                    "{}: the model's outputs are NaN or infinite (check the weights)",
                    path_text(path)
                );
                self.bar.suspend(|| self.ctx.ui.warn(&e));
                non_finite += 1;
                rows.push((index, path.clone(), Outcome::Failed(e)));
                continue;
            }
            let top = (0..k)
                .map(|j| (top_i[row * k + j] as usize, top_p[row * k + j] as f64))
                .collect();
            rows.push((index, path.clone(), Outcome::Top(top)));
            if let (Some(w), Some(f)) = (self.features.as_mut(), feats.as_ref()) {
                w.push(path, &f[row * dim..(row + 1) * dim])?;
            }
        }
        Ok(non_finite)
    }
}

/// The run's exit: partial (7) when any image failed, with the counts.
fn summary(non_finite: usize, failed: usize, total: usize) -> Result<()> {
    if non_finite > 0 {
        return Err(error::partial(format!(
            "{} of {total} images failed: {non_finite} gave NaN or infinite outputs, {failed} \
             could not be read (reported above)",
            non_finite + failed
        )));
    }
    if failed > 0 {
        return Err(error::partial(format!(
            "{failed} of {total} images could not be read (reported above)"
        )));
    }
    Ok(())
}

/// Whether stdout is still worth writing to after `written`: a broken pipe
/// is an error (which `main` reports as success) unless a file is still
/// being written, in which case the rows stop and the work goes on.
fn still_open(written: Result<()>, file_pending: bool) -> Result<bool> {
    match written {
        Ok(()) => Ok(true),
        Err(e) if file_pending && error::is_broken_pipe(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What became of one image: its top-k `(class, probability)`, or why it failed.
enum Outcome {
    Top(Vec<(usize, f64)>),
    Failed(String),
}

/// Writes results in the chosen format as they come.
struct Sink<'c, W: Write> {
    format: PredictFormat,
    out: W,
    classes: &'c Classes,
    first: bool,
}

impl<'c, W: Write> Sink<'c, W> {
    fn new(format: PredictFormat, out: W, classes: &'c Classes) -> Self {
        Sink {
            format,
            out,
            classes,
            first: true,
        }
    }

    fn begin(&mut self) -> Result<()> {
        match self.format {
            PredictFormat::Json => writeln!(self.out, "[")?,
            PredictFormat::Csv => self.csv_row([
                "path",
                "rank",
                "class_index",
                "synset",
                "class_name",
                "probability",
                "error",
            ])?,
            _ => {}
        }
        Ok(())
    }

    fn object(
        &self,
        path: &Path,
        top: Option<&[(usize, f64)]>,
        err: Option<&str>,
    ) -> serde_json::Value {
        match (top, err) {
            (Some(top), _) => json!({
                "path": path_text(path),
                "top": top.iter().enumerate().map(|(r, &(i, p))| {
                    let c = self.classes.get(i);
                    json!({
                        "rank": r + 1,
                        "class_index": i,
                        "synset": c.map(|c| c.synset.as_str()).filter(|s| !s.is_empty()),
                        "class_name": c.map(|c| c.name.as_str()),
                        "probability": p,
                    })
                }).collect::<Vec<_>>(),
            }),
            (None, e) => json!({"path": path_text(path), "error": e}),
        }
    }

    fn json_line(&mut self, v: serde_json::Value) -> Result<()> {
        match self.format {
            PredictFormat::Json => {
                if !self.first {
                    writeln!(self.out, ",")?;
                }
                write!(self.out, "  {}", serde_json::to_string(&v)?)?;
            }
            _ => writeln!(self.out, "{}", serde_json::to_string(&v)?)?,
        }
        self.first = false;
        Ok(())
    }

    fn result(&mut self, path: &Path, top: &[(usize, f64)]) -> Result<()> {
        match self.format {
            PredictFormat::Json | PredictFormat::Jsonl => {
                self.json_line(self.object(path, Some(top), None))
            }
            PredictFormat::Csv => {
                for (r, &(i, p)) in top.iter().enumerate() {
                    let c = self.classes.get(i);
                    self.csv_row([
                        path_text(path).into_owned(),
                        (r + 1).to_string(),
                        i.to_string(),
                        c.map(|c| c.synset.clone()).unwrap_or_default(),
                        c.map(|c| c.name.clone()).unwrap_or_default(),
                        p.to_string(),
                        String::new(),
                    ])?;
                }
                Ok(())
            }
            PredictFormat::Table => {
                writeln!(self.out, "{}", path_text(path))?;
                for (r, &(i, p)) in top.iter().enumerate() {
                    let c = self.classes.get(i);
                    let name = c.map(|c| c.name.as_str()).unwrap_or("");
                    let synset = c.map(|c| c.synset.as_str()).unwrap_or("");
                    writeln!(
                        self.out,
                        "  {:>2}  {:>6.2}%  {:>4}  {:<9}  {}",
                        r + 1,
                        p * 100.0,
                        i,
                        synset,
                        name
                    )?;
                }
                Ok(())
            }
        }
    }

    fn failure(&mut self, path: &Path, err: &str) -> Result<()> {
        match self.format {
            PredictFormat::Json | PredictFormat::Jsonl => {
                self.json_line(self.object(path, None, Some(err)))
            }
            PredictFormat::Csv => self.csv_row([&*path_text(path), "", "", "", "", "", err]),
            PredictFormat::Table => Ok(writeln!(self.out, "{}\n  error: {err}", path_text(path))?),
        }
    }

    /// One CSV record, quoted as the csv crate quotes.
    fn csv_row<I, T>(&mut self, fields: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.write_record(fields)?;
        let line = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        self.out.write_all(&line)?;
        Ok(())
    }

    /// Hands what is buffered to stdout, so a reader sees each batch at once.
    fn flush(&mut self) -> Result<()> {
        Ok(self.out.flush()?)
    }

    fn end(&mut self) -> Result<()> {
        self.flush()?;
        if self.format == PredictFormat::Json {
            if !self.first {
                writeln!(self.out)?;
            }
            writeln!(self.out, "]")?;
        }
        self.out.flush()?;
        Ok(())
    }
}
