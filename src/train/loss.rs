//! The training losses, as timm's train.py picks them: cross-entropy with
//! label smoothing on class indices, `SoftTargetCrossEntropy` on mixed
//! (soft) targets, `JsdCrossEntropy` with `--aug-splits --jsd-loss`.

use anyhow::Result;
use tch::{Kind, Tensor};

/// The loss on class-index targets: train.py's `train_loss_fn`. Soft
/// targets (mixup, cutmix) are always scored by `SoftTargetCrossEntropy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Cross-entropy with label smoothing (timm's
    /// `LabelSmoothingCrossEntropy`, or torch's for smoothing 0).
    CrossEntropy { smoothing: f64 },
    /// timm's `JsdCrossEntropy` over a split-major batch of `splits` views
    /// (`--aug-splits N --jsd-loss`, [`super::jsd`]).
    Jsd { splits: usize, smoothing: f64 },
}

impl Loss {
    pub fn on(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        if targets.is_floating_point() {
            return Ok(soft_target_cross_entropy(logits, targets));
        }
        match *self {
            Loss::CrossEntropy { smoothing } => Ok(cross_entropy(logits, targets, smoothing)),
            Loss::Jsd { splits, smoothing } => {
                super::jsd::jsd_cross_entropy(logits, targets, splits, smoothing)
            }
        }
    }
}

/// Cross-entropy with label smoothing, as `torch.nn.functional.cross_entropy(
/// logits, targets, label_smoothing=s)` computes it (mean over the batch). It
/// equals timm's `LabelSmoothingCrossEntropy(s)` in value:
/// `(1 - s) * nll + s * mean(-log_softmax)`. Reduced-precision (bf16, f16)
/// logits are cast to f32 first, as autocast does.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor, label_smoothing: f64) -> Tensor {
    let logits = match logits.kind() {
        Kind::Half | Kind::BFloat16 => logits.to_kind(Kind::Float),
        _ => logits.shallow_clone(),
    };
    logits.cross_entropy_loss::<Tensor>(targets, None, tch::Reduction::Mean, -100, label_smoothing)
}

/// timm's `SoftTargetCrossEntropy` (the loss train.py uses with mixup or
/// cutmix): `sum(-target * log_softmax(logits, -1), -1).mean()`, with the
/// label smoothing already in the soft targets (`augment::mixup`).
/// Reduced-precision logits are cast to f32 first, as autocast does.
pub fn soft_target_cross_entropy(logits: &Tensor, targets: &Tensor) -> Tensor {
    let logits = match logits.kind() {
        Kind::Half | Kind::BFloat16 => logits.to_kind(Kind::Float),
        _ => logits.shallow_clone(),
    };
    (-targets * logits.log_softmax(-1, None))
        .sum_dim_intlist(-1, false, None)
        .mean(None)
}
