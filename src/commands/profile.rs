//! `dpn profile`: what a model costs — parameters, MACs, file size, memory,
//! latency and throughput — beside the figures published with it.

use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Args;
use tch::{nn, Device, Kind, Tensor};

use super::common::{DeviceArgs, WeightsCheckArgs};
use super::Context;
use crate::arch::cost;
use crate::arch::Plan;
use crate::model;
use crate::model::cuda_graph::Captured;
use crate::model::fold::{ConvIn, Folded};
use crate::model::infer::{self, Forward, Precision, RunOptions};
use crate::model::Dpn;
use crate::output::{self, Cell, Column, Format, Table};
use crate::registry::ModelSpec;
use crate::report::profile::ModelRun;
use crate::sys::error;
use crate::sys::memory;
use crate::sys::output_path::OutputPath;
use crate::weights::convert;
use crate::weights::load;
use crate::weights::meta;
use crate::weights::DType;

#[derive(Debug, Args)]
#[command(after_help = "\
MACs follow fvcore's convention (timm's benchmark tables): convolution multiply-adds without \
bias, 2 per BatchNorm output element, 1 per element entering the global average pool. They are \
computed from the architecture for any --img-size, without running the model. The published \
FLOPs (seed_flops) use an unknown convention (about 1.29 x the convolution MACs) and are shown \
beside them as published.

Timing builds each model with random weights, runs --warmup batches, then times --iters \
batches; --iters 0 skips the run. Peak memory is the CUDA allocator's peak on a GPU and the \
growth of the peak resident set on the CPU.

--report FILE.html also writes one self-contained page (no script, nothing loaded from the \
network): the summary as printed, MACs, parameters and activations per stage, the distribution \
of the timed batches' latencies and the memory figures as charts, each with its numbers in a \
table, beside the registry's published figures.")]
pub struct ProfileArgs {
    /// Models to profile (default: all, as with --all)
    #[arg(value_name = "MODEL", conflicts_with = "all")]
    pub models: Vec<String>,

    /// Profile every model in the registry
    #[arg(long)]
    pub all: bool,

    /// Input side in pixels (default: the one --weights records, else each model's registry
    /// image size)
    #[arg(long, value_name = "N")]
    pub img_size: Option<usize>,

    /// Images per timed batch
    #[arg(short, long, default_value_t = 1, value_name = "N")]
    pub batch_size: usize,

    #[command(flatten)]
    pub target: DeviceArgs,

    /// Untimed batches before timing
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub warmup: usize,

    /// Timed batches (0: analytic figures only)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub iters: usize,

    /// Time with these weights (any format `dpn convert` reads) instead of random ones,
    /// and report how long loading them took; needs exactly one MODEL
    #[arg(long, value_name = "FILE")]
    pub weights: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub check: WeightsCheckArgs,

    /// MACs and activations per stage (stem, conv2..conv5, head) instead of the summary
    #[arg(long)]
    pub by_stage: bool,

    /// On out of memory, stop (exit 8) instead of timing at half the batch size
    #[arg(long)]
    pub no_retry: bool,

    /// CUDA: record the forward pass once as a CUDA graph and time its replays
    /// (one launch per batch instead of one per kernel; the batch size is fixed)
    #[arg(long)]
    pub cuda_graph: bool,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Also write a self-contained HTML page to FILE.html: MACs, parameters and activations
    /// per stage, the latency distribution, memory, beside the published figures
    #[arg(long, value_name = "FILE.html", conflicts_with = "by_stage")]
    pub report: Option<std::path::PathBuf>,
}

/// The share of the available memory (numerator, denominator) a timed
/// batch may plan on: the rest is for the model, libtorch's workspaces and
/// the rest of the machine.
const MEMORY_SHARE: (u64, u64) = (3, 4);

/// What one timed run measured.
struct Timing {
    /// The batch size timed: --batch-size, or less after out-of-memory retries.
    batch_size: usize,
    median_ms: f64,
    p90_ms: f64,
    /// Every timed batch's wall time (ms), sorted (the report's distribution).
    times_ms: Vec<f64>,
    images_per_s: f64,
    peak_bytes: Option<u64>,
    /// Reading --weights and copying them into the model.
    load_ms: Option<f64>,
}

