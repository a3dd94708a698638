//! The training loop: epochs of shuffled, augmented batches, SGD updates on
//! the schedule, validation, metrics and checkpoints; stops cleanly on a
//! signal and loudly on a non-finite loss.
//!
//! [`train`] reads as the run does: [`Run::start`] sets up (data, model,
//! optimizer, state), then each epoch is [`Run::train_epoch`] (batches,
//! each an [`Run::update`]), [`Run::validate_epoch`] and
//! [`Run::end_epoch`] (metrics row, best model, checkpoint).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use tch::{nn, Device};

use super::checkpoint::{self, EpochMetrics, Partial, TrainState};
use super::clip::{Clip, ClipMode};
use super::config::TrainConfig;
use super::dataset::epoch_order;
use super::ema::{Ema, EmaSettings};
use super::history;
use super::logs::{open_steps, record_segment, write_metrics};
use super::loss::{Loss, LossChoice};
use super::optim::{self, Optimizer};
use super::sched::Schedule;
use super::step::{train_micro_step, How, LossScaler, Micro};
#[cfg(feature = "test-hooks")]
use super::validate::test_f64;
use super::validate::{validate, Validation};
use crate::augment::mixup;
use crate::augment::splits::{split_major, SplitTransform};
use crate::data::classes::Classes;
use crate::data::folders::{ClassIndex, ImageFolder, IMAGENET_CLASSES};
use crate::data::{BatchLoader, EvalTransform, ImageTransform, Item, LoaderOptions, RgbImage};
use crate::dist::{agree, shard, Ddp, Fingerprint, Group};
use crate::model::infer::{self, Precision, RunOptions};
use crate::model::Dpn;
use crate::registry::{ModelSpec, Preprocess, Registry};
use crate::sys::error;
use crate::ui::{progress, Ui};
use crate::weights::load;

/// What a run needs besides its settings.
pub struct Env<'a> {
    pub registry: &'a Registry,
    pub ui: &'a Ui,
    /// Set by SIGINT/SIGTERM: checkpoint at the next step boundary and stop.
    pub stop: Arc<AtomicBool>,
    /// The ranks of a distributed run (torchrun, srun); `None` for one
    /// process. Rank 0 alone writes files and speaks.
    pub group: Option<Rc<Group>>,
}

/// How a run ended without error.
#[derive(Debug)]
pub struct Outcome {
    pub history: Vec<EpochMetrics>,
    pub last: PathBuf,
    pub best: Option<PathBuf>,
}

/// Runs (or resumes) a training run; see `dpn train --help`.
pub fn train(
    cfg: TrainConfig,
    output: &Path,
    resume: Option<checkpoint::Loaded>,
    env: &Env,
) -> Result<Outcome> {
    let mut run = Run::start(cfg, output, resume, env)?;
    // timm's `num_epochs`: --epochs plus what the schedule adds (cycles,
    // cooldown, a warmup prefix).
    let epochs = run.sched.num_epochs;
    if run.state.epoch >= epochs {
        env.ui.info(format!(
            "already trained {} of {epochs} epochs; nothing to do (raise --epochs to go on)",
            run.state.epoch
        ));
    }
    while run.state.epoch < epochs {
        let lr = run.train_epoch()?;
        run.distribute_bn()?;
        let t_val = Instant::now();
        let val = run.validate_epoch(false)?;
        let ema_val = run.validate_epoch(true)?;
        run.end_epoch(lr, val, ema_val, t_val.elapsed().as_secs_f64())?;
    }
    let best = run
        .state
        .best_epoch
        .map(|_| output.join(checkpoint::BEST))
        .filter(|p| p.exists());
    Ok(Outcome {
        history: run.state.history,
        last: run.last,
        best,
    })
}

/// The training and validation images of a run, and its class names.
struct Data {
    train: ImageFolder,
    val: Option<ImageFolder>,
    /// The classes labels index, as the checkpoint records them: folder
    /// names, or ImageNet's synset ids for a run that keeps ImageNet's head.
    classes: Vec<String>,
}

/// Everything a run holds from one epoch to the next.
struct Run<'a> {
    cfg: TrainConfig,
    spec: &'a ModelSpec,
    output: &'a Path,
    ui: &'a Ui,
    stop: &'a AtomicBool,
    data: Data,
    /// Updates per epoch (the last incomplete batch of each rank's share is
    /// dropped, as timm does).
    upe: u64,
    group: Option<Rc<Group>>,
    /// Gradient averaging and buffer broadcasts of a distributed run.
    ddp: Option<Ddp>,
    vs: nn::VarStore,
    model: Dpn,
    opt: Box<dyn Optimizer>,
    sched: Schedule,
    scaler: LossScaler,
    opts: RunOptions,
    state: TrainState,
    preprocess: Preprocess,
    eval_tf: Arc<dyn ImageTransform>,
    loader_opts: LoaderOptions,
    /// steps.csv (rank 0 only).
    steps_file: Option<fs::File>,
    /// The newest checkpoint written (`last` until the first one exists).
    last: PathBuf,
    /// timm's model EMA (`--model-ema`), updated after every update.
    ema: Option<Ema>,
    /// `--clip-grad` (`train::clip`).
    clip: Option<Clip>,
}

