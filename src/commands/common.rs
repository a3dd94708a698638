//! Options and set-up shared by the subcommands that run a model on images
//! (predict, evaluate): which model and weights, where and how to run it,
//! and how to preprocess.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::data::batches::{max_workers, MAX_WORKERS_PER_CORE};
use crate::data::classes::Classes;
use crate::data::EvalTransform;
use crate::dist::Launch;
use crate::model::fold::{self, Folded};
use crate::model::infer::{self, Forward, RunOptions};
use crate::registry::{Interpolation, ModelSpec, Preprocess};
use crate::sys::error;
use crate::ui::Ui;
use crate::weights;
use crate::weights::health::Health;
use crate::weights::load::{self, Loaded};
use crate::weights::meta;

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model to run (default: the one a --weights file records)
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Weights file (any format `dpn convert` reads); default: the cached weights of --model
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,

    #[command(flatten)]
    pub check: WeightsCheckArgs,
}

/// What to do with weights holding NaN or infinite values or negative
/// BatchNorm running variances: warn (default) or refuse.
#[derive(Debug, Clone, Args)]
pub struct WeightsCheckArgs {
    /// Refuse weights holding NaN or infinite values or negative BatchNorm running variances
    /// (exit code 3) instead of warning
    #[arg(long)]
    pub reject_non_finite: bool,
}

impl WeightsCheckArgs {
    /// Warns about the weights in `file`, or refuses them with
    /// --reject-non-finite, if `health` found them unsound.
    pub fn apply(&self, ctx: &Context, health: &Health, file: &std::path::Path) -> Result<()> {
        if let Some(warning) = health.verdict(file, self.reject_non_finite)? {
            ctx.ui.warn(warning);
        }
        Ok(())
    }
}

/// Where and in what precision and layout a model runs.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// auto, cpu, cuda or cuda:N
    #[arg(short, long, default_value = "auto", value_name = "DEVICE")]
    pub device: String,

    /// Compute precision: f32, bf16 or f16 (f16 on CUDA only)
    #[arg(long, default_value = "f32", value_name = "DTYPE")]
    pub dtype: String,

    /// Run in channels-last (NHWC) memory format
    #[arg(long)]
    pub channels_last: bool,

    /// Run the exact network (bit for bit timm's) instead of the faster one with BatchNorms
    /// folded into the convolutions (the default on the CPU in f32 and bf16)
    #[arg(long)]
    pub exact: bool,

    /// Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it
    /// against --exact there
    #[arg(long = "folded", conflicts_with = "exact")]
    pub force_folded: bool,
}

impl DeviceArgs {
    pub fn run_options(&self) -> Result<RunOptions> {
        RunOptions::new(
            infer::parse_device(&self.device)?,
            self.dtype.parse()?,
            self.channels_last,
        )
    }

    /// Whether the folded network runs for `opts`: where it measured
    /// faster (docs/conventions.md, "Folding"), unless --exact; anywhere
    /// with --folded.
    pub fn folded(&self, opts: &RunOptions) -> bool {
        self.force_folded || (!self.exact && fold::faster_on(opts))
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Images per batch
    #[arg(short, long, default_value_t = 32, value_name = "N")]
    pub batch_size: usize,

    #[command(flatten)]
    pub target: DeviceArgs,

    /// Image decoding threads (default: one per core; at most 4 per core)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub workers: usize,

    /// Take shard I of N of the inputs; `auto`: the Slurm array's (SLURM_ARRAY_TASK_*) or
    /// RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,

    /// On out of memory, stop (exit 8) instead of retrying at half the batch size
    #[arg(long)]
    pub no_retry: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PreprocessArgs {
    /// Input size (default: the one the weights record, else the model's)
    #[arg(long, value_name = "N")]
    pub img_size: Option<usize>,

    /// Center-crop fraction (default: the one the weights record, else the model's)
    #[arg(long, value_name = "F")]
    pub crop_pct: Option<f64>,

    /// Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the
    /// one the weights record, else the model's)
    #[arg(long, value_enum, value_name = "FILTER")]
    pub interpolation: Option<Interpolation>,
}

impl PreprocessArgs {
    /// The flags given, for messages.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.img_size.is_some(), "--img-size"),
            (self.crop_pct.is_some(), "--crop-pct"),
            (self.interpolation.is_some(), "--interpolation"),
        ]
        .into_iter()
        .filter_map(|(given, flag)| given.then_some(flag))
        .collect()
    }