pub fn run(args: ProfileArgs, ctx: &Context) -> Result<()> {
    let specs: Vec<&ModelSpec> = if args.models.is_empty() {
        ctx.registry.models().iter().collect()
    } else {
        args.models
            .iter()
            .map(|n| ctx.registry.get(n))
            .collect::<Result<_>>()?
    };
    if let Some(size) = args.img_size {
        cost::check_image_size(size)?;
    }
    if args.weights.is_some() && specs.len() != 1 {
        return Err(error::usage("--weights needs exactly one MODEL"));
    }
    if args.batch_size == 0 {
        return Err(error::usage("--batch-size must be at least 1"));
    }
    // A `dpn train` checkpoint records the image size it was validated at.
    let recorded = match (&args.weights, args.img_size) {
        (Some(path), None) => {
            let meta = super::common::weights_metadata(path);
            let size =
                meta::recorded_preprocess(&meta, &specs[0].preprocess, path)?.map(|p| p.image_size);
            if let Some(n) = size {
                cost::check_image_size(n)?;
                ctx.ui
                    .debug(format!("image size {n} px (recorded in the weights)"));
            }
            size
        }
        _ => None,
    };
    let args = ProfileArgs {
        img_size: args.img_size.or(recorded),
        ..args
    };
    if args.cuda_graph && (args.by_stage || args.iters == 0) {
        return Err(error::usage(
            "--cuda-graph times forward passes: it needs --iters above 0 and no --by-stage",
        ));
    }
    // Before any work: a --report that cannot be written fails now (exit 2).
    let report = args
        .report
        .as_deref()
        .map(|p| OutputPath::check(p, "--report"))
        .transpose()?;
    let table = if args.by_stage {
        by_stage(&args, &specs)
    } else {
        let opts = if args.iters > 0 {
            let opts = args.target.run_options()?;
            if args.cuda_graph && opts.device == Device::Cpu {
                return Err(error::usage(
                    "--cuda-graph needs a CUDA device (--device cuda); the CPU has no graphs",
                ));
            }
            Some(opts)
        } else {
            // Nothing runs, but a bad --dtype is still a usage error.
            args.target.dtype.parse::<Precision>()?;
            None
        };
        let (table, runs) = summary(&args, &specs, opts, ctx)?;
        if let Some(out) = &report {
            crate::report::profile::write(out, &table, &runs)?;
        }
        table
    };
    table.print(args.format)
}

fn img_size(args: &ProfileArgs, spec: &ModelSpec) -> usize {
    args.img_size.unwrap_or(spec.preprocess.image_size)
}

fn by_stage(args: &ProfileArgs, specs: &[&ModelSpec]) -> Table {
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("img_size", "Size", true),
        Column::new("stage", "Stage", false),
        Column::new("conv_macs", "Conv MACs", true),
        Column::new("bn_macs", "BN MACs", true),
        Column::new("pool_macs", "Pool MACs", true),
        Column::new("macs", "MACs", true),
        Column::new("activations", "Activations", true),
    ]);
    for spec in specs {
        let size = img_size(args, spec);
        let prof = cost::profile(&Plan::new(&spec.arch), size, size);
        let total = prof.total();
        let rows = prof
            .stages
            .iter()
            .map(|(s, c)| (s.name(), *c))
            .chain([("total".to_string(), total)]);
        for (stage, c) in rows {
            t.push(vec![
                Cell::plain(spec.name.as_str()),
                Cell::plain(size),
                Cell::plain(stage),
                Cell::new(c.conv_macs, output::si(c.conv_macs)),
                Cell::new(c.bn_macs, output::si(c.bn_macs)),
                Cell::new(c.pool_macs, output::si(c.pool_macs)),
                Cell::new(c.total_macs(), output::si(c.total_macs())),
                Cell::new(c.activations, output::si(c.activations)),
            ]);
        }
    }
    t
}