impl<'a> Run<'a> {
    /// Set-up: data, model (fresh, fine-tuned or resumed), optimizer, state
    /// and the run folder's files.
    fn start(
        mut cfg: TrainConfig,
        output: &'a Path,
        resume: Option<checkpoint::Loaded>,
        env: &'a Env,
    ) -> Result<Run<'a>> {
        let ui = env.ui;
        let spec = env.registry.get(&cfg.model)?;
        let group = env.group.clone();
        // Under a launcher, `auto` and `cuda` are this local rank's GPU.
        let device = match &group {
            Some(g) => g.device(&cfg.device)?,
            None => infer::parse_device(&cfg.device)?,
        };
        let precision: Precision = cfg.amp.parse()?;
        let opts = RunOptions::new(device, precision, cfg.channels_last)?;
        if device == Device::Cpu {
            crate::sys::memory::cap_to_available();
        }

        let (rank, world) = group.as_ref().map_or((0, 1), |g| (g.rank(), g.world()));
        let data = agree(&group, load_data(&mut cfg))?;
        if let Some(g) = &group {
            let own = inputs_fingerprint(&cfg, &data, resume.as_ref());
            if let Err(e) = g.agree_on(own.as_ref()) {
                own?;
                return Err(e);
            }
        }
        let upe = updates_per_epoch(&cfg, &data, world, ui)?;
        if let Some(r) = resume
            .as_ref()
            .filter(|r| r.state.config.world_size == world)
        {
            // Another world size splits epochs otherwise; the same one cannot
            // have saved a step past its epoch.
            let path = r.dir.join(checkpoint::STATE_FILE);
            agree(
                &group,
                checkpoint::check_step_in_epoch(r.state.step_in_epoch, upe, &path),
            )?;
        }

        let built = build_model(&cfg, env.registry, spec, resume.as_ref(), &data, ui);
        let (mut vs, mut model) = agree(&group, built)?;
        model.set_drop_rate(cfg.drop);
        infer::prepare_model(&mut vs, &opts);
        #[cfg(feature = "test-hooks")]
        if test_f64() {
            vs.double();
        }
        // The optimizer first: `--layer-decay-no-opt-scale` freezes
        // parameters as it groups them, and DDP must not wait for their
        // gradients.
        let mut opt = optim::build(&cfg.optim_options(), &vs)?;
        let ddp = match &group {
            Some(g) => Some(Ddp::new(g.clone(), &vs, model.keys(), cfg.sync_bn)?),
            None => None,
        };
        let clip = match cfg.clip_grad {
            Some(v) => Some(Clip::new(ClipMode::parse(cfg.clip_mode())?, v, &vs)),
            None => None,
        };
        // The schedule counts optimizer updates (train.py's
        // `updates_per_epoch`, rounded up over the accumulation groups).
        let sched = schedule(&cfg, upe.div_ceil(cfg.accum_steps() as u64));
        let ema = agree(
            &group,
            start_ema(&cfg, spec, &vs, &model, resume.as_ref(), ui),
        )?;
        let state = initial_state(&cfg, resume, opt.as_mut(), &data, precision)?;
        let scaler = LossScaler {
            enabled: precision == Precision::F16,
            scale: state.loss_scale,
            good_steps: state.loss_scale_good_steps,
        };

        let files = if rank == 0 {
            open_run_files(output, &state, upe).map(Some)
        } else {
            Ok(None)
        };
        let steps_file = agree(&group, files)?;

