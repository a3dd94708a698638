//! The training losses, as timm's train.py picks them: cross-entropy with
//! label smoothing on class indices, `SoftTargetCrossEntropy` on mixed
//! (soft) targets, `JsdCrossEntropy` with `--aug-splits --jsd-loss`,
//! `BinaryCrossEntropy` with `--bce-loss` ([`LossChoice::select`] is
//! train.py's order).

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
    /// timm's `BinaryCrossEntropy` (`--bce-loss`), on class indices and on
    /// mixup's soft targets alike.
    Bce(Bce),
}

impl Loss {
    pub fn on(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        if let Loss::Bce(b) = self {
            return Ok(b.on(logits, targets));
        }
        if targets.is_floating_point() {
            return Ok(soft_target_cross_entropy(logits, targets));
        }
        match *self {
            Loss::Bce(b) => Ok(b.on(logits, targets)),
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

/// timm's `BinaryCrossEntropy` (`--bce-loss`): one-vs-rest sigmoid
/// cross-entropy. Class-index targets become `smoothing / classes` off and
/// `1 - smoothing + smoothing / classes` on; dense (mixup) targets are used
/// as given. `target_thresh` turns targets into 0/1 (`> thresh`),
/// `pos_weight` weighs the positive term, and `sum_classes` sums over
/// classes before the batch mean (else the mean over every element).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bce {
    pub smoothing: f64,
    pub target_thresh: Option<f64>,
    pub sum_classes: bool,
    pub pos_weight: Option<f64>,
}

impl Bce {
    pub fn on(&self, logits: &Tensor, targets: &Tensor) -> Tensor {
        let x = match logits.kind() {
            Kind::Half | Kind::BFloat16 => logits.to_kind(Kind::Float),
            _ => logits.shallow_clone(),
        };
        let mut t = if targets.size() == x.size() {
            targets.to_kind(x.kind())
        } else {
            let classes = x.size()[x.dim() - 1];
            let off = self.smoothing / classes as f64;
            let on = 1.0 - self.smoothing + off;
            let idx = targets.to_kind(Kind::Int64).view([-1, 1]);
            Tensor::full([x.size()[0], classes], off, (x.kind(), x.device()))
                .scatter_value(1, &idx, on)
        };
        if let Some(th) = self.target_thresh {
            t = t.gt(th).to_kind(x.kind());
        }
        let pw = self
            .pos_weight
            .map(|w| Tensor::from(w).to_kind(x.kind()).to_device(x.device()));
        if self.sum_classes {
            x.binary_cross_entropy_with_logits::<&Tensor>(
                &t,
                None,
                pw.as_ref(),
                tch::Reduction::None,
            )
            .sum_dim_intlist(-1, false, None)
            .mean(None)
        } else {
            x.binary_cross_entropy_with_logits::<&Tensor>(
                &t,
                None,
                pw.as_ref(),
                tch::Reduction::Mean,
            )
        }
    }
}

/// The loss settings a run records, picked in train.py's order: JSD first
/// (`--jsd-loss`), then mixup/cutmix (BCE or `SoftTargetCrossEntropy` on the
/// soft targets), then label smoothing (BCE or `LabelSmoothingCrossEntropy`),
/// else plain cross-entropy. As in train.py, `--bce-loss` with neither mixup
/// nor smoothing is plain cross-entropy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossChoice {
    pub smoothing: f64,
    pub jsd: Option<usize>,
    pub mixup_active: bool,
    pub bce: bool,
    pub bce_target_thresh: Option<f64>,
    pub bce_sum: bool,
    pub bce_pos_weight: Option<f64>,
}

impl LossChoice {
    pub fn select(&self) -> Loss {
        let bce = |smoothing| {
            Loss::Bce(Bce {
                smoothing,
                target_thresh: self.bce_target_thresh,
                sum_classes: self.bce_sum,
                pos_weight: self.bce_pos_weight,
            })
        };
        match self.jsd {
            Some(splits) => Loss::Jsd {
                splits,
                smoothing: self.smoothing,
            },
            // timm's BinaryCrossEntropy() default smoothing (0.1) is unused
            // on mixup's dense targets.
            None if self.mixup_active && self.bce => bce(0.1),
            None if self.mixup_active => Loss::CrossEntropy {
                smoothing: self.smoothing,
            },
            None if self.smoothing != 0.0 && self.bce => bce(self.smoothing),
            None => Loss::CrossEntropy {
                smoothing: self.smoothing,
            },
        }
    }
}
