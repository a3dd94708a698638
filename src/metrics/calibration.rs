//! How well a classifier's confidence matches its accuracy: the counts of a
//! reliability diagram and the expected calibration error (ECE).
//!
//! The confidence of an image is the softmax probability of its top-1
//! class. Images fall into [`BINS`] equal-width bins of confidence, bin `b`
//! holding the confidences in `(b/15, (b+1)/15]` (a confidence of 0 goes to
//! the first). The ECE is the images' share of each bin times the gap
//! between the bin's accuracy and its mean confidence, summed over the bins:
//! `ECE = sum_b (n_b / N) |acc_b - conf_b|` (Guo et al., "On Calibration of
//! Modern Neural Networks", ICML 2017, <https://arxiv.org/abs/1706.04599>,
//! whose 15 bins are the common choice). The counts are integers
//! (confidences in units of 2^-24, as [`super::loss_sum`] keeps losses), so
//! shards and ranks add up exactly, whatever the order.

use serde::{Deserialize, Serialize};

/// The number of confidence bins.
pub const BINS: usize = 15;

/// Confidences are kept in units of 2^-24 (an f32's resolution near 1).
pub const CONFIDENCE_SCALE: f64 = (1u64 << 24) as f64;

/// One confidence bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bin {
    pub images: u64,
    /// Of them, top-1 hits.
    pub correct: u64,
    /// The sum of their confidences, in units of 2^-24.
    pub confidence_units: u64,
}

/// The bins of a set of images (always [`BINS`] of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calibration {
    pub bins: Vec<Bin>,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            bins: vec![Bin::default(); BINS],
        }
    }
}

/// The bin of `confidence` (`(b/15, (b+1)/15]`; 0 and below in the first,
/// above 1 in the last).
pub fn bin_of(confidence: f64) -> usize {
    let b = (confidence * BINS as f64).ceil();
    if b.is_nan() || b <= 1.0 {
        0
    } else {
        (b as usize - 1).min(BINS - 1)
    }
}

impl Calibration {
    /// Counts one image of top-1 probability `confidence`.
    pub fn add_one(&mut self, confidence: f64, correct: bool) {
        let c = confidence.clamp(0.0, 1.0);
        let b = &mut self.bins[bin_of(c)];
        b.images += 1;
        b.correct += u64::from(correct);
        b.confidence_units += (c * CONFIDENCE_SCALE).round() as u64;
    }

    /// Adds another set's bins; `Err` (and `self` unchanged) when a count
    /// would pass 2^64 or the other set does not have [`BINS`] bins.
    pub fn add(&mut self, o: &Calibration) -> Result<(), String> {
        if o.bins.len() != BINS || self.bins.len() != BINS {
            return Err(format!(
                "{} confidence bins, dpn keeps {BINS}",
                o.bins.len()
            ));
        }
        let mut sum = self.clone();
        for (a, b) in sum.bins.iter_mut().zip(&o.bins) {
            let add = |x: u64, y: u64| {
                x.checked_add(y)
                    .ok_or_else(|| "the calibration counts pass 2^64".to_string())
            };
            a.images = add(a.images, b.images)?;
            a.correct = add(a.correct, b.correct)?;
            a.confidence_units = add(a.confidence_units, b.confidence_units)?;
        }
        *self = sum;
        Ok(())
    }

    /// Whether the bins can be counts: hits within images, confidences
    /// within the bin's range (to the unit of rounding).
    pub fn check(&self) -> Result<(), String> {
        if self.bins.len() != BINS {
            return Err(format!(
                "{} confidence bins, dpn keeps {BINS}",
                self.bins.len()
            ));
        }
        for (i, b) in self.bins.iter().enumerate() {
            let max = b.images as f64 * CONFIDENCE_SCALE;
            if b.correct > b.images || b.confidence_units as f64 > max + 1.0 {
                return Err(format!(
                    "confidence bin {i} has {} hits and {} confidence units among {} images",
                    b.correct, b.confidence_units, b.images
                ));
            }
        }
        Ok(())
    }

    pub fn images(&self) -> u64 {
        self.bins.iter().map(|b| b.images).sum()
    }

    /// Top-1 hits over all bins.
    pub fn correct(&self) -> u64 {
        self.bins.iter().map(|b| b.correct).sum()
    }

    /// The expected calibration error, a fraction in [0, 1] (0 without images).
    pub fn ece(&self) -> f64 {
        let n = self.images();
        if n == 0 {
            return 0.0;
        }
        self.bins
            .iter()
            .filter(|b| b.images > 0)
            .map(|b| b.images as f64 / n as f64 * (b.accuracy() - b.confidence()).abs())
            .sum()
    }
}

impl Bin {
    /// The share of top-1 hits (0 when empty).
    pub fn accuracy(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.correct as f64 / self.images as f64
        }
    }

    /// The mean confidence (0 when empty).
    pub fn confidence(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.confidence_units as f64 / CONFIDENCE_SCALE / self.images as f64
        }
    }

    /// The bin's range of confidences, `(lo, hi]`.
    pub fn range(index: usize) -> (f64, f64) {
        (index as f64 / BINS as f64, (index + 1) as f64 / BINS as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_right_closed() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(1.0 / 15.0 * 0.5), 0);
        assert_eq!(bin_of(0.5), 7); // (7/15, 8/15]
        assert_eq!(bin_of(0.999), 14);
        assert_eq!(bin_of(1.0), 14);
        assert_eq!(bin_of(f64::NAN), 0);
        assert_eq!(bin_of(3.0), 14);
    }

    #[test]
    fn ece_is_the_weighted_gap() {
        // Written out: bin 14 holds 0.95 (hit) and 0.99 (miss): acc 0.5,
        // conf 0.97; bin 4 holds 0.3 (hit): acc 1, conf 0.3.
        let mut c = Calibration::default();
        c.add_one(0.95, true);
        c.add_one(0.99, false);
        c.add_one(0.3, true);
        let want = 2.0 / 3.0 * (0.5f64 - 0.97).abs() + 1.0 / 3.0 * (1.0f64 - 0.3).abs();
        assert!((c.ece() - want).abs() < 1e-6, "{} vs {want}", c.ece());
        assert_eq!((c.images(), c.correct()), (3, 2));
        // Sums are exact: the halves add up to the whole.
        let (mut a, mut b) = (Calibration::default(), Calibration::default());
        a.add_one(0.95, true);
        b.add_one(0.99, false);
        b.add_one(0.3, true);
        a.add(&b).unwrap();
        assert_eq!(a, c);
        c.check().unwrap();
        // Counts that cannot be are refused.
        let mut bad = c.clone();
        bad.bins[14].correct = 3;
        assert!(bad.check().is_err());
        bad.bins.pop();
        assert!(c.clone().add(&bad).is_err());
        assert_eq!(Calibration::default().ece(), 0.0);
    }
}