    pub fn apply(&self, base: &Preprocess) -> Result<Preprocess> {
        let mut p = base.clone();
        if let Some(n) = self.img_size {
            crate::arch::cost::check_image_size(n)?;
            p.image_size = n;
        }
        if let Some(c) = self.crop_pct {
            if !(c > 0.0 && c <= 1.0) {
                return Err(error::usage(format!("--crop-pct {c} must be in (0, 1]")));
            }
            p.crop_pct = c;
        }
        if let Some(i) = self.interpolation {
            p.interpolation = i;
        }
        Ok(p)
    }
}

/// `--workers N`, capped at [`max_workers`] with a warning naming the cap:
/// `--workers 10000` would otherwise start ten thousand threads to decode a
/// handful of images.
pub fn workers(requested: usize, ui: &Ui) -> usize {
    let max = max_workers();
    if requested <= max {
        return requested;
    }
    ui.warn(format!(
        "--workers {requested}: using {max}, the most dpn starts here ({MAX_WORKERS_PER_CORE} per core)"
    ));
    max
}

/// A model ready to run on images.
pub struct Prepared<'a> {
    pub spec: &'a ModelSpec,
    pub weights: PathBuf,
    pub loaded: Loaded,
    /// The folded network, when it runs instead of `loaded.model`.
    pub fast: Option<Folded>,
    pub opts: RunOptions,
    pub preprocess: Preprocess,
    pub transform: Arc<EvalTransform>,
    /// Names for the model's outputs.
    pub classes: Classes,
    /// Whether `classes` are the model's own (from `--labels` or the
    /// weights' metadata) rather than ImageNet's or indices by default.
    pub named: bool,
}

/// The model a command runs and the weights file it reads.
pub struct Located<'a> {
    pub spec: &'a ModelSpec,
    pub weights: PathBuf,
    /// The weights file's metadata (empty but for dpn's safetensors).
    pub meta: std::collections::BTreeMap<String, String>,
}

/// Resolves `-m`/`--weights` to a registry model and a weights file: the
/// model named, else the one an explicit file records.
pub fn locate<'a>(ctx: &'a Context, model: &ModelArgs) -> Result<Located<'a>> {
    if let Some(w) = &model.weights {
        crate::store::resolve::explicit_file(w)?;
    }
    // Read once: an explicit file may name its model and carry class names.
    let explicit_meta = model
        .weights
        .as_deref()
        .map(weights_metadata)
        .unwrap_or_default();
    let recorded = explicit_meta.get(meta::MODEL).cloned();
    let name =
        match (&model.model, recorded) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) => n,
            (None, None) => return Err(error::usage(
                "which model? pass -m MODEL (see `dpn info`), or --weights FILE converted by dpn",
            )),
        };
    let spec = ctx.registry.get(&name)?;
    let weights = crate::store::resolve_weights(&ctx.cache, spec, model.weights.as_deref())?;
    let meta = if model.weights.is_some() {
        explicit_meta
    } else {
        weights_metadata(&weights)
    };
    Ok(Located {
        spec,
        weights,
        meta,
    })
}

