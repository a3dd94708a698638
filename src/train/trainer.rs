//! The training loop: epochs of shuffled, augmented batches, SGD updates on
//! the schedule, validation, metrics and checkpoints; stops cleanly on a
//! signal and loudly on a non-finite loss.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tch::{nn, Device, Kind, Tensor};

use super::checkpoint::{self, EpochMetrics, Partial, TrainState};
use super::config::TrainConfig;
use super::dataset::{epoch_order, ImageFolder};
use super::optim::{cross_entropy, Sgd};
use super::sched::Schedule;
use crate::atomic::write_atomic;
use crate::data::{
    BatchLoader, EvalTransform, ImageTransform, Item, LoaderOptions, RgbImage, TrainTransform,
};
use crate::error;
use crate::loader;
use crate::model::device::{self, Precision, RunOptions};
use crate::model::Dpn;
use crate::output::{Cell, Column, Format, Table};
use crate::registry::{Preprocess, Registry};
use crate::ui::Ui;

/// Header of steps.csv (one line per optimizer step).
pub const STEPS_HEADER: &str = "update,epoch,step,lr,loss,images";
pub const STEPS_FILE: &str = "steps.csv";
pub const METRICS_FILE: &str = "metrics.csv";

/// What a run needs besides its settings.
pub struct Env<'a> {
    pub registry: &'a Registry,
    pub ui: &'a Ui,
    /// Set by SIGINT/SIGTERM: checkpoint at the next step boundary and stop.
    pub stop: Arc<AtomicBool>,
}

/// How a run ended without error.
#[derive(Debug)]
pub struct Outcome {
    pub history: Vec<EpochMetrics>,
    pub last: PathBuf,
    pub best: Option<PathBuf>,
}

/// Dynamic loss scaling for f16 (torch.cuda.amp.GradScaler's defaults:
/// initial scale 2^16, halved on overflow, doubled after 2000 good steps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScaler {
    pub enabled: bool,
    pub scale: f64,
    pub good_steps: u64,
}

impl LossScaler {
    pub const GROWTH_INTERVAL: u64 = 2000;

    pub fn new(enabled: bool) -> LossScaler {
        LossScaler {
            enabled,
            scale: if enabled { 65536.0 } else { 1.0 },
            good_steps: 0,
        }
    }
}

/// One training step's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepResult {
    /// The batch's mean loss (before any loss scaling).
    pub loss: f64,
    /// False when the update was skipped (non-finite loss, or an f16 overflow).
    pub applied: bool,
}

/// One SGD step on a batch, as timm's train loop takes it: train-mode
/// forward, cross-entropy with label smoothing, backward, update at `lr`.
/// A non-finite loss returns without touching the weights.
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    model: &Dpn,
    opt: &mut Sgd,
    xs: &Tensor,
    ys: &Tensor,
    lr: f64,
    label_smoothing: f64,
    opts: &RunOptions,
    scaler: &mut LossScaler,
) -> Result<StepResult> {
    opt.zero_grad();
    // An f64 batch (a model converted to f64, for reference checks) stays f64.
    let x = if xs.kind() == Kind::Double {
        xs.to_device(opts.device)
    } else {
        device::prepare_input(xs, opts)
    };
    let y = ys.to_device(opts.device);
    let logits = model.forward_t(&x, true);
    let loss = cross_entropy(&logits, &y, label_smoothing);
    let value = loss.f_double_value(&[]).context("computing the loss")?;
    if !value.is_finite() {
        return Ok(StepResult {
            loss: value,
            applied: false,
        });
    }
    if scaler.enabled {
        (loss * scaler.scale).backward();
        if !opt.unscale_grads(1.0 / scaler.scale) {
            scaler.scale *= 0.5;
            scaler.good_steps = 0;
            return Ok(StepResult {
                loss: value,
                applied: false,
            });
        }
        opt.step(lr);
        scaler.good_steps += 1;
        if scaler.good_steps >= LossScaler::GROWTH_INTERVAL {
            scaler.scale *= 2.0;
            scaler.good_steps = 0;
        }
    } else {
        loss.backward();
        opt.step(lr);
    }
    Ok(StepResult {
        loss: value,
        applied: true,
    })
}

