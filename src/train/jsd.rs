//! timm's `JsdCrossEntropy` (`timm/loss/jsd.py`), the loss of AugMix's
//! recipe (`--aug-splits N --jsd-loss`): cross-entropy on the clean split,
//! plus `alpha` times the Jensen-Shannon divergence between the softmax of
//! every split and their mixture.
//!
//! With the batch split-major (`augment::splits::split_major`: split `j` is
//! rows `j * B .. (j + 1) * B`) and `p_j = softmax(logits_j)`:
//!
//! ```text
//! loss = CE_s(logits_0, y) + alpha / N * sum_j KL(p_j || m)
//! m    = clamp(mean_j p_j, 1e-7, 1)          (timm clamps "to avoid exploding KL")
//! KL(p || m) = sum(p * (log p - log m)) / B  (F.kl_div, reduction 'batchmean')
//! ```
//!
//! `CE_s` is timm's `LabelSmoothingCrossEntropy(smoothing)` for smoothing >
//! 0 (the same formula as torch's `label_smoothing`), else plain
//! cross-entropy; timm's train.py passes `--smoothing`, and `alpha` is its
//! default, 12.

use anyhow::{bail, Result};
use tch::{Kind, Reduction, Tensor};

use super::loss::cross_entropy;

/// timm's default weight of the divergence term.
pub const ALPHA: f64 = 12.0;

/// timm's clamp of the mixture distribution.
const MIXTURE_MIN: f64 = 1e-7;

/// `JsdCrossEntropy(num_splits=splits, alpha=12, smoothing)` on split-major
/// `logits` (`[splits * B, classes]`) and `targets` (class indices, `[splits
/// * B]`; only the first B are read, as timm does).
pub fn jsd_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    splits: usize,
    smoothing: f64,
) -> Result<Tensor> {
    let rows = logits.size()[0];
    let n = splits as i64;
    if n < 2 || rows % n != 0 {
        bail!("JSD loss: {rows} logits do not split into {splits} equal parts");
    }
    // Autocast runs softmax and kl_div in f32.
    let logits = match logits.kind() {
        Kind::Half | Kind::BFloat16 => logits.to_kind(Kind::Float),
        _ => logits.shallow_clone(),
    };
    let b = rows / n;
    let parts = logits.split(b, 0);
    let ce = cross_entropy(&parts[0], &targets.narrow(0, 0, b), smoothing);
    let probs: Vec<Tensor> = parts.iter().map(|l| l.softmax(1, None)).collect();
    let log_mixture = Tensor::stack(&probs, 0)
        .mean_dim(0, false, None)
        .clamp(MIXTURE_MIN, 1.0)
        .log();
    // F.kl_div(..., reduction='batchmean'): the sum over the batch / B.
    let divergence = probs
        .iter()
        .map(|p| log_mixture.kl_div(p, Reduction::Sum, false) / b as f64)
        .reduce(|a, b| a + b)
        .expect("two or more splits");
    Ok(ce + divergence * (ALPHA / n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// Identical splits: the mixture is each split's distribution, the
    /// divergence vanishes, and the loss is the clean split's cross-entropy.
    #[test]
    fn identical_splits_cost_only_their_cross_entropy() {
        tch::manual_seed(1);
        let clean = Tensor::randn([4, 5], (Kind::Double, Device::Cpu));
        let logits = Tensor::cat(&[&clean, &clean, &clean], 0);
        let y = Tensor::from_slice(&[0i64, 3, 4, 1]).repeat([3]);
        let got = jsd_cross_entropy(&logits, &y, 3, 0.1).unwrap();
        let want = cross_entropy(&clean, &y.narrow(0, 0, 4), 0.1);
        assert!((got.double_value(&[]) - want.double_value(&[])).abs() < 1e-12);
    }

    #[test]
    fn a_batch_that_does_not_split_is_an_error() {
        let logits = Tensor::zeros([5, 3], (Kind::Float, Device::Cpu));
        let y = Tensor::zeros([5], (Kind::Int64, Device::Cpu));
        assert!(jsd_cross_entropy(&logits, &y, 2, 0.0).is_err());
    }
}
