//! Top-1/top-5 hits and cross-entropy losses of a set of images, kept as
//! integers: a tally does not depend on batch sizes or summation order, so
//! shards of a job array, or batches of a validation pass, add up exactly.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use super::loss_sum::{LossSum, LOSS_SCALE};
use crate::sys::error;

/// Everything a result is computed from; tallies add up field by field.
/// The field names are the `counts` object of a results file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub images: u64,
    pub skipped: u64,
    pub correct1: u64,
    pub correct5: u64,
    /// Sum of per-image cross-entropy losses, in units of 2^-24 (a JSON
    /// number, or a string of digits beyond 2^64 - 1).
    pub loss_units: LossSum,
    pub seconds: f64,
    /// Per class: [images, top-1 correct, top-5 correct].
    pub per_class: Vec<[u64; 3]>,
    /// Images whose logits (or loss) were NaN or infinite: not scored, not
    /// in `images`. A result with any is refused, never reported; results
    /// files hold the key only when it is not 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub non_finite: u64,
}

/// What rank 0 knows of a rank's share of an evaluation before the rank
/// reports: how many images it holds, and of each class.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub images: u64,
    pub per_class: Vec<u64>,
}

impl Expected {
    /// The share holding images of these `labels` (unlabelled ones count
    /// as images of no class).
    pub fn of(labels: impl IntoIterator<Item = Option<i64>>, num_classes: usize) -> Expected {
        let mut e = Expected {
            images: 0,
            per_class: vec![0; num_classes],
        };
        for l in labels {
            e.images += 1;
            if let Some(slot) = l
                .and_then(|l| usize::try_from(l).ok())
                .and_then(|l| e.per_class.get_mut(l))
            {
                *slot += 1;
            }
        }
        e
    }

