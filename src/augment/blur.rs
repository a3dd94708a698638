//! timm's `--gaussian-blur-prob P`: `transforms_imagenet_train` adds
//! `RandomApply([GaussianBlur(kernel_size=23)], p=P)` after the grayscale
//! step (torchvision's `GaussianBlur`, sigma range `(0.1, 2.0)`).
//!
//! torchvision (`transforms.py`, `functional.py`, `_functional_tensor.py`):
//! `RandomApply` draws `torch.rand(1)` and keeps the image when `p < rand`;
//! `GaussianBlur.get_params` draws `torch.empty(1).uniform_(0.1, 2.0)`, an
//! f32 sigma; `gaussian_blur` on a PIL image goes through a uint8 tensor:
//! a 1-D kernel `exp(-0.5 * (x / sigma)^2)` over `linspace(-11, 11, 23)`
//! normalized by its sum, the 2-D kernel `mm(k[:, None], k[None, :])`, the
//! image cast to f32, reflect-padded by 11 on each side, `conv2d` with one
//! kernel per channel (`groups=3`), `round`ed and cast back to uint8.
//!
//! Unlike the Pillow operations of this folder, this one is a float
//! convolution whose rounding depends on the order libtorch sums its 529
//! products in; dpn therefore runs the same libtorch calls torchvision makes
//! (through tch) rather than its own loop, and tests/train_blur.rs checks the
//! bytes against torchvision on the same sigma.

use rand::{Rng, RngCore};
use tch::{Kind, Tensor};

use crate::data::decode::RgbImage;
use crate::data::transform::{RgbStep, Trace};

/// torchvision's kernel size as timm hard-codes it.
pub const KERNEL_SIZE: i64 = 23;
/// `GaussianBlur`'s default sigma range.
pub const SIGMA: (f64, f64) = (0.1, 2.0);
/// The smallest side reflect padding by `KERNEL_SIZE / 2` accepts.
pub const MIN_SIDE: usize = (KERNEL_SIZE / 2 + 1) as usize;

/// `RandomApply([GaussianBlur(23)], p)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianBlur {
    pub prob: f64,
}

/// What one image drew.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlurDraw {
    /// `RandomApply`'s `torch.rand(1)`.
    pub gate: f64,
    /// The f32 sigma, when the blur runs.
    pub sigma: Option<f64>,
}

impl GaussianBlur {
    pub fn new(prob: f64) -> Self {
        GaussianBlur { prob }
    }

    /// The draws for one image, in torchvision's order.
    pub fn draw<R: RngCore + ?Sized>(&self, rng: &mut R) -> BlurDraw {
        let gate = rng.random::<f64>();
        if self.prob < gate {
            return BlurDraw { gate, sigma: None };
        }
        let (lo, hi) = SIGMA;
        let sigma = (lo + (hi - lo) * rng.random::<f64>()) as f32 as f64;
        BlurDraw {
            gate,
            sigma: Some(sigma),
        }
    }

    /// `dpn augment --explain`'s record of a draw.
    pub fn explain(&self, d: &BlurDraw) -> serde_json::Value {
        serde_json::json!({
            "op": "GaussianBlur",
            "prob": self.prob,
            "gate": d.gate,
            "applied": d.sigma.is_some(),
            "kernel_size": KERNEL_SIZE,
            "sigma": d.sigma,
        })
    }
}

/// torchvision's `gaussian_blur(img, [23, 23], [sigma, sigma])` on a PIL
/// RGB image. Needs both sides at least [`MIN_SIDE`] (reflect padding).
pub fn gaussian_blur(img: &RgbImage, sigma: f64) -> RgbImage {
    let (w, h) = (img.width as i64, img.height as i64);
    let opts = (Kind::Float, tch::Device::Cpu);
    let half = (KERNEL_SIZE - 1) as f64 * 0.5;
    let x = Tensor::linspace(-half, half, KERNEL_SIZE, opts);
    let pdf = ((x / sigma).pow_tensor_scalar(2) * -0.5).exp();
    let k1 = &pdf / pdf.sum(Kind::Float);
    let k2 = k1.unsqueeze(1).mm(&k1.unsqueeze(0));
    let kernel = k2.expand([3, 1, KERNEL_SIZE, KERNEL_SIZE], false);
    let pad = KERNEL_SIZE / 2;
    let out = Tensor::from_slice(&img.data)
        .view([h, w, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(Kind::Float)
        .reflection_pad2d([pad, pad, pad, pad])
        .conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], 3)
        .squeeze_dim(0)
        .round()
        .to_kind(Kind::Uint8)
        .permute([1, 2, 0])
        .contiguous();
    let n = img.data.len();
    let mut data = vec![0u8; n];
    out.copy_data(&mut data, n);
    RgbImage::from_raw(img.width, img.height, data).expect("same size")
}

/// The blur on the RGB8 image after the grayscale step, drawing from the
/// image's generator (`data::transform::TrainTransform`).
impl RgbStep for GaussianBlur {
    fn apply(&self, img: RgbImage, rng: &mut dyn RngCore, trace: Option<&mut Trace>) -> RgbImage {
        let d = self.draw(rng);
        if let Some(t) = trace {
            t.push(self.explain(&d));
        }
        match d.sigma {
            Some(s) => gaussian_blur(&img, s),
            None => img,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat image stays flat (the kernel sums to 1), and an impulse spreads
    /// symmetrically.
    #[test]
    fn flat_stays_flat_and_impulses_spread() {
        let mut img = RgbImage::new(30, 20);
        img.data.fill(77);
        assert_eq!(gaussian_blur(&img, 1.3).data, img.data);
        let mut dot = RgbImage::new(31, 31);
        let c = (15 * 31 + 15) * 3;
        dot.data[c] = 255;
        let out = gaussian_blur(&dot, 1.0);
        let at = |x: usize, y: usize| out.data[(y * 31 + x) * 3];
        assert!(at(15, 15) > at(16, 15) && at(16, 15) > at(17, 15));
        assert_eq!(at(14, 15), at(16, 15));
        assert_eq!(at(15, 14), at(15, 16));
        assert!(out.data.iter().skip(1).step_by(3).all(|&v| v == 0));
    }

    #[test]
    fn draws_follow_the_gate() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let b = GaussianBlur::new(0.3);
        let mut on = 0;
        for _ in 0..2000 {
            let d = b.draw(&mut rng);
            assert_eq!(d.sigma.is_some(), d.gate <= 0.3);
            if let Some(s) = d.sigma {
                assert!((0.1..=2.0).contains(&s));
                on += 1;
            }
        }
        assert!((500..700).contains(&on), "{on}");
    }
}