        let pp = preprocess(&spec.preprocess, &cfg);
        let eval_tf: Arc<dyn ImageTransform> = Arc::new(EvalTransform::from_preprocess(&pp));
        let loader_opts = LoaderOptions {
            batch_size: cfg.batch_size,
            workers: cfg.workers,
            prefetch: 2,
        };
        Ok(Run {
            cfg,
            spec,
            output,
            ui,
            stop: &env.stop,
            data,
            upe,
            group,
            ddp,
            vs,
            model,
            opt,
            sched,
            scaler,
            opts,
            state,
            preprocess: pp,
            eval_tf,
            loader_opts,
            steps_file,
            last: output.join(checkpoint::LAST),
            ema,
            clip,
        })
    }

    /// One epoch's updates (from the step a resumed run stopped at); returns
    /// the last learning rate.
    fn train_epoch(&mut self) -> Result<f64> {
        let (epoch, upe) = (self.state.epoch, self.upe);
        let start_step = self.state.step_in_epoch;
        let loader = self.epoch_loader()?;
        let bar = progress::epoch(self.ui, upe, epoch, self.sched.num_epochs);
        bar.set_position(start_step);
        let mut lr = self.lr_of(self.update_of(start_step.saturating_sub(1)));
        let mut first_failure: Option<String> = None;
        let t_train = Instant::now();
        for (i, batch) in loader.enumerate() {
            let batch = batch.map_err(|e| {
                // The loader's buffers are in CPU memory whatever the device.
                if !error::is_out_of_memory(&e) {
                    return e;
                }
                error::out_of_memory(format!(
                    "{e}; try --batch-size {} (with a --lr scaled to match) or a smaller --img-size",
                    (self.cfg.batch_size / 2).max(2)
                ))
            })?;
            let step = start_step + i as u64;
            let totals = self.batch_totals(&batch)?;
            if totals.stop {
                bar.finish_and_clear();
                self.state.partial.train_seconds += t_train.elapsed().as_secs_f64();
                return Err(self.interrupt());
            }
            if !batch.failures.is_empty() {
                if self.cfg.strict {
                    return Err(error::bad_input(format!(
                        "{} (--strict: unreadable training images stop the run)",
                        batch.failures[0].error
                    )));
                }
                first_failure.get_or_insert_with(|| batch.failures[0].error.clone());
            }
            self.state.partial.skipped += totals.skipped;
            lr = self.update(&batch, &totals, step, &bar)?;
            let p = &self.state.partial;
            let elapsed = p.train_seconds + t_train.elapsed().as_secs_f64();
            bar.set_message(format!(
                "loss {:.4}, {:.1} img/s",
                p.loss_sum / p.batches.max(1) as f64,
                p.images as f64 / elapsed.max(1e-9)
            ));
            bar.inc(1);
        }
        self.state.partial.train_seconds += t_train.elapsed().as_secs_f64();
        bar.finish_and_clear();
        self.end_of_epoch_checks(first_failure.as_deref())?;
        Ok(lr)
    }

    /// This epoch's batches on this rank, from the step a resumed run
    /// stopped at: the epoch's order, this rank's share, and the
    /// augmentation keyed by each image's global position.
    fn epoch_loader(&self) -> Result<BatchLoader> {
        let (epoch, upe, bs) = (self.state.epoch, self.upe, self.cfg.batch_size);
        let order = epoch_order(self.data.train.items.len(), self.cfg.seed, epoch);
        let (rank, world) = self.rank_world();
        let order = if self.cfg.aug_repeats >= 1.0 {
            shard::repeat_share(&order, self.cfg.aug_repeats, rank, world)
        } else {
            shard::train_share(&order, rank, world)
        };
        let skip = self.state.step_in_epoch as usize * bs;
        let items: Vec<Item> = order[..upe as usize * bs]
            .iter()
            .skip(skip)
            .map(|&i| self.data.train.items[i].clone())
            .collect();
        let tf = self
            .cfg
            .train_transform(&self.preprocess, epoch_seed(self.cfg.seed, epoch))?;
        let tf: Box<dyn ImageTransform> = match self.cfg.aug_splits {
            n if n >= 2 => Box::new(SplitTransform {
                inner: tf,
                splits: n,
            }),
            _ => Box::new(tf),
        };
        let tf: Arc<dyn ImageTransform> = Arc::new(Offset {
            inner: tf,
            offset: skip,
            rank,
            world,
        });
        BatchLoader::new(items, tf, self.loader_opts)
    }

    /// After an epoch's batches: an epoch that read no image is an error,
    /// skipped images a warning; steps.csv is flushed.
    fn end_of_epoch_checks(&mut self, first_failure: Option<&str>) -> Result<()> {
        let epoch = self.state.epoch;
        if self.state.partial.images == 0 {
            return Err(error::bad_input(format!(
                "epoch {}: not one training image of {} could be read{}; nothing was trained",
                epoch + 1,
                self.cfg.data.display(),
                first_failure.map_or_else(String::new, |f| format!(" (first: {f})"))
            )));
        }
        if let Some(f) = first_failure {
            self.ui.warn(format!(
                "epoch {}: skipped {} unreadable training images (first: {f}); --strict stops instead",
                epoch + 1,
                self.state.partial.skipped
            ));
        }
        if let Some(f) = &mut self.steps_file {
            f.flush()?;
        }
        Ok(())
    }

    /// The learning rate of update `u`: the schedule's, plateau's after the
    /// eval metric of each finished epoch (train.py's
    /// `lr_scheduler.step(epoch + 1, latest_metric)` at each epoch's end:
    /// `--eval-metric` of the validation, the EMA's when the EMA is
    /// validated), replayed from the history so a resumed run goes on as
    /// one that was never stopped.
    fn lr_of(&self, u: u64) -> f64 {
        if self.sched.kind != super::sched::SchedKind::Plateau {
            return self.sched.lr(u);
        }
        let metric = self.cfg.eval_metric.as_str();
        let metrics: Vec<Option<f64>> = self
            .state
            .history
            .iter()
            .map(|r| history::row_metric(r, metric))
            .collect();
        self.sched.lr_with(u, &metrics)
    }

    /// One optimizer update on `batch` (step `step` of the epoch), logged to
    /// steps.csv; a batch of fewer than two images is logged and skipped, as
    /// BatchNorm cannot train on it. Returns the update's learning rate.
    fn update(
        &mut self,
        batch: &crate::data::Batch,
        totals: &BatchTotals,
        step: u64,
        bar: &ProgressBar,
    ) -> Result<f64> {
        let epoch = self.state.epoch;
        let u = epoch * self.upe + step;
        let micro = Micro::of(step, self.upe, self.cfg.accum_steps() as u64);
        let lr = self.lr_of(self.update_of(step));
        let loss = if totals.trainable {
            let ys = batch
                .label_tensor()
                .ok_or_else(|| anyhow::anyhow!("training image without a label"))?;
            #[cfg(feature = "test-hooks")]
            let f64_images = test_f64().then(|| batch.images.to_kind(tch::Kind::Double));
            #[cfg(not(feature = "test-hooks"))]
            let f64_images: Option<tch::Tensor> = None;
            let images = f64_images.as_ref().unwrap_or(&batch.images);
            let (images, ys) = match self.cfg.aug_splits {
                n if n >= 2 => split_major(images, &ys, n),
                _ => (images.shallow_clone(), ys),
            };
            let (images, ys) = self.mix(&images, ys, u)?;
            let images = &images;
            let loss_fn = self.loss();
            #[cfg(feature = "test-hooks")]
            dump_batch(self.rank_world().0, u, images, &ys)?;
            let r = crate::sys::panic::catch(|| {
                train_micro_step(
                    &self.model,
                    self.opt.as_mut(),
                    images,
                    &ys,
                    lr,
                    loss_fn,
                    &self.opts,
                    &mut self.scaler,
                    self.ddp.as_ref(),
                    How {
                        clip: self.clip.as_ref(),
                        micro,
                    },
                )
            })
            .and_then(|r| r)
            .map_err(|e| self.out_of_memory(e, "training"))?;
            let updates = self.update_of(step) + 1;
            if let Some(ema) = self.ema.as_mut().filter(|_| micro.update) {
                // timm: `model_ema.update(model, step=num_updates)`, 1-based.
                ema.update(&self.vs, &self.model, updates)?;
            }
            if !r.loss.is_finite() {
                bar.finish_and_clear();
                let good = match fs::canonicalize(&self.last) {
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
            let p = &mut self.state.partial;
            p.loss_sum += r.loss;
            p.batches += 1;
            p.images += totals.images;
            r.loss
        } else {
            f64::NAN
        };
        if let Some(f) = &mut self.steps_file {
            writeln!(f, "{u},{epoch},{step},{lr},{loss},{}", totals.images)
                .context("writing steps.csv")?;
        }
        // Mid-group, the step is not recorded: a resumed run redoes the
        // group from its first micro-batch (its gradients are not saved).
        if micro.update {
            self.state.step_in_epoch = step + 1;
            self.state.update = self.update_of(step) + 1;
        }
        Ok(lr)
    }

    /// The optimizer update (0-based, over the run) that batch `step` of the
    /// current epoch belongs to: batches in `--grad-accum-steps` groups,
    /// `ceil(batches / k)` updates an epoch, as train.py counts them.
    fn update_of(&self, step: u64) -> u64 {
        let k = self.cfg.accum_steps() as u64;
        self.state.epoch * self.upe.div_ceil(k) + step / k
    }

    /// timm's Mixup/CutMix on update `u`'s batch when the run has it (the
    /// mixed batch and soft targets), else the batch and labels as they are.
    /// The draws are keyed by the seed and `u` (`augment::mixup::rng_for`):
    /// a resumed run and every world size draw the same ones.
    fn mix(
        &self,
        images: &tch::Tensor,
        ys: tch::Tensor,
        u: u64,
    ) -> Result<(tch::Tensor, tch::Tensor)> {
        let Some(m) = self.cfg.mixup()? else {
            return Ok((images.shallow_clone(), ys));
        };
        let (rank, world) = self.rank_world();
        let share = mixup::Share {
            per_rank: self.cfg.batch_size,
            rank,
            world,
        };
        let size = images.size();
        let draws = m.draw(
            &mut mixup::rng_for(self.cfg.seed, u),
            size[0] as usize,
            share,
            (size[2] as usize, size[3] as usize),
            self.cfg.mixup_enabled(self.state.epoch),
        );
        Ok(m.mix(images, &ys, &draws))
    }

    /// train.py's `train_loss_fn` for class-index targets.
    fn loss(&self) -> Loss {
        LossChoice {
            smoothing: self.cfg.label_smoothing,
            jsd: self.cfg.jsd_loss.then_some(self.cfg.aug_splits),
            mixup_active: self.cfg.mixup().ok().flatten().is_some(),
            bce: self.cfg.bce_loss,
            bce_target_thresh: self.cfg.bce_target_thresh,
            bce_sum: self.cfg.bce_sum,
            bce_pos_weight: self.cfg.bce_pos_weight,
        }
        .select()
    }

    fn rank_world(&self) -> (usize, usize) {
        self.group
            .as_ref()
            .map_or((0, 1), |g| (g.rank(), g.world()))
    }

    /// What every rank needs to know before a step: whether to stop, and
    /// whether the step can train (BatchNorm needs two images in every
    /// rank's batch), with the images and failures of all ranks' batches.
    fn batch_totals(&self, batch: &crate::data::Batch) -> Result<BatchTotals> {
        let stop = self.stop.load(Ordering::SeqCst);
        let small = batch.len() < 2;
        let (images, skipped) = (batch.len() as u64, batch.failures.len() as u64);
        let Some(g) = &self.group else {
            return Ok(BatchTotals {
                stop,
                trainable: !small,
                images,
                skipped,
            });
        };
        // One all-reduce: a signal to any rank (torchrun forwards SIGTERM to
        // all) stops all, at the same step.
        let t = g.sum(&[
            f64::from(u8::from(stop)),
            f64::from(u8::from(small)),
            images as f64,
            skipped as f64,
        ])?;
        Ok(BatchTotals {
            stop: t[0] > 0.0,
            trainable: t[1] == 0.0,
            images: t[2] as u64,
            skipped: t[3] as u64,
        })
    }

    /// timm's `distribute_bn` at the end of a distributed epoch: BatchNorm's
    /// running means and variances averaged over the ranks ("reduce", the
    /// default) or taken from rank 0 ("broadcast"), so that validation and
    /// the checkpoint use one set of statistics. The EMA's too when it is
    /// validated (a validation set, no `--model-ema-force-cpu`), as
    /// train.py distributes `ema_model` just before validating it: each
    /// rank's EMA averaged its own rank's statistics.
    fn distribute_bn(&mut self) -> Result<()> {
        let (Some(g), Some(ddp)) = (&self.group, &self.ddp) else {
            return Ok(());
        };
        let is_stat = |n: &str| n.ends_with("running_mean") || n.ends_with("running_var");
        let model: Vec<&tch::Tensor> = ddp
            .buffer_names()
            .iter()
            .zip(ddp.buffers())
            .filter(|(n, _)| is_stat(n))
            .map(|(_, t)| t)
            .collect();
        distribute_stats(g, &model, &self.cfg.dist_bn)?;
        if let Some(e) = self.validated_ema() {
            let ema: Vec<&tch::Tensor> = e
                .entries()
                .iter()
                .filter(|(n, _)| is_stat(n))
                .map(|(_, t)| t)
                .collect();
            distribute_stats(g, &ema, &self.cfg.dist_bn)?;
        }
        Ok(())
    }

    /// The EMA when each epoch validates it: a validation set and no
    /// `--model-ema-force-cpu` (train.py's condition).
    fn validated_ema(&self) -> Option<&Ema> {
        self.ema
            .as_ref()
            .filter(|e| !e.settings.force_cpu && self.data.val.is_some())
    }

    /// The validation pass of the model (or of its EMA: none without one,
    /// or with `--model-ema-force-cpu`, as timm), when the run has a
    /// validation set.
    fn validate_epoch(&mut self, ema: bool) -> Result<Option<Validation>> {
        let Some(v) = &self.data.val else {
            return Ok(None);
        };
        let model = match self.validated_ema() {
            _ if !ema => &self.model,
            Some(e) => &e.model,
            None => return Ok(None),
        };
        let Some(val) = crate::sys::panic::catch(|| {
            validate(
                model,
                &v.items,
                self.eval_tf.clone(),
                &self.opts,
                self.loader_opts,
                self.stop,
                self.group.as_deref(),
            )
        })
        .and_then(|r| r)
        .map_err(|e| self.out_of_memory(e, "validating"))?
        else {
            return Err(self.interrupt());
        };
        if let Some((path, e)) = val.failures.first() {
            if self.cfg.strict {
                return Err(error::bad_input(format!("{e} (--strict)")));
            }
            self.ui.warn(format!(
                "validation: skipped {} unreadable images (first: {}: {e})",
                val.failures.len(),
                path.display()
            ));
        }
        Ok(Some(val))
    }

    /// The epoch's metrics row, the best model so far, and a checkpoint.
    fn end_epoch(
        &mut self,
        lr: f64,
        val: Option<Validation>,
        ema_val: Option<Validation>,
        val_seconds: f64,
    ) -> Result<()> {
        if let Some(v) = val.as_ref().filter(|v| v.images > 0 && !v.loss.is_finite()) {
            let good = match fs::canonicalize(&self.last) {
                Ok(p) => format!("the last good checkpoint is {}", p.display()),
                Err(_) => "no checkpoint was written yet".to_string(),
            };
            return Err(anyhow::anyhow!(
                "the validation loss is {} after epoch {} (lr {lr:.4e}): the model diverged; \
                 stopping without saving; {good}. Try a lower --lr or --min-lr, or more \
                 --warmup-epochs",
                v.loss,
                self.state.epoch + 1
            ));
        }
        let p = std::mem::take(&mut self.state.partial);
        let mut row = epoch_row(self.state.epoch, lr, &p, val.as_ref(), val_seconds);
        row.ema_val_loss = ema_val.as_ref().map(|v| v.loss);
        row.ema_top1 = ema_val.as_ref().map(|v| v.top1);
        row.ema_top5 = ema_val.as_ref().map(|v| v.top5);
        // timm's CheckpointSaver: the eval metric (the EMA's when validated).
        let metric = self.cfg.eval_metric.as_str();
        let best = self.state.best_metric.or(self
            .state
            .best_top1
            .filter(|_| !self.cfg.model_ema && matches!(metric, "top1" | "")));
        let is_best = match (history::row_metric(&row, metric), best) {
            (Some(_), None) => true,
            (Some(m), Some(b)) => history::better(metric, m, b),
            _ => false,
        };
        if is_best {
            self.state.best_metric = history::row_metric(&row, metric);
            self.state.best_top1 = row.top1;
            self.state.best_epoch = Some(row.epoch);
        }
        self.ui.info(format!(
            "epoch {}/{}: lr {:.5}, train loss {:.4}{}, {:.1} img/s, {:.1} s",
            row.epoch,
            self.sched.num_epochs,
            row.lr,
            row.train_loss,
            match (&val, row.top1, row.top5) {
                (Some(v), Some(t1), Some(t5)) =>
                    format!(", val loss {:.4}, top-1 {t1:.2}%, top-5 {t5:.2}%", v.loss),
                _ => String::new(),
            } + &match &ema_val {
                Some(v) => format!(
                    "; EMA val loss {:.4}, top-1 {:.2}%, top-5 {:.2}%",
                    v.loss, v.top1, v.top5
                ),
                None => String::new(),
            },
            row.images_per_s,
            row.seconds
        ));
        self.state.history.push(row);
        self.state.epoch += 1;
        self.state.step_in_epoch = 0;
        let saved = if self.rank_world().0 == 0 {
            write_metrics(self.output, &self.state.history)
                .map(|()| self.write_report())
                .and_then(|()| self.save("epoch", is_best))
                .map(Some)
        } else {
            Ok(None)
        };
        if let Some(dir) = agree(&self.group, saved)? {
            self.last = dir;
        }
        Ok(())
    }

    /// Rank 0 keeps the run folder's report.html current (atomically), so
    /// the run can be looked at while it goes on; a page that cannot be
    /// written is a warning, not a reason to stop training.
    fn write_report(&self) {
        let page = self.output.join("report.html");
        if let Err(e) = crate::report::write_run_report(&[self.output], &page) {
            self.ui
                .warn(format!("cannot write {}: {e:#}", page.display()));
        }
    }

    /// `e` with the batch size, device and what to try when it is an
    /// out-of-memory error (exit 8). Training does not retry at a smaller
    /// batch: the batch size is part of the recipe (learning rate, BatchNorm).
    fn out_of_memory(&self, e: anyhow::Error, doing: &str) -> anyhow::Error {
        if !error::is_out_of_memory(&e) {
            return e;
        }
        let bs = self.cfg.batch_size;
        error::out_of_memory(format!(
            "out of memory on {} {doing} at batch size {bs} ({}); try --batch-size {} (with a \
             --lr scaled to match), a smaller --img-size or --amp bf16",
            infer::device_name(self.opts.device),
            infer::oom_detail(&e),
            (bs / 2).max(2)
        ))
    }

    /// Writes a checkpoint of the run as it stands; returns its folder.
    fn save(&mut self, reason: &str, is_best: bool) -> Result<PathBuf> {
        self.state.loss_scale = self.scaler.scale;
        self.state.loss_scale_good_steps = self.scaler.good_steps;
        self.state.reason = reason.to_string();
        checkpoint::save(
            self.output,
            &self.vs,
            &self.model,
            &checkpoint::ModelInfo {
                spec: self.spec,
                preprocess: &self.preprocess,
            },
            &self.opt.state(),
            &self.state,
            is_best,
            self.ema.as_ref().map(|e| (&e.vs, &e.model)),
        )
    }

    /// Saves an "interrupted" checkpoint and returns the error (exit 130)
    /// that tells the user how to resume; a failed save is the error instead.
    /// In a distributed run rank 0 saves and the others wait for it: a
    /// launcher such as torchrun stops every process once one has exited.
    fn interrupt(&mut self) -> anyhow::Error {
        let rank = self.rank_world().0;
        let saved = if rank == 0 {
            self.save("interrupted", false).map(Some)
        } else {
            Ok(None)
        };
        match agree(&self.group, saved) {
            Ok(Some(dir)) => error::interrupted(format!(
                "interrupted; checkpoint saved in {}; continue with `dpn train --resume {}`",
                dir.display(),
                self.output.display()
            )),
            Ok(None) => error::interrupted(format!(
                "rank {rank}: interrupted; rank 0 saved the checkpoint"
            )),
            Err(e) => e,
        }
    }
}

/// Scans the training folder and the validation set (a folder, or a split
/// of the training images); sets `cfg.num_classes` when it is 0. The
/// classes are the training folders in sorted order, labels their positions;
/// only a run with `--num-classes 1000` on folders that are all ImageNet
/// synset ids keeps ImageNet's classes and indices. Validation folders are
/// looked up by name among the training classes.
/// Updates per epoch: each rank's share of the training images (every
/// share has the same length: DistributedSampler pads) in whole batches,
/// the last incomplete one dropped as timm does. Says what the run trains on.
fn updates_per_epoch(cfg: &TrainConfig, data: &Data, world: usize, ui: &Ui) -> Result<u64> {
    if data.train.classes.len() == IMAGENET_CLASSES && data.train.classes == Classes::imagenet() {
        ui.info(
            "class folders named by ImageNet synsets with --num-classes 1000: labels are ImageNet's indices (the ImageNet head is kept)",
        );
    }
    let n = data.train.items.len();
    let per_process = |text: String| if world > 1 { text } else { String::new() };
    let share = if cfg.aug_repeats >= 1.0 {
        shard::repeat_selected(n, world)
    } else {
        n.div_ceil(world)
    };
    if share == 0 {
        return Err(error::usage(format!(
            "--aug-repeats: timm's RepeatAugSampler rounds the {n} training images down to a \
             multiple of {}{}, which leaves none; it needs at least {} images, or leave \
             --aug-repeats out",
            shard::REPEAT_ROUND,
            per_process(format!(" per process ({world})")),
            shard::REPEAT_ROUND * world
        )));
    }
    let upe = (share / cfg.batch_size) as u64;
    if upe == 0 {
        return Err(error::usage(format!(
            "--batch-size {} is larger than the {share} training images{} (the last incomplete batch is dropped, as timm does)",
            cfg.batch_size,
            per_process(format!(" of each of the {world} processes"))
        )));
    }
    ui.info(format!(
        "{}: {} training images, {} validation images, {} classes; {} batches of {} per epoch{}",
        cfg.model,
        data.train.items.len(),
        data.val.as_ref().map_or(0, |v| v.items.len()),
        data.classes.len(),
        upe,
        cfg.batch_size,
        per_process(format!(
            " on each of {world} processes (global batch {})",
            cfg.batch_size * world
        ))
    ));
    Ok(upe)
}

/// timm's model EMA when the run has `--model-ema`: a copy of the model,
/// or the resumed checkpoint's EMA (its `ema/` folder; a checkpoint
/// without one starts the EMA from its model, as timm does).
fn start_ema(
    cfg: &TrainConfig,
    spec: &ModelSpec,
    vs: &nn::VarStore,
    model: &Dpn,
    resume: Option<&checkpoint::Loaded>,
    ui: &Ui,
) -> Result<Option<Ema>> {
    if !cfg.model_ema {
        return Ok(None);
    }
    let settings = EmaSettings {
        decay: cfg.model_ema_decay,
        warmup: cfg.model_ema_warmup,
        force_cpu: cfg.model_ema_force_cpu,
    };
    let mut ema = Ema::new(vs, model, &spec.arch, settings)?;
    if let Some(r) = resume {
        if r.dir.join(super::ema::EMA_DIR).is_dir() {
            ema.load(&r.dir)?;
        } else {
            ui.warn(format!(
                "checkpoint {} has no EMA; the EMA starts from its weights",
                r.dir.display()
            ));
        }
    }
    Ok(Some(ema))
}

/// The state a run starts from: the checkpoint's (its optimizer state
/// loaded into `opt`, its settings replaced by this run's), or a fresh one.
fn initial_state(
    cfg: &TrainConfig,
    resume: Option<checkpoint::Loaded>,
    opt: &mut dyn Optimizer,
    data: &Data,
    precision: Precision,
) -> Result<TrainState> {
    Ok(match resume {
        Some(r) => {
            opt.load_state(&r.optimizer)?;
            let mut s = r.state;
            s.config = cfg.clone();
            s
        }
        None => fresh_state(cfg, &data.classes, precision),
    })
}

/// Rank 0's files in the run folder: the folder itself (stale temporary
/// files removed), metrics.csv as the state has it, and steps.csv open for
/// appending from the state's update.
fn open_run_files(output: &Path, state: &TrainState, upe: u64) -> Result<fs::File> {
    fs::create_dir_all(output).with_context(|| format!("cannot create {}", output.display()))?;
    checkpoint::clean_stale(output);
    write_metrics(output, &state.history)?;
    let upto = state.epoch * upe + state.step_in_epoch;
    record_segment(output, state.epoch, state.step_in_epoch, upto)?;
    open_steps(output, upto)
}

fn load_data(cfg: &mut TrainConfig) -> Result<Data> {
    let index = if cfg.num_classes == IMAGENET_CLASSES {
        ClassIndex::ImageNetOrFolders
    } else {
        ClassIndex::Folders
    };
    let folder = ImageFolder::scan(&cfg.data, index)?;
    let classes = folder.classes.keys();
    let (train, val) = match (&cfg.val_data, cfg.val_split) {
        (Some(v), _) => {
            let named = ClassIndex::Named(&folder.classes, "the training data's");
            let val = ImageFolder::scan(v, named)?;
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
    } else if cfg.num_classes != classes.len() {
        // Outputs without a class would make a checkpoint that predict and
        // evaluate cannot name; fewer outputs than classes cannot train.
        return Err(error::usage(format!(
            "--num-classes {} does not match the {} class folders in {}; leave it out \
             (it defaults to the folder count)",
            cfg.num_classes,
            classes.len(),
            cfg.data.display()
        )));
    }
    Ok(Data {
        train,
        val,
        classes,
    })
}

/// What every rank of a distributed run must train on alike
/// (docs/distributed.md, "Trust"): the data (paths relative to their
/// folders, which nodes may mount elsewhere), the class list, and the
/// weights it starts from. The settings were compared before the run
/// folder was touched (`commands::train`).
fn inputs_fingerprint(
    cfg: &TrainConfig,
    data: &Data,
    resume: Option<&checkpoint::Loaded>,
) -> Result<Fingerprint> {
    let mut f = Fingerprint::new();
    f.add_classes("the classes", &data.classes).add_listing(
        "--data",
        &data.train.root,
        &data.train.items,
    );
    if let Some(v) = &data.val {
        f.add_listing("the validation data", &v.root, &v.items);
    }
    let start = match resume {
        Some(r) => Some((
            "the checkpoint's weights",
            r.dir.join(checkpoint::MODEL_FILE),
        )),
        None if cfg.init != "scratch" => Some(("--weights", PathBuf::from(&cfg.init))),
        None => None,
    };
    match start {
        Some((name, path)) => f.add_sha256(name, &crate::sys::digest::file_sha256(&path)?.0),
        None => f.add("--weights", "none (from scratch)"),
    };
    Ok(f)
}

/// The network to train, on the CPU: the checkpoint's when resuming, the
/// `--init` weights (with a new classifier when the class count differs),
/// or a fresh one seeded by `--seed`.
fn build_model(
    cfg: &TrainConfig,
    registry: &Registry,
    spec: &ModelSpec,
    resume: Option<&checkpoint::Loaded>,
    data: &Data,
    ui: &Ui,
) -> Result<(nn::VarStore, Dpn)> {
    let (vs, model) = match resume {
        Some(r) => {
            if r.state.model != cfg.model {
                return Err(error::bad_input(format!(
                    "checkpoint {} is of model {}, not {}",
                    r.dir.display(),
                    r.state.model,
                    cfg.model
                )));
            }
            if r.state.classes != data.classes {
                return Err(error::bad_input(format!(
                    "checkpoint {} was trained on other classes than {} has",
                    r.dir.display(),
                    cfg.data.display()
                )));
            }
            let path = r.dir.join(checkpoint::MODEL_FILE);
            let l = load::load_model(registry, spec, &path, Device::Cpu)?;
            if let Some(warning) = l.health.verdict(&path, false)? {
                ui.warn(warning);
            }
            (l.vs, l.model)
        }
        None if cfg.init != "scratch" => {
            let path = PathBuf::from(&cfg.init);
            let mut l = load::load_model(registry, spec, &path, Device::Cpu)?;
            if let Some(warning) = l.health.verdict(&path, false)? {
                ui.warn(warning);
            }
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
    Ok((vs, model))
}

/// The state of a run that starts now.
fn fresh_state(cfg: &TrainConfig, classes: &[String], precision: Precision) -> TrainState {
    TrainState {
        format: checkpoint::FORMAT.into(),
        format_version: checkpoint::FORMAT_VERSION,
        dpn_version: env!("CARGO_PKG_VERSION").into(),
        model: cfg.model.clone(),
        num_classes: cfg.num_classes,
        classes: classes.to_vec(),
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
        best_metric: None,
        history: Vec::new(),
        config: cfg.clone(),
        reason: String::new(),
    }
}

/// The metrics row of epoch `epoch` (0-based) from its training totals and
/// validation.
fn epoch_row(
    epoch: u64,
    lr: f64,
    p: &Partial,
    val: Option<&Validation>,
    val_seconds: f64,
) -> EpochMetrics {
    EpochMetrics {
        epoch: epoch + 1,
        lr,
        train_loss: p.loss_sum / p.batches.max(1) as f64,
        val_loss: val.map(|v| v.loss),
        top1: val.map(|v| v.top1),
        top5: val.map(|v| v.top5),
        images_per_s: p.images as f64 / p.train_seconds.max(1e-9),
        seconds: p.train_seconds + val_seconds,
        skipped: p.skipped,
        ema_val_loss: None,
        ema_top1: None,
        ema_top5: None,
    }
}

/// Test hook: with `DPN_TEST_DUMP_BATCHES=DIR`, each update's batch goes to
/// `DIR/rank{R}-update{U}.safetensors` (`images`, `labels`), so that a
/// reference (tests/py/ddp_reference.py) can train on exactly dpn's batches.
#[cfg(feature = "test-hooks")]
fn dump_batch(rank: usize, update: u64, images: &tch::Tensor, labels: &tch::Tensor) -> Result<()> {
    let Some(dir) = std::env::var_os("DPN_TEST_DUMP_BATCHES") else {
        return Ok(());
    };
    let path = Path::new(&dir).join(format!("rank{rank}-update{update}.safetensors"));
    tch::Tensor::write_safetensors(&[("images", images), ("labels", labels)], &path)?;
    Ok(())
}

/// What all ranks' batches of one step add up to (see `Run::batch_totals`).
struct BatchTotals {
    stop: bool,
    trainable: bool,
    images: u64,
    skipped: u64,
}

/// A transform that sees item `index` of rank `rank`'s share as its
/// position in the epoch's whole order, `(index + offset) * world + rank`:
/// the remaining items of a resumed epoch get the random draws they would
/// have had, and each rank's items their own.
struct Offset {
    inner: Box<dyn ImageTransform>,
    offset: usize,
    rank: usize,
    world: usize,
}

impl ImageTransform for Offset {
    fn output_size(&self) -> (usize, usize) {
        self.inner.output_size()
    }

    fn apply_into(&self, img: &RgbImage, index: usize, out: &mut [f32]) {
        let position = (index + self.offset) * self.world + self.rank;
        self.inner.apply_into(img, position, out)
    }
}

/// The augmentation seed of an epoch.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
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

/// The schedule of a run with `upe` updates per epoch: timm's
/// `create_scheduler_v2` from the run's settings (see `train::sched`).
pub fn schedule(cfg: &TrainConfig, upe: u64) -> Schedule {
    Schedule::new(cfg, upe)
}

/// `timm.utils.distribute_bn` on `stats`: "reduce" averages them over the
/// ranks, "broadcast" takes rank 0's, "none" leaves them.
fn distribute_stats(g: &Group, stats: &[&tch::Tensor], mode: &str) -> Result<()> {
    match mode {
        "reduce" => tch::no_grad(|| -> Result<()> {
            g.all_reduce(stats, crate::dist::Op::Sum)?;
            for t in stats {
                let mut t = (*t).shallow_clone();
                let _ = t.f_div_scalar_(g.world() as f64)?;
            }
            Ok(())
        }),
        "broadcast" => tch::no_grad(|| g.broadcast(stats, 0)),
        _ => Ok(()),
    }
}