    /// What each of `world` ranks holds of the items with these `labels`
    /// under `dist::shard::eval_share`: what rank 0 checks their counts
    /// against ([`Tally::all_ranks`]).
    pub fn shares(labels: &[Option<i64>], world: usize, num_classes: usize) -> Vec<Expected> {
        (0..world)
            .map(|r| {
                let share = crate::dist::shard::eval_share(labels.len(), r, world);
                Expected::of(share.map(|i| labels[i]), num_classes)
            })
            .collect()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Tally {
    /// An empty tally over `num_classes` classes.
    pub fn new(num_classes: usize) -> Tally {
        Tally {
            per_class: vec![[0; 3]; num_classes],
            ..Tally::default()
        }
    }

    /// The sum of every rank's tally, on every rank: exact, as `--merge`
    /// adds shards. Rank 0 checks each rank's tally against `expected[r]`,
    /// what it knows of that rank's share, before adding it up: a rank (or
    /// a process posing as one) that reports counts its share cannot have
    /// stops the run (exit 9) instead of changing the result. The tallies
    /// travel whole, as JSON, through the rendezvous store.
    pub fn all_ranks(self, group: &crate::dist::Group, expected: &[Expected]) -> Result<Tally> {
        let mine = serde_json::to_vec(&self)?;
        let verdict = group.gather("the counts", &mine)?.map(|all| {
            let mut total = Tally::new(self.per_class.len());
            for (r, bytes) in all.iter().enumerate() {
                let t: Tally = serde_json::from_slice(bytes).map_err(|e| {
                    format!(
                        "rank {r} sent counts that are not a tally ({e}); no result is reported"
                    )
                })?;
                let share = expected
                    .get(r)
                    .ok_or_else(|| format!("rank {r} has no share"))?;
                t.fits(share).map_err(|why| {
                    format!(
                        "rank {r}'s counts do not fit its share of the data: {why}; no result is \
                         reported (is every rank a dpn of this run?)"
                    )
                })?;
                total
                    .add(&t)
                    .map_err(|e| format!("rank {r}'s counts cannot be added: {e}"))?;
            }
            serde_json::to_vec(&total).map_err(|e| e.to_string())
        });
        let total = group.decide_with(verdict)?;
        Ok(serde_json::from_slice(&total)?)
    }

    /// Whether these counts can be those of `share`: every image of the
    /// share scored, skipped or non-finite exactly once, no class with more
    /// images than the share holds, and hits that add up. Counts a rank
    /// could not have computed are told apart; a wrong prediction is not.
    pub fn fits(&self, share: &Expected) -> std::result::Result<(), String> {
        if self.per_class.len() != share.per_class.len() {
            return Err(format!(
                "{} classes, the model has {}",
                self.per_class.len(),
                share.per_class.len()
            ));
        }
        let seen = self
            .images
            .checked_add(self.skipped)
            .and_then(|n| n.checked_add(self.non_finite));
        if seen != Some(share.images) {
            return Err(format!(
                "{} images scored, {} skipped and {} non-finite, of a share of {}",
                self.images, self.skipped, self.non_finite, share.images
            ));
        }
        if !(self.seconds.is_finite() && self.seconds >= 0.0) {
            return Err(format!("a time of {} s", self.seconds));
        }
        let (mut n, mut c1, mut c5) = (0u64, 0u64, 0u64);
        for (c, (&[images, top1, top5], &held)) in
            self.per_class.iter().zip(&share.per_class).enumerate()
        {
            if images > held || top1 > top5 || top5 > images {
                return Err(format!(
                    "class {c}: {images} images ({top1} top-1, {top5} top-5 hits) of the {held} \
                     in the share"
                ));
            }
            n = n.saturating_add(images);
            c1 = c1.saturating_add(top1);
            c5 = c5.saturating_add(top5);
        }
        if (n, c1, c5) != (self.images, self.correct1, self.correct5) {
            return Err(format!(
                "totals of {} images, {} top-1 and {} top-5 hits, the classes add up to {n}, \
                 {c1} and {c5}",
                self.images, self.correct1, self.correct5
            ));
        }
        Ok(())
    }

    /// Adds another shard's tally; an error, and `self` unchanged, if a
    /// count would not fit (only an edited or corrupt file can cause that).
    pub fn add(&mut self, o: &Tally) -> Result<()> {
        let overflow = |what: &str| {
            error::bad_input(format!(
                "the {what} counts are too large to add up (over 2^64); they cannot be real"
            ))
        };
        let add = |a: u64, b: u64, what: &str| a.checked_add(b).ok_or_else(|| overflow(what));
        let mut t = Tally {
            images: add(self.images, o.images, "image")?,
            skipped: add(self.skipped, o.skipped, "skipped image")?,
            correct1: add(self.correct1, o.correct1, "top-1")?,
            correct5: add(self.correct5, o.correct5, "top-5")?,
            loss_units: self
                .loss_units
                .checked_add(&o.loss_units)
                .ok_or_else(|| overflow("loss"))?,
            // Shards run side by side: the whole took as long as the slowest.
            seconds: self.seconds.max(o.seconds),
            per_class: self.per_class.clone(),
            non_finite: add(self.non_finite, o.non_finite, "non-finite")?,
        };
        if t.per_class.len() < o.per_class.len() {
            t.per_class.resize(o.per_class.len(), [0; 3]);
        }
        for (a, b) in t.per_class.iter_mut().zip(&o.per_class) {
            for i in 0..3 {
                a[i] = add(a[i], b[i], "per-class")?;
            }
        }
        *self = t;
        Ok(())
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

    /// Mean cross-entropy over the scored images (0 when there are none),
    /// the nearest double to the exact mean of the rounded losses.
    pub fn mean_loss(&self) -> f64 {
        self.loss_units.mean(self.images)
    }
}

/// Adds one batch's hits and losses: `logits` `[N, C]` against `labels`
/// `[N]`, top-k with k = min(5, C) as timm's validate counts it, loss as
/// plain cross-entropy computed in f64. An image whose logits or loss are
/// not finite is counted in [`Tally::non_finite`] instead.
pub fn score(logits: &Tensor, labels: &Tensor, tally: &mut Tally) -> Result<()> {
    let logits = logits.to_device(tch::Device::Cpu);
    let labels = labels.to_device(tch::Device::Cpu);
    let n = labels.size()[0];
    let k = 5.min(logits.size()[1]);
    let (_, top) = logits.topk(k, -1, true, true);
    let hits = top.eq_tensor(&labels.unsqueeze(1));
    let top1: Vec<bool> = Vec::<bool>::try_from(hits.select(1, 0))?;
    let top5: Vec<bool> = Vec::<bool>::try_from(hits.any_dim(1, false))?;
    let finite: Vec<bool> = Vec::<bool>::try_from(logits.isfinite().all_dim(1, false))?;
    let losses = -logits
        .log_softmax(-1, Kind::Double)
        .gather(1, &labels.unsqueeze(1), false)
        .squeeze_dim(1);
    let losses: Vec<f64> = Vec::<f64>::try_from(losses)?;
    let labels: Vec<i64> = Vec::<i64>::try_from(&labels)?;
    if tally.per_class.len() < logits.size()[1] as usize {
        tally.per_class.resize(logits.size()[1] as usize, [0; 3]);
    }
    let mut batch = Tally::new(tally.per_class.len());
    for i in 0..n as usize {
        if !finite[i] || !losses[i].is_finite() {
            batch.non_finite += 1;
            continue;
        }
        let units = LossSum::from_loss(losses[i]).ok_or_else(|| {
            anyhow::anyhow!(
                "the cross-entropy of an image of class {} is {}; it cannot be scored",
                labels[i],
                losses[i]
            )
        })?;
        let pc = &mut batch.per_class[labels[i] as usize];
        pc[0] += 1;
        pc[1] += top1[i] as u64;
        pc[2] += top5[i] as u64;
        batch.images += 1;
        batch.correct1 += top1[i] as u64;
        batch.correct5 += top5[i] as u64;
        batch.loss_units = batch
            .loss_units
            .checked_add(&units)
            .expect("a batch's loss sum fits");
    }
    tally.add(&batch)
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
            parts.add(&one).unwrap();
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

    #[test]
    fn extreme_losses_are_reported_exactly() {
        // Logits of 1e35 against 0 give a cross-entropy of 1e35 (as f32 holds
        // it) per image: 2^140 units, beyond the i128 sum that used to wrap.
        let big = 1e35f32;
        let logits = Tensor::from_slice(&[big, 0.0, 1.0, 0.0, big, 0.0]).view([3, 2]);
        let labels = Tensor::from_slice(&[1i64, 0, 1]);
        let mut t = Tally::new(2);
        for _ in 0..1000 {
            score(&logits, &labels, &mut t).unwrap();
        }
        // Images 0 and 2 lose 1e35 each, image 1 log(1 + e^-1).
        let small = (1.0 + (-1f64).exp()).ln();
        let want = (2.0 * 1000.0 * f64::from(big) + 1000.0 * small) / 3000.0;
        assert_eq!(t.images, 3000);
        assert_eq!(t.correct1, 1000);
        assert!(
            (t.mean_loss() - want).abs() <= want * 1e-15,
            "{} vs {want}",
            t.mean_loss()
        );
        let mut one = Tally::new(2);
        score(&logits.narrow(0, 0, 1), &labels.narrow(0, 0, 1), &mut one).unwrap();
        assert_eq!(one.mean_loss(), f64::from(big));
        // Counts that would wrap are refused, and leave the tally as it was.
        let mut huge = one.clone();
        huge.images = u64::MAX;
        let before = one.clone();
        assert!(one.add(&huge).is_err());
        assert_eq!(one, before);
    }

    #[test]
    fn non_finite_outputs_are_counted_never_scored() {
        let logits = Tensor::from_slice(&[
            2.0f32,
            1.0,
            0.0, //
            f32::NAN,
            0.0,
            0.0, //
            f32::INFINITY,
            0.0,
            0.0, //
            0.0,
            f32::NEG_INFINITY,
            1.0,
        ])
        .view([4, 3]);
        let labels = Tensor::from_slice(&[0i64, 0, 0, 2]);
        let mut t = Tally::new(3);
        score(&logits, &labels, &mut t).unwrap();
        assert_eq!(
            (t.images, t.non_finite, t.correct1, t.correct5),
            (1, 3, 1, 1)
        );
        assert_eq!(t.per_class, vec![[1, 1, 1], [0, 0, 0], [0, 0, 0]]);
        let want = (1.0 + (-1f64).exp() + (-2f64).exp()).ln();
        assert!((t.mean_loss() - want).abs() < 1e-6, "{}", t.mean_loss());
        // Not written when 0, so single runs keep their keys.
        let json = serde_json::to_value(Tally::new(1)).unwrap();
        assert!(json.get("non_finite").is_none());
        assert_eq!(serde_json::to_value(&t).unwrap()["non_finite"], 3);
    }
}
