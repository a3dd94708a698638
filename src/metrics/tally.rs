//! Top-1/top-5 hits and cross-entropy losses of a set of images, kept as
//! integers: a tally does not depend on batch sizes or summation order, so
//! shards of a job array, or batches of a validation pass, add up exactly.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Per-image losses are summed as integers in units of 2^-24 so that the
/// sum, and with it a merged result, does not depend on summation order.
pub const LOSS_SCALE: f64 = (1u64 << 24) as f64;

/// Everything a result is computed from; tallies add up field by field.
/// The field names are the `counts` object of a results file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub images: u64,
    pub skipped: u64,
    pub correct1: u64,
    pub correct5: u64,
    /// Sum of per-image cross-entropy losses, in units of 2^-24.
    pub loss_units: i128,
    pub seconds: f64,
    /// Per class: [images, top-1 correct, top-5 correct].
    pub per_class: Vec<[u64; 3]>,
}

impl Tally {
    /// An empty tally over `num_classes` classes.
    pub fn new(num_classes: usize) -> Tally {
        Tally {
            per_class: vec![[0; 3]; num_classes],
            ..Tally::default()
        }
    }

    /// Adds another shard's tally.
    pub fn add(&mut self, o: &Tally) {
        self.images += o.images;
        self.skipped += o.skipped;
        self.correct1 += o.correct1;
        self.correct5 += o.correct5;
        self.loss_units += o.loss_units;
        // Shards run side by side: the whole took as long as the slowest.
        self.seconds = self.seconds.max(o.seconds);
        if self.per_class.len() < o.per_class.len() {
            self.per_class.resize(o.per_class.len(), [0; 3]);
        }
        for (a, b) in self.per_class.iter_mut().zip(&o.per_class) {
            for i in 0..3 {
                a[i] += b[i];
            }
        }
    }

    /// `n` as a percentage of the scored images (0 when there are none).
    pub fn pct(&self, n: u64) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            100.0 * n as f64 / self.images as f64
        }
    }

    pub fn top1(&self) -> f64 {
        self.pct(self.correct1)
    }

    pub fn top5(&self) -> f64 {
        self.pct(self.correct5)
    }

    /// Mean cross-entropy over the scored images (0 when there are none).
    pub fn mean_loss(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.loss_units as f64 / LOSS_SCALE / self.images as f64
        }
    }
}

/// Adds one batch's hits and losses: `logits` `[N, C]` against `labels`
/// `[N]`, top-k with k = min(5, C) as timm's validate counts it, loss as
/// plain cross-entropy computed in f64.
pub fn score(logits: &Tensor, labels: &Tensor, tally: &mut Tally) -> Result<()> {
    let logits = logits.to_device(tch::Device::Cpu);
    let labels = labels.to_device(tch::Device::Cpu);
    let n = labels.size()[0];
    let k = 5.min(logits.size()[1]);
    let (_, top) = logits.topk(k, -1, true, true);
    let hits = top.eq_tensor(&labels.unsqueeze(1));
    let top1: Vec<bool> = Vec::<bool>::try_from(hits.select(1, 0))?;
    let top5: Vec<bool> = Vec::<bool>::try_from(hits.any_dim(1, false))?;
    let losses = -logits
        .log_softmax(-1, Kind::Double)
        .gather(1, &labels.unsqueeze(1), false)
        .squeeze_dim(1);
    let losses: Vec<f64> = Vec::<f64>::try_from(losses)?;
    let labels: Vec<i64> = Vec::<i64>::try_from(&labels)?;
    if tally.per_class.len() < logits.size()[1] as usize {
        tally.per_class.resize(logits.size()[1] as usize, [0; 3]);
    }
    for i in 0..n as usize {
        let pc = &mut tally.per_class[labels[i] as usize];
        pc[0] += 1;
        pc[1] += top1[i] as u64;
        pc[2] += top5[i] as u64;
        tally.images += 1;
        tally.correct1 += top1[i] as u64;
        tally.correct5 += top5[i] as u64;
        tally.loss_units += (losses[i] * LOSS_SCALE).round() as i128;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_add_up_whatever_the_batching() {
        let logits = Tensor::from_slice(&[
            3.0f32, 1.0, 0.0, //
            0.0, 2.0, 1.0, //
            1.0, 0.0, 5.0, //
            0.5, 0.4, 0.3,
        ])
        .view([4, 3]);
        let labels = Tensor::from_slice(&[0i64, 2, 2, 1]);
        let mut whole = Tally::new(3);
        score(&logits, &labels, &mut whole).unwrap();
        let mut parts = Tally::new(3);
        for i in 0..4 {
            let mut one = Tally::new(3);
            score(&logits.narrow(0, i, 1), &labels.narrow(0, i, 1), &mut one).unwrap();
            parts.add(&one);
        }
        assert_eq!(whole, parts);
        assert_eq!((whole.images, whole.correct1, whole.correct5), (4, 2, 4));
        assert_eq!(whole.per_class, vec![[1, 1, 1], [1, 0, 1], [2, 1, 2]]);
        let expected = [0.1698_f64, 1.4076, 0.0247, 1.1019];
        let mean = expected.iter().sum::<f64>() / 4.0;
        assert!(
            (whole.mean_loss() - mean).abs() < 1e-3,
            "{}",
            whole.mean_loss()
        );
    }
}
