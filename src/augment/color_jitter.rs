//! timm's colour jitter in `transforms_imagenet_train` for train.py's
//! `--color-jitter X` (a float: brightness, contrast and saturation `X`, no
//! hue) and `--color-jitter-prob P`: torchvision's `ColorJitter(X, X, X)`,
//! inside `RandomApply([...], p=P)` when `P` is given.
//!
//! torchvision (`transforms.py`): `_check_input` makes each factor range
//! `[max(0, 1 - X), 1 + X]`, and none at all when `X` is 0; `get_params`
//! draws `torch.randperm(4)`, then for brightness, contrast and saturation in
//! that order (each only when its range is set) `float(torch.empty(1).uniform_(lo, hi))`,
//! an f32 number; `forward` applies them in the permutation's order
//! (0 brightness, 1 contrast, 2 saturation, 3 hue, unset here) through
//! `_functional_pil`'s `ImageEnhance.Brightness`, `.Contrast` and `.Color`
//! (`augment::enhance`). `RandomApply` first draws `torch.rand(1)` and keeps
//! the image when `p < rand`.
//!
//! Every number comes from the caller's generator, as [`JitterDraw`] data:
//! tests/train_color.rs replays them through timm's own transforms.

use rand::{Rng, RngCore};

use super::enhance;
use crate::data::decode::RgbImage;
use crate::data::transform::{RgbStep, Trace};

/// `ColorJitter(x, x, x)`, maybe inside `RandomApply(p)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorJitter {
    /// The factor range of brightness, contrast and saturation; none for 0.
    pub range: Option<(f64, f64)>,
    /// `RandomApply`'s probability (`--color-jitter-prob`); none is always.
    pub prob: Option<f64>,
}

/// What one image drew.
#[derive(Debug, Clone, PartialEq)]
pub struct JitterDraw {
    /// `RandomApply`'s `torch.rand(1)`, when `prob` is set.
    pub apply_u: Option<f64>,
    /// Whether the jitter ran (`RandomApply` kept it, or none).
    pub applied: bool,
    /// `torch.randperm(4)`.
    pub perm: [usize; 4],
    /// Brightness, contrast and saturation factors (f32 values), when set.
    pub factors: Option<[f64; 3]>,
}

impl ColorJitter {
    /// torchvision's `_check_input` for one non-negative float.
    pub fn new(x: f64, prob: Option<f64>) -> Self {
        let range = (x != 0.0).then(|| ((1.0 - x).max(0.0), 1.0 + x));
        ColorJitter { range, prob }
    }

    /// The draws for one image, in torchvision's order.
    pub fn draw<R: RngCore + ?Sized>(&self, rng: &mut R) -> JitterDraw {
        let mut d = JitterDraw {
            apply_u: None,
            applied: true,
            perm: [0, 1, 2, 3],
            factors: None,
        };
        if let Some(p) = self.prob {
            let u = rng.random::<f64>();
            d.apply_u = Some(u);
            if p < u {
                d.applied = false;
                return d;
            }
        }
        // A uniformly random permutation (Fisher-Yates).
        for i in (1..4).rev() {
            let j = rng.random_range(0..=i);
            d.perm.swap(i, j);
        }
        if let Some((lo, hi)) = self.range {
            d.factors = Some(std::array::from_fn(|_| {
                (lo + (hi - lo) * rng.random::<f64>()).clamp(lo, hi) as f32 as f64
            }));
        }
        d
    }

    /// `dpn augment --explain`'s record of one draw: whether `RandomApply`
    /// kept it, then the adjustments in the order they ran, each as
    /// torchvision's `adjust_*` (through `ImageEnhance`) with its factor.
    pub fn explain(&self, d: &JitterDraw) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = match d.factors.filter(|_| d.applied) {
            None => Vec::new(),
            Some(f) => d
                .perm
                .iter()
                .filter(|&&k| k < 3)
                .map(|&k| {
                    let name = ["adjust_brightness", "adjust_contrast", "adjust_saturation"][k];
                    serde_json::json!({"op": name, "factor": f[k]})
                })
                .collect(),
        };
        serde_json::json!({
            "op": "ColorJitter",
            "prob": self.prob,
            "applied": d.applied,
            "order": d.perm,
            "steps": steps,
        })
    }

    /// The image after the drawn adjustments.
    pub fn apply_draw(&self, img: RgbImage, d: &JitterDraw) -> RgbImage {
        let Some(f) = d.factors.filter(|_| d.applied) else {
            return img;
        };
        let mut img = img;
        for &k in &d.perm {
            img = match k {
                0 => enhance::brightness(&img, f[0]),
                1 => enhance::contrast(&img, f[1]),
                2 => enhance::color(&img, f[2]),
                _ => img,
            };
        }
        img
    }
}

/// The jitter on the RGB8 image after the crop, flips and `--aa`, drawing
/// from the image's generator (`data::transform::TrainTransform`).
impl RgbStep for ColorJitter {
    fn apply(&self, img: RgbImage, rng: &mut dyn RngCore, trace: Option<&mut Trace>) -> RgbImage {
        let d = self.draw(rng);
        if let Some(t) = trace {
            t.push(self.explain(&d));
        }
        self.apply_draw(img, &d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ranges_and_draws() {
        assert_eq!(ColorJitter::new(0.0, None).range, None);
        assert_eq!(ColorJitter::new(0.4, None).range, Some((0.6, 1.4)));
        assert_eq!(ColorJitter::new(1.5, None).range, Some((0.0, 2.5)));
        let j = ColorJitter::new(0.4, Some(0.5));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (mut on, mut seen) = (0, std::collections::HashSet::new());
        for _ in 0..400 {
            let d = j.draw(&mut rng);
            if d.applied {
                on += 1;
                let mut p = d.perm;
                p.sort();
                assert_eq!(p, [0, 1, 2, 3]);
                seen.insert(d.perm);
                assert!(d.factors.unwrap().iter().all(|f| (0.6..=1.4).contains(f)));
            } else {
                assert!(d.factors.is_none());
            }
        }
        assert!((150..250).contains(&on), "{on}");
        assert_eq!(seen.len(), 24);
    }
}