fn summary(
    args: &ProfileArgs,
    specs: &[&ModelSpec],
    opts: Option<RunOptions>,
    ctx: &Context,
) -> Result<(Table, Vec<ModelRun>)> {
    let mut runs = Vec::new();
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("img_size", "Size", true),
        Column::new("params", "Params", true),
        Column::new("buffers", "Buffers", true),
        Column::new("macs", "MACs", true),
        Column::new("conv_macs", "Conv MACs", true),
        Column::new("bn_macs", "BN MACs", true),
        Column::new("pool_macs", "Pool MACs", true),
        Column::new("activations", "Acts", true),
        Column::new("seed_flops", "FLOPs (pub.)", true),
        Column::new("seed_params", "Params (pub.)", true),
        Column::new("seed_file_size", "File (pub.)", true),
        Column::new("file_size", "File", true),
        Column::new("file_size_source", "File from", false),
        Column::new("device", "Device", false),
        Column::new("dtype", "Dtype", false),
        Column::new("layout", "Layout", false),
        Column::new("network", "Network", false),
        Column::new("batch_size", "Batch", true),
        Column::new("latency_ms_median", "Median ms", true),
        Column::new("latency_ms_p90", "p90 ms", true),
        Column::new("images_per_s", "img/s", true),
        Column::new("peak_memory_bytes", "Peak mem", true),
        Column::new("load_ms", "Load ms", true),
    ]);
    for spec in specs {
        let size = img_size(args, spec);
        // The meter starts before --weights are read, so that the peak
        // counts them, and the file is read once for the run and the counts.
        let peak = opts.map(|o| memory::PeakMeter::start(o.device));
        let loaded = match (&args.weights, opts) {
            (Some(path), Some(_)) => {
                let l = load::load_model(&ctx.registry, spec, path, Device::Cpu)?;
                args.check.apply(ctx, &l.health, path)?;
                Some(l)
            }
            _ => None,
        };
        // With --weights, count what the file holds (a fine-tuned model's
        // classifier has its own class count) and report that file's size.
        let (arch, explicit) = match (&args.weights, &loaded) {
            (Some(path), Some(l)) => (l.arch.clone(), Some(path)),
            (Some(path), None) => {
                let sd = crate::weights::read_any(path)?;
                (convert::fit(spec, &convert::shapes(&sd), path)?, Some(path))
            }
            (None, _) => (spec.arch.clone(), None),
        };
        let plan = Plan::new(&arch);
        let c = cost::profile(&plan, size, size).total();
        let cached = explicit
            .cloned()
            .map(|p| (p, "weights"))
            .or_else(|| crate::store::find_weights(&ctx.cache, spec).map(|p| (p, "cache")));
        let (file_size, file_source) = match cached {
            Some((path, source)) => {
                let len = std::fs::metadata(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .len();
                (len, source)
            }
            None => (
                convert::safetensors_size(&arch, DType::F32)?,
                "f32 safetensors",
            ),
        };
        let timing = match (&opts, peak) {
            (Some(o), Some(peak)) => {
                ctx.ui.info(format!(
                    "profiling {} ({} px, batch {}, {}, {}{})",
                    spec.name,
                    size,
                    args.batch_size,
                    infer::device_name(o.device),
                    o.precision,
                    if o.channels_last {
                        ", channels-last"
                    } else {
                        ""
                    }
                ));
                Some(time_model(spec, size, args, o, peak, loaded, &ctx.ui)?)
            }
            _ => None,
        };
        let (params, buffers) = (model::parameter_count(&arch), model::buffer_count(&arch));
        let md = &spec.metadata;
        let ms = |v: f64| format!("{v:.2}");
        t.push(vec![
            Cell::plain(spec.name.as_str()),
            Cell::plain(size),
            Cell::new(params, output::thousands(params)),
            Cell::new(buffers, output::thousands(buffers)),
            Cell::new(c.total_macs(), output::si(c.total_macs())),
            Cell::new(c.conv_macs, output::si(c.conv_macs)),
            Cell::new(c.bn_macs, output::si(c.bn_macs)),
            Cell::new(c.pool_macs, output::si(c.pool_macs)),
            Cell::new(c.activations, output::si(c.activations)),
            Cell::opt(md.flops, output::si),
            Cell::opt(md.parameters, output::si),
            Cell::opt(md.file_size, output::bytes),
            Cell::new(file_size, output::bytes(file_size)),
            Cell::plain(file_source),
            opts.map_or_else(Cell::missing, |o| Cell::plain(infer::device_name(o.device))),
            opts.map_or_else(Cell::missing, |o| Cell::plain(o.precision.to_string())),
            opts.map_or_else(Cell::missing, |o| {
                Cell::plain(if o.channels_last { "nhwc" } else { "nchw" })
            }),
            opts.map_or_else(Cell::missing, |o| {
                let widened = ConvIn::for_run(&o) == ConvIn::F32OverBf16;
                Cell::plain(match (args.target.folded(&o), args.cuda_graph) {
                    (true, false) if widened => "folded, f32 convolutions",
                    (true, false) => "folded",
                    (false, false) => "exact",
                    (true, true) => "folded, CUDA graph",
                    (false, true) => "exact, CUDA graph",
                })
            }),
            Cell::plain(timing.as_ref().map_or(args.batch_size, |t| t.batch_size)),
            Cell::opt(timing.as_ref().map(|t| t.median_ms), ms),
            Cell::opt(timing.as_ref().map(|t| t.p90_ms), ms),
            Cell::opt(timing.as_ref().map(|t| t.images_per_s), |v| {
                format!("{v:.1}")
            }),
            Cell::opt(timing.as_ref().and_then(|t| t.peak_bytes), output::bytes),
            Cell::opt(timing.as_ref().and_then(|t| t.load_ms), ms),
        ]);
        runs.push(ModelRun {
            arch,
            img_size: size,
            published_size: spec.preprocess.image_size,
            times_ms: timing.map(|t| t.times_ms).unwrap_or_default(),
        });
    }
    Ok((t, runs))
}

