//! One optimizer update, as timm's train loop takes it, with f16 loss
//! scaling.

use anyhow::{Context, Result};
use tch::{Kind, Tensor};

use super::clip::Clip;
use super::loss::Loss;
use super::optim::Optimizer;
use crate::dist::Ddp;
use crate::model::infer::{self, RunOptions};
use crate::model::Dpn;

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
/// forward, `loss`, backward, update at `lr`. A non-finite loss returns
/// without touching the weights.
///
/// `ys` holds class indices (int64), or soft targets (an `N x classes`
/// float tensor: mixup/cutmix, `augment::mixup`), which are scored by
/// timm's `SoftTargetCrossEntropy` whatever `loss` says (the smoothing is
/// in the targets), as train.py switches losses when mixup is active.
///
/// With `ddp` (a distributed run) the step is DDP's: rank 0's BatchNorm
/// buffers before the forward, gradients averaged over the ranks during the
/// backward. The loss returned is then the mean of the ranks' losses, and a
/// non-finite loss on any rank skips the update on all (its loss is NaN on
/// the ranks whose own loss was finite).
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    model: &Dpn,
    opt: &mut dyn Optimizer,
    xs: &Tensor,
    ys: &Tensor,
    lr: f64,
    loss_fn: Loss,
    opts: &RunOptions,
    scaler: &mut LossScaler,
    ddp: Option<&Ddp>,
) -> Result<StepResult> {
    let how = How {
        clip: None,
        micro: Micro::ONE,
    };
    train_micro_step(model, opt, xs, ys, lr, loss_fn, opts, scaler, ddp, how)
}

/// Where a micro-batch stands in its group under timm's
/// `--grad-accum-steps` (train.py's `train_one_epoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Micro {
    /// The group's first micro-batch: the gradients start from zero.
    pub first: bool,
    /// The group's last: clip, update (and, under DDP, average the
    /// gradients: the other micro-batches' backward is DDP's `no_sync`).
    pub update: bool,
    /// The loss is divided by this: the group's size (train.py's
    /// `accum_steps`, `last_accum_steps` for an epoch's short last group).
    pub divisor: u64,
}

impl Micro {
    /// No accumulation: every batch is an update.
    pub const ONE: Micro = Micro {
        first: true,
        update: true,
        divisor: 1,
    };

    /// Batch `step` of an epoch of `batches` batches, in groups of `k`.
    /// As train.py: `last_accum_steps = batches % k`, and the batches from
    /// `batches - last_accum_steps` on divide by it (when it is not 0).
    pub fn of(step: u64, batches: u64, k: u64) -> Micro {
        let k = k.max(1);
        let last = batches % k;
        Micro {
            first: step % k == 0,
            update: (step + 1) % k == 0 || step + 1 == batches,
            divisor: if last != 0 && step >= batches - last {
                last
            } else {
                k
            },
        }
    }
}

/// The update's options beyond the plain step: clipping and accumulation.
#[derive(Debug, Clone, Copy)]
pub struct How<'a> {
    pub clip: Option<&'a Clip>,
    pub micro: Micro,
}

/// [`train_step`] on one micro-batch of an accumulation group (`how.micro`),
/// with gradient clipping (`how.clip`, after unscaling, before the
/// update). A micro-batch that does not end its group leaves its (divided)
/// gradients in place and returns `applied: false`.
#[allow(clippy::too_many_arguments)]
pub fn train_micro_step(
    model: &Dpn,
    opt: &mut dyn Optimizer,
    xs: &Tensor,
    ys: &Tensor,
    lr: f64,
    loss_fn: Loss,
    opts: &RunOptions,
    scaler: &mut LossScaler,
    ddp: Option<&Ddp>,
    how: How,
) -> Result<StepResult> {
    let micro = how.micro;
    if micro.first {
        opt.zero_grad();
    }
    // An f64 batch (a model converted to f64, for reference checks) stays f64.
    let x = if xs.kind() == Kind::Double {
        xs.to_device(opts.device)
    } else {
        infer::prepare_input(xs, opts)
    };
    let y = ys.to_device(opts.device);
    if let Some(d) = ddp {
        d.before_forward()?;
    }
    let sync = ddp.and_then(|d| d.batch_norm_sync());
    let logits = crate::model::sync_bn::scoped(sync, || model.forward_t(&x, true));
    let loss = loss_fn.on(&logits, &y)?;
    let mut value = loss.f_double_value(&[]).context("computing the loss")?;
    if let Some(d) = ddp {
        let g = d.group();
        let t = g.sum(&[f64::from(u8::from(!value.is_finite())), value])?;
        if t[0] > 0.0 {
            return Ok(StepResult {
                loss: if value.is_finite() { f64::NAN } else { value },
                applied: false,
            });
        }
        value = t[1] / g.world() as f64;
        if micro.update {
            d.after_forward(&[&logits])?;
        }
    }
    if !value.is_finite() {
        return Ok(StepResult {
            loss: value,
            applied: false,
        });
    }
    let loss = if micro.divisor > 1 {
        loss / micro.divisor as f64
    } else {
        loss
    };
    if scaler.enabled {
        backward(&(loss * scaler.scale), ddp)?;
        if !micro.update {
            return Ok(StepResult {
                loss: value,
                applied: false,
            });
        }
        if !opt.unscale_grads(1.0 / scaler.scale) {
            scaler.scale *= 0.5;
            scaler.good_steps = 0;
            return Ok(StepResult {
                loss: value,
                applied: false,
            });
        }
        if let Some(c) = how.clip {
            c.apply();
        }
        opt.step(lr);
        scaler.good_steps += 1;
        if scaler.good_steps >= LossScaler::GROWTH_INTERVAL {
            scaler.scale *= 2.0;
            scaler.good_steps = 0;
        }
    } else {
        backward(&loss, ddp)?;
        if !micro.update {
            return Ok(StepResult {
                loss: value,
                applied: false,
            });
        }
        if let Some(c) = how.clip {
            c.apply();
        }
        opt.step(lr);
    }
    Ok(StepResult {
        loss: value,
        applied: true,
    })
}

/// The backward pass; under DDP it also averages the gradients, so a
/// failure there is a lost peer (exit 9) unless it is out of memory.
fn backward(loss: &Tensor, ddp: Option<&Ddp>) -> Result<()> {
    match (loss.f_backward(), ddp) {
        (Ok(()), _) => Ok(()),
        (Err(e), Some(d)) if !crate::sys::panic::says_out_of_memory(&e.to_string()) => {
            Err(d.group().failure("averaging the gradients", &e.to_string()))
        }
        (Err(e), _) => Err(anyhow::Error::new(e).context("the backward pass")),
    }
}