/// Validation results: mean loss (plain cross-entropy), top-1 and top-k
/// accuracy in percent (k = min(5, classes), as timm's validate), the
/// images that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub loss: f64,
    pub top1: f64,
    pub top5: f64,
    pub images: u64,
    pub failures: Vec<(PathBuf, String)>,
}

/// Evaluates `model` on `items`; `None` when `stop` was set meanwhile.
pub fn validate(
    model: &Dpn,
    items: &[Item],
    transform: Arc<dyn ImageTransform>,
    opts: &RunOptions,
    loader_opts: LoaderOptions,
    stop: &AtomicBool,
) -> Result<Option<Validation>> {
    let loader = BatchLoader::new(items.to_vec(), transform, loader_opts)?;
    let (mut loss_sum, mut c1, mut c5, mut n) = (0f64, 0i64, 0i64, 0u64);
    let mut failures = Vec::new();
    for batch in loader {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        failures.extend(
            batch
                .failures
                .iter()
                .map(|f| (f.path.clone(), f.error.clone())),
        );
        if batch.is_empty() {
            continue;
        }
        let ys = batch
            .label_tensor()
            .ok_or_else(|| anyhow::anyhow!("validation image without a label"))?
            .to_device(opts.device);
        let logits = device::infer(model, &batch.images, opts);
        let b = batch.len() as i64;
        let loss = cross_entropy(&logits, &ys, 0.0).f_double_value(&[])?;
        loss_sum += loss * b as f64;
        let k = logits.size()[1].min(5);
        let (_, top) = logits.topk(k, 1, true, true);
        let hit = top.eq_tensor(&ys.unsqueeze(1));
        c1 += hit.narrow(1, 0, 1).sum(Kind::Int64).int64_value(&[]);
        c5 += hit.any_dim(1, false).sum(Kind::Int64).int64_value(&[]);
        n += b as u64;
    }
    if n == 0 {
        return Ok(Some(Validation {
            loss: f64::NAN,
            top1: 0.0,
            top5: 0.0,
            images: 0,
            failures,
        }));
    }
    Ok(Some(Validation {
        loss: loss_sum / n as f64,
        top1: 100.0 * c1 as f64 / n as f64,
        top5: 100.0 * c5 as f64 / n as f64,
        images: n,
        failures,
    }))
}

/// A transform that sees item `index` as `index + offset`: the remaining
/// items of a resumed epoch get the random draws they would have had.
struct Offset<T> {
    inner: T,
    offset: usize,
}

impl<T: ImageTransform> ImageTransform for Offset<T> {
    fn output_size(&self) -> (usize, usize) {
        self.inner.output_size()
    }

    fn apply_into(&self, img: &RgbImage, index: usize, out: &mut [f32]) {
        self.inner.apply_into(img, index + self.offset, out)
    }
}

/// The augmentation seed of an epoch.
fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    seed ^ (epoch.wrapping_add(1)).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// The preprocessing of `spec` at the run's image size and crop.
fn preprocess(base: &Preprocess, cfg: &TrainConfig) -> Preprocess {
    Preprocess {
        image_size: cfg.img_size,
        crop_pct: cfg.crop_pct,
        ..base.clone()
    }
}

/// The schedule of a run with `upe` updates per epoch, epochs counted in
/// updates as timm's `create_scheduler_v2(step_on_epochs=False)` counts them.
pub fn schedule(cfg: &TrainConfig, upe: u64) -> Schedule {
    Schedule {
        kind: cfg.sched,
        lr: cfg.lr,
        total: cfg.epochs * upe,
        warmup: cfg.warmup_epochs * upe,
        warmup_lr: cfg.warmup_lr,
        min_lr: cfg.min_lr,
        decay: cfg.decay_epochs * upe,
        decay_rate: cfg.decay_rate,
    }
}