/// Times `loaded` (the --weights model), or `spec` with random weights;
/// `peak` was started before anything was loaded. Out of memory at a batch
/// size retries at half of it (down to 1) unless --no-retry.
fn time_model(
    spec: &ModelSpec,
    size: usize,
    args: &ProfileArgs,
    opts: &RunOptions,
    peak: memory::PeakMeter,
    loaded: Option<load::Loaded>,
    ui: &crate::ui::Ui,
) -> Result<Timing> {
    let (mut vs, model, load_ms) = match loaded {
        Some(l) => (l.vs, l.model, Some(l.load_time.as_secs_f64() * 1e3)),
        None => {
            let vs = nn::VarStore::new(Device::Cpu);
            let model = Dpn::new(&vs.root(), &spec.arch);
            (vs, model, None)
        }
    };
    // Folding reads the f32 weights, so it comes before any cast.
    let folded = if args.target.folded(opts) {
        infer::prepare_model(&mut vs, opts);
        Some(Folded::new(&model, opts))
    } else {
        infer::prepare_model_for_inference(&mut vs, opts);
        None
    };
    let net: &dyn Forward = match &folded {
        Some(f) => f,
        None => &model,
    };
    if opts.device == Device::Cpu {
        memory::cap_to_available();
    }
    let mut batch = args.batch_size;
    if !args.no_retry {
        if let Some(fit) = fitting_batch(&spec.arch, size, batch, opts, ui) {
            batch = fit;
        }
    }
    let times = loop {
        match crate::sys::panic::catch(|| time_batch(net, spec, size, batch, args, opts))
            .and_then(|r| r)
        {
            Ok(times) => break times,
            Err(e) if error::is_out_of_memory(&e) && !args.no_retry && batch > 1 => {
                let smaller = batch.div_ceil(2);
                ui.warn(format!(
                    "out of memory on {} at batch size {batch}; timing batches of {smaller} \
                     instead (--no-retry stops instead)",
                    infer::device_name(opts.device)
                ));
                batch = smaller;
            }
            Err(e) if error::is_out_of_memory(&e) => {
                return Err(error::out_of_memory(format!(
                    "out of memory on {} at batch size {batch} ({}); try {}",
                    infer::device_name(opts.device),
                    infer::oom_detail(&e),
                    if batch > 1 {
                        format!("--batch-size {}", batch.div_ceil(2))
                    } else {
                        "a smaller --img-size, --dtype bf16 or another device".to_string()
                    }
                )))
            }
            Err(e) => return Err(e),
        }
    };
    let peak_bytes = peak.finish();
    let quantile = |q: f64| {
        // Nearest-rank on the sorted sample: p90 of 10 runs is the 9th.
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
        times[rank - 1]
    };
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
    };
    Ok(Timing {
        batch_size: batch,
        median_ms: median,
        p90_ms: quantile(0.9),
        images_per_s: batch as f64 / (median / 1e3),
        peak_bytes,
        load_ms,
        times_ms: times,
    })
}