impl Located<'_> {
    /// The eval preprocessing: the one recorded in the weights (a `dpn
    /// train` checkpoint's), else the registry's, with the flags given
    /// applied over it.
    pub fn preprocess(&self, pre: &PreprocessArgs, ui: &Ui) -> Result<Preprocess> {
        let (base, source) =
            match meta::recorded_preprocess(&self.meta, &self.spec.preprocess, &self.weights)? {
                Some(p) => (p, "recorded in the weights"),
                None => (self.spec.preprocess.clone(), "the registry's"),
            };
        let preprocess = pre.apply(&base)?;
        ui.debug(format!(
            "preprocessing: {} ({source}{})",
            describe(&preprocess),
            match pre.given() {
                flags if flags.is_empty() => String::new(),
                flags => format!(", overridden by {}", flags.join(", ")),
            }
        ));
        Ok(preprocess)
    }

    /// The names of the model's `num_classes` outputs: from `labels`, else
    /// the weights' metadata, else the default ([`Classes::default_for`]);
    /// and whether they are the model's own (not a default).
    pub fn classes(
        &self,
        labels: Option<&std::path::Path>,
        num_classes: usize,
    ) -> Result<(Classes, bool)> {
        let own = match labels {
            Some(path) => Some(Classes::from_file(path)?),
            None => self
                .meta
                .get(meta::CLASS_NAMES)
                .and_then(|j| Classes::from_metadata(j)),
        };
        let named = own.is_some();
        let classes = own.unwrap_or_else(|| Classes::default_for(num_classes));
        if classes.len() != num_classes {
            return Err(error::usage(format!(
                "{} class names for a model with {num_classes} outputs; the labels must match the model",
                classes.len()
            )));
        }
        Ok((classes, named))
    }
}

/// Resolves the model and its weights, loads it onto the device and builds
/// the eval transform ([`Located::preprocess`]). `labels` overrides the
/// class names.
pub fn prepare<'a>(
    ctx: &'a Context,
    model: &ModelArgs,
    run: &RunArgs,
    pre: &PreprocessArgs,
    labels: Option<&std::path::Path>,
) -> Result<Prepared<'a>> {
    if run.batch_size == 0 {
        return Err(error::usage("--batch-size must be at least 1"));
    }
    // Before the weights are read: a flag out of range is refused at once.
    if let Some(n) = pre.img_size {
        crate::arch::cost::check_image_size(n)?;
    }
    let mut opts = run.target.run_options()?;
    // Under torchrun or srun, `auto` and `cuda` mean this local rank's GPU
    // (docs/distributed.md, "Devices"); a malformed launch is reported where
    // the command joins the ranks.
    if let (true, Ok(Some(launch))) = (opts.device != tch::Device::Cpu, Launch::from_env()) {
        opts.device = launch.device(&run.target.device)?;
    }
    if opts.device == tch::Device::Cpu {
        crate::sys::memory::cap_to_available();
    }
    let located = locate(ctx, model)?;
    let spec = located.spec;
    ctx.ui.debug(format!(
        "loading {} from {}",
        spec.name,
        located.weights.display()
    ));
    let mut loaded = load::load_model(&ctx.registry, spec, &located.weights, opts.device)?;
    model.check.apply(ctx, &loaded.health, &located.weights)?;
    // Folding reads the f32 weights, so it comes before any cast.
    let fast = if run.target.folded(&opts) {
        infer::prepare_model(&mut loaded.vs, &opts);
        Some(Folded::new(&loaded.model, &opts))
    } else {
        infer::prepare_model_for_inference(&mut loaded.vs, &opts);
        None
    };
    let preprocess = located.preprocess(pre, &ctx.ui)?;
    let transform = Arc::new(EvalTransform::from_preprocess(&preprocess));
    let (classes, named) = located.classes(labels, loaded.arch.num_classes)?;
    Ok(Prepared {
        spec,
        weights: located.weights,
        loaded,
        fast,
        opts,
        preprocess,
        transform,
        classes,
        named,
    })
}

impl Prepared<'_> {
    /// The network that runs: the folded one, else the exact one.
    pub fn net(&self) -> &dyn Forward {
        match &self.fast {
            Some(f) => f,
            None => &self.loaded.model,
        }
    }
}

/// Preprocessing in words: `32 px, crop 1, bicubic, mean [..], std [..]`.
pub fn describe(p: &Preprocess) -> String {
    format!(
        "{} px, crop {}, {}, mean {:?}, std {:?}",
        p.image_size, p.crop_pct, p.interpolation, p.mean, p.std
    )
}

/// A safetensors file's metadata (empty for other formats or on any error:
/// it only refines defaults).
pub fn weights_metadata(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    match weights::detect_format(path) {
        Ok(weights::Format::Safetensors) => weights::safetensors_metadata(path).unwrap_or_default(),
        _ => Default::default(),
    }
}