fn epoch_bar(ui: &Ui, len: u64, epoch: u64, epochs: u64) -> ProgressBar {
    if !ui.progress {
        return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template(
        "{prefix} {bar:30} {pos}/{len} batches ({elapsed}<{eta}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(len).with_style(style);
    bar.set_prefix(format!("epoch {}/{epochs}", epoch + 1));
    bar
}

/// Keeps the lines of steps.csv before update `upto` (a resumed run
/// rewrites the rest) and opens it for appending.
fn open_steps(output: &Path, upto: u64) -> Result<fs::File> {
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

/// metrics.csv from the history (rewritten whole, atomically).
pub fn write_metrics(output: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut bytes = Vec::new();
    metrics_table(history).write(Format::Csv, &mut bytes)?;
    write_atomic(&output.join(METRICS_FILE), &bytes)
}

/// The per-epoch metrics as a table: metrics.csv, and what `dpn train` prints.
pub fn metrics_table(history: &[EpochMetrics]) -> Table {
    let mut t = Table::new(vec![
        Column::new("epoch", "Epoch", true),
        Column::new("lr", "LR", true),
        Column::new("train_loss", "Train loss", true),
        Column::new("val_loss", "Val loss", true),
        Column::new("top1", "Top-1", true),
        Column::new("top5", "Top-5", true),
        Column::new("images_per_s", "img/s", true),
        Column::new("seconds", "Seconds", true),
        Column::new("skipped", "Skipped", true),
    ]);
    let pct = |v: f64| format!("{v:.2}%");
    for m in history {
        t.push(vec![
            Cell::plain(m.epoch),
            Cell::new(m.lr, format!("{:.5}", m.lr)),
            Cell::new(m.train_loss, format!("{:.4}", m.train_loss)),
            Cell::opt(m.val_loss, |v| format!("{v:.4}")),
            Cell::opt(m.top1, pct),
            Cell::opt(m.top5, pct),
            Cell::new(m.images_per_s, format!("{:.1}", m.images_per_s)),
            Cell::new(m.seconds, format!("{:.1}", m.seconds)),
            Cell::plain(m.skipped),
        ]);
    }
    t
}

/// Runs (or resumes) a training run; see `dpn train --help`.
pub fn train(
    mut cfg: TrainConfig,
    output: &Path,
    resume: Option<checkpoint::Loaded>,
    env: &Env,
) -> Result<Outcome> {
    let ui = env.ui;
    let spec = env.registry.get(&cfg.model)?;
    let device = device::parse_device(&cfg.device)?;
    let precision: Precision = cfg.amp.parse()?;
    let opts = RunOptions::new(device, precision, cfg.channels_last)?;

    // Data.
    let folder = ImageFolder::scan(&cfg.data)?;
    let classes = folder.classes.clone();
    let (train_set, val_set) = match (&cfg.val_data, cfg.val_split) {
        (Some(v), _) => {
            let val = ImageFolder::scan(v)?.relabel(&classes)?;
            (folder, Some(val))
        }
        (None, Some(f)) if f > 0.0 => {
            let (t, v) = folder.split(f, cfg.seed);
            (t, Some(v))
        }
        _ => (folder, None),
    };
    if cfg.num_classes == 0 {
        cfg.num_classes = classes.len();
    } else if cfg.num_classes < classes.len() {
        return Err(error::usage(format!(
            "--num-classes {} is less than the {} classes in {}",
            cfg.num_classes,
            classes.len(),
            cfg.data.display()
        )));
    }
    let upe = (train_set.items.len() / cfg.batch_size) as u64;
    if upe == 0 {
        return Err(error::usage(format!(
            "--batch-size {} is larger than the {} training images (the last incomplete batch is dropped, as timm does)",
            cfg.batch_size,
            train_set.items.len()
        )));
    }
    ui.info(format!(
        "{}: {} training images, {} validation images, {} classes; {} batches of {} per epoch",
        cfg.model,
        train_set.items.len(),
        val_set.as_ref().map_or(0, |v| v.items.len()),
        classes.len(),
        upe,
        cfg.batch_size
    ));

    // Model and optimizer.
    let (mut vs, model) = match &resume {
        Some(r) => {
            if r.state.model != cfg.model {
                return Err(error::bad_input(format!(
                    "checkpoint {} is of model {}, not {}",
                    r.dir.display(),
                    r.state.model,
                    cfg.model
                )));
            }
            if r.state.classes != classes {
                return Err(error::bad_input(format!(
                    "checkpoint {} was trained on other classes than {} has",
                    r.dir.display(),
                    cfg.data.display()
                )));
            }
            let l = loader::load_model(
                env.registry,
                spec,
                &r.dir.join(checkpoint::MODEL_FILE),
                Device::Cpu,
            )?;
            (l.vs, l.model)
        }
        None if cfg.init != "scratch" => {
            let path = PathBuf::from(&cfg.init);
            let mut l = loader::load_model(env.registry, spec, &path, Device::Cpu)?;
            if l.model.num_classes() != cfg.num_classes {
                tch::manual_seed(cfg.seed as i64);
                ui.info(format!(
                    "new classifier: {} -> {} classes",
                    l.model.num_classes(),
                    cfg.num_classes
                ));
                l.model.reset_classifier(&l.vs.root(), cfg.num_classes);
            }
            (l.vs, l.model)
        }
        None => {
            tch::manual_seed(cfg.seed as i64);
            let mut arch = spec.arch.clone();
            arch.num_classes = cfg.num_classes;
            let vs = nn::VarStore::new(Device::Cpu);
            let model = Dpn::new(&vs.root(), &arch);
            (vs, model)
        }
    };
    if model.num_classes() != cfg.num_classes {
        return Err(error::bad_input(format!(
            "the weights have {} classes, the run {}",
            model.num_classes(),
            cfg.num_classes
        )));
    }
    device::prepare_model(&mut vs, &opts);
    let mut opt = Sgd::new(&vs, cfg.momentum, cfg.weight_decay, cfg.nesterov);
    let sched = schedule(&cfg, upe);

    let mut state = match resume {
        Some(r) => {
            opt.load_state(&r.optimizer)?;
            let mut s = r.state;
            s.config = cfg.clone();
            s
        }
        None => TrainState {
            format: checkpoint::FORMAT.into(),
            format_version: checkpoint::FORMAT_VERSION,
            dpn_version: env!("CARGO_PKG_VERSION").into(),
            model: cfg.model.clone(),
            num_classes: cfg.num_classes,
            classes: classes.clone(),
            epoch: 0,
            step_in_epoch: 0,
            update: 0,
            seed: cfg.seed,
            torch_seed: cfg.seed as i64,
            loss_scale: LossScaler::new(precision == Precision::F16).scale,
            loss_scale_good_steps: 0,
            partial: Partial::default(),
            best_top1: None,
            best_epoch: None,
            history: Vec::new(),
            config: cfg.clone(),
            reason: String::new(),
        },
    };
    let mut scaler = LossScaler {
        enabled: precision == Precision::F16,
        scale: state.loss_scale,
        good_steps: state.loss_scale_good_steps,
    };

    fs::create_dir_all(output).with_context(|| format!("cannot create {}", output.display()))?;
    checkpoint::clean_stale(output);
    write_metrics(output, &state.history)?;
    let mut steps_file = open_steps(output, state.epoch * upe + state.step_in_epoch)?;

    let pp = preprocess(&spec.preprocess, &cfg);
    let eval_tf: Arc<dyn ImageTransform> = Arc::new(EvalTransform::from_preprocess(&pp));
    let loader_opts = LoaderOptions {
        batch_size: cfg.batch_size,
        workers: cfg.workers,
        prefetch: 2,
    };
    let mut last = output.join(checkpoint::LAST);
    let save = |state: &mut TrainState,
                opt: &Sgd,
                scaler: &LossScaler,
                vs: &nn::VarStore,
                reason: &str,
                is_best: bool|
     -> Result<PathBuf> {
        state.loss_scale = scaler.scale;
        state.loss_scale_good_steps = scaler.good_steps;
        state.reason = reason.to_string();
        checkpoint::save(output, vs, &opt.state(), state, is_best)
    };
    let interrupted = |dir: &Path| {
        error::interrupted(format!(
            "interrupted; checkpoint saved in {}; continue with `dpn train --resume {}`",
            dir.display(),
            output.display()
        ))
    };

    if state.epoch >= cfg.epochs {
        ui.info(format!(
            "already trained {} of {} epochs; nothing to do (raise --epochs to go on)",
            state.epoch, cfg.epochs
        ));
    }
    while state.epoch < cfg.epochs {
        let epoch = state.epoch;
        let order = epoch_order(train_set.items.len(), cfg.seed, epoch);
        let start_step = state.step_in_epoch;
        let skip = start_step as usize * cfg.batch_size;
        let items: Vec<Item> = order[..upe as usize * cfg.batch_size]
            .iter()
            .skip(skip)
            .map(|&i| train_set.items[i].clone())
            .collect();
        let mut tf = TrainTransform::from_preprocess(&pp, epoch_seed(cfg.seed, epoch));
        tf.scale = cfg.scale;
        tf.ratio = cfg.ratio;
        tf.hflip = cfg.hflip;
        let tf: Arc<dyn ImageTransform> = Arc::new(Offset {
            inner: tf,
            offset: skip,
        });
        let bar = epoch_bar(ui, upe, epoch, cfg.epochs);
        bar.set_position(start_step);
        let mut lr = sched.lr(epoch * upe + start_step.saturating_sub(1));
        let mut first_failure: Option<String> = None;
        let loader = BatchLoader::new(items, tf, loader_opts)?;
        let t_train = Instant::now();
        for (i, batch) in loader.enumerate() {
            let step = start_step + i as u64;
            if env.stop.load(Ordering::SeqCst) {
                bar.finish_and_clear();
                state.partial.train_seconds += t_train.elapsed().as_secs_f64();
                let dir = save(&mut state, &opt, &scaler, &vs, "interrupted", false)?;
                return Err(interrupted(&dir));
            }
            if !batch.failures.is_empty() {
                if cfg.strict {
                    let f = &batch.failures[0];
                    return Err(error::bad_input(format!(
                        "{} (--strict: unreadable training images stop the run)",
                        f.error
                    )));
                }
                state.partial.skipped += batch.failures.len() as u64;
                if first_failure.is_none() {
                    first_failure = Some(batch.failures[0].error.clone());
                }
            }
            let u = epoch * upe + step;
            lr = sched.lr(u);
            let loss = if batch.len() >= 2 {
                let ys = batch
                    .label_tensor()
                    .ok_or_else(|| anyhow::anyhow!("training image without a label"))?;
                let r = train_step(
                    &model,
                    &mut opt,
                    &batch.images,
                    &ys,
                    lr,
                    cfg.label_smoothing,
                    &opts,
                    &mut scaler,
                )?;
                if !r.loss.is_finite() {
                    bar.finish_and_clear();
                    let good = match fs::canonicalize(&last) {
                        Ok(p) => format!("the last good checkpoint is {}", p.display()),
                        Err(_) => "no checkpoint was written yet".to_string(),
                    };
                    return Err(anyhow::anyhow!(
                        "the loss is {} at epoch {} step {} (update {u}, lr {lr:.4e}); stopping \
                         without saving; {good}. Try a lower --lr, more --warmup-epochs or \
                         another --amp",
                        r.loss,
                        epoch + 1,
                        step + 1
                    ));
                }
                state.partial.loss_sum += r.loss;
                state.partial.batches += 1;
                state.partial.images += batch.len() as u64;
                r.loss
            } else {
                f64::NAN
            };
            writeln!(steps_file, "{u},{epoch},{step},{lr},{loss},{}", batch.len())
                .context("writing steps.csv")?;
            state.step_in_epoch = step + 1;
            state.update = u + 1;
            let elapsed = state.partial.train_seconds + t_train.elapsed().as_secs_f64();
            bar.set_message(format!(
                "loss {:.4}, {:.1} img/s",
                state.partial.loss_sum / state.partial.batches.max(1) as f64,
                state.partial.images as f64 / elapsed.max(1e-9)
            ));
            bar.inc(1);
        }
        state.partial.train_seconds += t_train.elapsed().as_secs_f64();
        bar.finish_and_clear();
        if let Some(f) = &first_failure {
            ui.warn(format!(
                "epoch {}: skipped {} unreadable training images (first: {f}); --strict stops instead",
                epoch + 1,
                state.partial.skipped
            ));
        }
        steps_file.flush()?;

        let t_val = Instant::now();
        let val = match &val_set {
            Some(v) => {
                match validate(
                    &model,
                    &v.items,
                    eval_tf.clone(),
                    &opts,
                    loader_opts,
                    &env.stop,
                )? {
                    Some(r) => Some(r),
                    None => {
                        let dir = save(&mut state, &opt, &scaler, &vs, "interrupted", false)?;
                        return Err(interrupted(&dir));
                    }
                }
            }
            None => None,
        };
        if let Some(v) = &val {
            if let Some((path, e)) = v.failures.first() {
                if cfg.strict {
                    return Err(error::bad_input(format!("{e} (--strict)")));
                }
                ui.warn(format!(
                    "validation: skipped {} unreadable images (first: {}: {e})",
                    v.failures.len(),
                    path.display()
                ));
            }
        }
        let val_seconds = t_val.elapsed().as_secs_f64();
        let p = std::mem::take(&mut state.partial);
        let row = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: p.loss_sum / p.batches.max(1) as f64,
            val_loss: val.as_ref().map(|v| v.loss),
            top1: val.as_ref().map(|v| v.top1),
            top5: val.as_ref().map(|v| v.top5),
            images_per_s: p.images as f64 / p.train_seconds.max(1e-9),
            seconds: p.train_seconds + val_seconds,
            skipped: p.skipped,
        };
        let is_best = match (row.top1, state.best_top1) {
            (Some(t), None) => t.is_finite(),
            (Some(t), Some(b)) => t > b,
            _ => false,
        };
        if is_best {
            state.best_top1 = row.top1;
            state.best_epoch = Some(row.epoch);
        }
        ui.info(format!(
            "epoch {}/{}: lr {:.5}, train loss {:.4}{}, {:.1} img/s, {:.1} s",
            row.epoch,
            cfg.epochs,
            row.lr,
            row.train_loss,
            match (&val, row.top1, row.top5) {
                (Some(v), Some(t1), Some(t5)) =>
                    format!(", val loss {:.4}, top-1 {t1:.2}%, top-5 {t5:.2}%", v.loss),
                _ => String::new(),
            },
            row.images_per_s,
            row.seconds
        ));
        state.history.push(row);
        state.epoch = epoch + 1;
        state.step_in_epoch = 0;
        write_metrics(output, &state.history)?;
        last = save(&mut state, &opt, &scaler, &vs, "epoch", is_best)?;
    }
    let best = state
        .best_epoch
        .map(|_| output.join(checkpoint::BEST))
        .filter(|p| p.exists());
    Ok(Outcome {
        history: state.history,
        last,
        best,
    })
}