/// The batch to start from when `asked` images cannot fit in the CPU's
/// available memory by the estimate (`cost::bytes_per_image`), said in one
/// line; None when they may fit or nothing is known. Halving from a batch
/// whose input tensor alone is larger than the machine took minutes and
/// most of its memory before an answer. CUDA has no reading of free memory
/// here: a device's out of memory is fast to hit and to halve from.
fn fitting_batch(
    arch: &crate::arch::ArchSpec,
    size: usize,
    asked: usize,
    opts: &RunOptions,
    ui: &crate::ui::Ui,
) -> Option<usize> {
    if opts.device != Device::Cpu {
        return None;
    }
    let available = memory::available_bytes()?;
    // bf16 values widened to f32 for the convolutions take f32's room.
    let elem = if opts.precision == Precision::F32 || ConvIn::for_run(opts) == ConvIn::F32OverBf16 {
        4
    } else {
        2
    };
    let per_image = cost::bytes_per_image(&Plan::new(arch), size, size, elem).max(1);
    let usable = available / MEMORY_SHARE.1 * MEMORY_SHARE.0;
    let fit = usize::try_from(usable / per_image)
        .unwrap_or(usize::MAX)
        .max(1);
    if fit >= asked {
        return None;
    }
    ui.warn(format!(
        "--batch-size {asked} at {size} px needs about {} on cpu ({} an image for its input and \
         activations, estimated), more than {}/{} of the {} available; timing batches of {fit} \
         instead (--no-retry times {asked} anyway)",
        output::bytes(per_image.saturating_mul(asked as u64)),
        output::bytes(per_image),
        MEMORY_SHARE.0,
        MEMORY_SHARE.1,
        output::bytes(available)
    ));
    Some(fit)
}

/// The sorted wall times (ms) of `args.iters` forward passes of `batch`
/// random images, after `args.warmup` untimed ones.
fn time_batch(
    model: &dyn Forward,
    spec: &ModelSpec,
    size: usize,
    batch: usize,
    args: &ProfileArgs,
    opts: &RunOptions,
) -> Result<Vec<f64>> {
    let shape = [
        batch as i64,
        spec.arch.in_chans as i64,
        size as i64,
        size as i64,
    ];
    let xs = infer::prepare_input(&Tensor::randn(shape, (Kind::Float, Device::Cpu)), opts);
    let sync = || {
        if let Device::Cuda(i) = opts.device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let graph = if args.cuda_graph {
        Some(Captured::capture(model, &xs, opts)?)
    } else {
        None
    };
    let run = || -> Result<()> {
        let out = match &graph {
            Some(g) => g.run(&xs)?,
            None => infer::infer(model, &xs, opts),
        };
        sync();
        // Reading one value makes a failed kernel surface here, not later.
        let _ = out
            .f_double_value(&[0, 0])
            .map_err(crate::sys::panic::from_tch)
            .context("running the model")?;
        Ok(())
    };
    for _ in 0..args.warmup {
        run()?;
    }
    let mut times = Vec::with_capacity(args.iters);
    for _ in 0..args.iters {
        let t0 = Instant::now();
        run()?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}
