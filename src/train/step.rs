//! One optimizer update, as timm's train loop takes it, with f16 loss
//! scaling.

use anyhow::{Context, Result};
use tch::{Kind, Tensor};

use super::optim::{cross_entropy, Sgd};
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
        infer::prepare_input(xs, opts)
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
