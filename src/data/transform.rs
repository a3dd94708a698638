//! timm's eval and train transforms on [`RgbImage`]s.
//!
//! Eval (`timm.data.transforms_imagenet_eval`, crop mode "center"):
//! `Resize(floor(image_size / crop_pct))` on the shorter side (torchvision:
//! the longer side becomes `int(scale * long / short)`), `CenterCrop(image_size)`
//! (offsets `int(round((h - th) / 2))`, Python's round half to even; zero
//! padding when the image is smaller), `ToTensor` (`x / 255` in f32),
//! `Normalize` (`(x - mean) / std` in f32).
//!
//! Train: timm's `RandomResizedCropAndInterpolation(size, scale=(0.08, 1),
//! ratio=(3/4, 4/3))` (ten tries of a uniform area fraction and a log-uniform
//! aspect ratio, else a center crop clamped to the ratio range), then a
//! horizontal flip with probability 0.5, `ToTensor`, `Normalize`. The random
//! numbers come from a caller's RNG (same distributions as Python's `random`,
//! not the same stream); given the same numbers the crop is the same.
//! `random_interpolation` (timm's `--train-interpolation random`, its
//! `RandomResizedCropAndInterpolation` with `interpolation='random'`) picks
//! the crop's filter per image, bilinear or bicubic, drawn after the crop
//! rectangle as timm's `random.choice` is. With `auto_augment` set, timm's
//! AutoAugment/RandAugment op chain (`augment::auto_augment`, through
//! [`RgbStep`]) runs on the flipped RGB8 image, before `ToTensor`, drawing
//! from the same generator after the flip (`transforms_imagenet_train`'s
//! secondary transforms).
//! `vflip` (timm's `--vflip`) flips top to bottom after the horizontal flip;
//! `color_jitter` (timm's `ColorJitter`, through [`RgbStep`]) follows the op
//! chain;
//! `grayscale` (`--grayscale-prob`, torchvision's `RandomGrayscale`) follows
//! the op chain; each draws one uniform from the generator only when its
//! probability is above 0, as timm adds them only then.
//! With `erasing` set, timm's `RandomErasing` follows on the normalized
//! floats (`transforms_imagenet_train` puts it after `Normalize`), its numbers
//! drawn from the same per-image generator after the crop's and flip's
//! (`augment::erasing`, through [`NormalizedStep`]).

use std::sync::Arc;

use rand::Rng;
use tch::Tensor;

use super::decode::RgbImage;
use super::resize::{self, Filter, Window};
use crate::registry::Preprocess;

/// Python's `round()` for the non-negative halves we meet: ties to even.
fn py_round(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// The size torchvision's `Resize(size)` (an int) gives a `w x h` image: the
/// shorter side becomes `size`, the longer `int(size * long / short)`.
pub fn shorter_side_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (size as f64 * long as f64 / short as f64) as usize;
    if w <= h {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// Where torchvision's `CenterCrop` takes a `cw x ch` crop of a `w x h`
/// image that is at least that large: (left, top).
pub fn center_crop_offsets(w: usize, h: usize, cw: usize, ch: usize) -> (usize, usize) {
    let left = py_round((w - cw) as f64 / 2.0) as usize;
    let top = py_round((h - ch) as f64 / 2.0) as usize;
    (left, top)
}

/// torchvision's `CenterCrop((ch, cw))` on a PIL image, zero padding included.
pub fn center_crop(img: &RgbImage, cw: usize, ch: usize) -> RgbImage {
    if cw <= img.width && ch <= img.height {
        let (left, top) = center_crop_offsets(img.width, img.height, cw, ch);
        return resize::crop(img, left, top, cw, ch);
    }
    // Pad (left/top get the smaller half), then crop as usual.
    let pl = cw.saturating_sub(img.width) / 2;
    let pt = ch.saturating_sub(img.height) / 2;
    let pr = cw.saturating_sub(img.width).div_ceil(2);
    let pb = ch.saturating_sub(img.height).div_ceil(2);
    let mut padded = RgbImage::new(img.width + pl + pr, img.height + pt + pb);
    for y in 0..img.height {
        let dst = ((y + pt) * padded.width + pl) * 3;
        padded.data[dst..dst + img.width * 3].copy_from_slice(img.row(y));
    }
    center_crop(&padded, cw, ch)
}

/// `ToTensor` + `Normalize` into `out` (CHW, `3 * h * w` floats), computed as
/// torch computes them in f32.
pub fn normalize_into(img: &RgbImage, mean: [f32; 3], std: [f32; 3], out: &mut [f32]) {
    let plane = img.width * img.height;
    assert_eq!(out.len(), 3 * plane, "output buffer size");
    let lut: [[f32; 256]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - mean[c]) / std[c]));
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in img.data.chunks_exact(3).enumerate() {
        r[i] = lut[0][px[0] as usize];
        g[i] = lut[1][px[1] as usize];
        b[i] = lut[2][px[2] as usize];
    }
}

/// A CHW float buffer as a `[3, h, w]` tensor.
pub fn chw_tensor(chw: &[f32], h: usize, w: usize) -> Tensor {
    Tensor::from_slice(chw).view([3, h as i64, w as i64])
}

/// Something that turns a decoded image into a `3 x height x width` float
/// tensor: what the [`super::loader`] runs on every image.
pub trait ImageTransform: Send + Sync {
    /// (height, width) of every output.
    fn output_size(&self) -> (usize, usize);
    /// Transforms `img`, the `index`-th item of a run (random transforms seed
    /// from it, so results do not depend on thread scheduling), into `out`.
    fn apply_into(&self, img: &RgbImage, index: usize, out: &mut [f32]);
}

/// timm's eval transform.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalTransform {
    pub image_size: usize,
    pub crop_pct: f64,
    pub filter: Filter,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl EvalTransform {
    pub fn from_preprocess(p: &Preprocess) -> Self {
        EvalTransform {
            image_size: p.image_size,
            crop_pct: p.crop_pct,
            filter: p.interpolation.into(),
            mean: p.mean.map(|v| v as f32),
            std: p.std.map(|v| v as f32),
        }
    }

    /// `floor(image_size / crop_pct)`: the shorter side after resizing.
    pub fn scale_size(&self) -> usize {
        (self.image_size as f64 / self.crop_pct).floor() as usize
    }

    /// Resize and center crop, in 8 bits (what `ToTensor` receives).
    pub fn resize_crop(&self, img: &RgbImage) -> RgbImage {
        let (rw, rh) = shorter_side_size(img.width, img.height, self.scale_size());
        let s = self.image_size;
        if s <= rw && s <= rh {
            // Only the pixels the crop keeps; identical to resizing all of it.
            let (left, top) = center_crop_offsets(rw, rh, s, s);
            let full = [0.0, 0.0, img.width as f32, img.height as f32];
            let win = Window {
                x: left,
                y: top,
                width: s,
                height: s,
            };
            resize::resize_window(img, full, rw, rh, self.filter, win)
        } else {
            center_crop(&resize::resize(img, rw, rh, self.filter), s, s)
        }
    }

    /// The normalized CHW floats.
    pub fn apply(&self, img: &RgbImage) -> Vec<f32> {
        let mut out = vec![0f32; 3 * self.image_size * self.image_size];
        self.apply_into(img, 0, &mut out);
        out
    }

    /// The normalized `[3, image_size, image_size]` tensor.
    pub fn apply_tensor(&self, img: &RgbImage) -> Tensor {
        chw_tensor(&self.apply(img), self.image_size, self.image_size)
    }
}

impl ImageTransform for EvalTransform {
    fn output_size(&self) -> (usize, usize) {
        (self.image_size, self.image_size)
    }

    fn apply_into(&self, img: &RgbImage, _index: usize, out: &mut [f32]) {
        normalize_into(&self.resize_crop(img), self.mean, self.std, out);
    }
}

/// A crop rectangle in image coordinates (may reach outside the image for
/// [`resized_crop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropParams {
    pub top: i64,
    pub left: i64,
    pub height: usize,
    pub width: usize,
}

/// timm's `RandomResizedCropAndInterpolation.get_params` for a `w x h` image.
pub fn random_resized_crop_params<R: Rng + ?Sized>(
    w: usize,
    h: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut R,
) -> CropParams {
    let area = (w * h) as f64;
    let log_ratio = (ratio.0.ln(), ratio.1.ln());
    let uniform = |rng: &mut R, a: f64, b: f64| a + (b - a) * rng.random::<f64>();
    for _ in 0..10 {
        let target_area = uniform(rng, scale.0, scale.1) * area;
        let aspect = uniform(rng, log_ratio.0, log_ratio.1).exp();
        let tw = py_round((target_area * aspect).sqrt());
        let th = py_round((target_area / aspect).sqrt());
        if tw <= w as i64 && th <= h as i64 {
            let top = rng.random_range(0..=(h as i64 - th));
            let left = rng.random_range(0..=(w as i64 - tw));
            return CropParams {
                top,
                left,
                height: th as usize,
                width: tw as usize,
            };
        }
    }
    center_fallback(w, h, ratio)
}

/// The fallback of [`random_resized_crop_params`]: the largest centered crop
/// whose aspect ratio is inside `ratio`.
pub fn center_fallback(w: usize, h: usize, ratio: (f64, f64)) -> CropParams {
    let in_ratio = w as f64 / h as f64;
    let (lo, hi) = (ratio.0.min(ratio.1), ratio.0.max(ratio.1));
    let (tw, th) = if in_ratio < lo {
        (w, py_round(w as f64 / lo) as usize)
    } else if in_ratio > hi {
        (py_round(h as f64 * hi) as usize, h)
    } else {
        (w, h)
    };
    CropParams {
        top: (h as i64 - th as i64).div_euclid(2),
        left: (w as i64 - tw as i64).div_euclid(2),
        height: th,
        width: tw,
    }
}

/// torchvision's `resized_crop`: PIL's `crop` (zeros outside the image), then
/// `resize((size, size), filter)`.
pub fn resized_crop(
    img: &RgbImage,
    c: CropParams,
    out_w: usize,
    out_h: usize,
    filter: Filter,
) -> RgbImage {
    resized_crop_mirrored(img, c, out_w, out_h, filter, false)
}

/// [`resized_crop`], then mirrored left to right when `mirror` (the flip
/// done inside the resize's horizontal pass: the same bytes as [`hflip`]).
pub fn resized_crop_mirrored(
    img: &RgbImage,
    c: CropParams,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    mirror: bool,
) -> RgbImage {
    let inside = c.top >= 0
        && c.left >= 0
        && c.left as usize + c.width <= img.width
        && c.top as usize + c.height <= img.height;
    if inside {
        let part = Window {
            x: c.left as usize,
            y: c.top as usize,
            width: c.width,
            height: c.height,
        };
        return resize::resize_crop_mirrored(img, part, out_w, out_h, filter, mirror);
    }
    // The crop reaches outside the image: a copy, zeros outside.
    let mut cropped = RgbImage::new(c.width, c.height);
    for y in 0..c.height {
        let sy = c.top + y as i64;
        if sy < 0 || sy >= img.height as i64 {
            continue;
        }
        for x in 0..c.width {
            let sx = c.left + x as i64;
            if sx >= 0 && sx < img.width as i64 {
                let s = (sy as usize * img.width + sx as usize) * 3;
                let d = (y * c.width + x) * 3;
                cropped.data[d..d + 3].copy_from_slice(&img.data[s..s + 3]);
            }
        }
    }
    resize::resize_mirrored(&cropped, out_w, out_h, filter, mirror)
}

/// Mirrors `img` left to right in place.
pub fn hflip(img: &mut RgbImage) {
    let w = img.width;
    for row in img.data.chunks_exact_mut(w * 3) {
        for x in 0..w / 2 {
            for c in 0..3 {
                row.swap(x * 3 + c, (w - 1 - x) * 3 + c);
            }
        }
    }
}

/// Mirrors `img` top to bottom in place (torchvision's `vflip`, PIL's
/// `FLIP_TOP_BOTTOM`).
pub fn vflip(img: &mut RgbImage) {
    let row = img.width * 3;
    let h = img.height;
    for y in 0..h / 2 {
        let (top, bottom) = img.data.split_at_mut((h - 1 - y) * row);
        top[y * row..(y + 1) * row].swap_with_slice(&mut bottom[..row]);
    }
}

/// torchvision's `rgb_to_grayscale(img, num_output_channels=3)` on a PIL
/// image: Pillow's `convert("L")` (libImaging/Convert.c `rgb2l`: ITU-R 601-2
/// luma in 16.16 fixed point, `(r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16`)
/// copied into all three channels.
pub fn grayscale(img: &mut RgbImage) {
    for px in img.data.chunks_exact_mut(3) {
        let l = (px[0] as u32 * 19595 + px[1] as u32 * 38470 + px[2] as u32 * 7471 + 0x8000) >> 16;
        px.fill(l as u8);
    }
}

/// A random step on the normalized `chan x height x width` floats that ends
/// the train transform, drawing from the image's own generator after the
/// crop and flip: `augment::erasing::RandomErasing` (timm's random erasing).
/// A trait, so that `data` does not import `augment`, which builds on
/// `data`'s images.
pub trait NormalizedStep: std::fmt::Debug + Send + Sync {
    /// Erases in place; with `trace`, appends what it did there (one JSON
    /// object per step, `dpn augment --explain`).
    fn apply(
        &self,
        chw: &mut [f32],
        chan: usize,
        height: usize,
        width: usize,
        rng: &mut dyn rand::RngCore,
        trace: Option<&mut Trace>,
    );
}

/// The steps one image went through, as `dpn augment --explain` reports
/// them: one JSON object per operation, in the order they ran, each with
/// timm's name for it and the exact arguments it received (README,
/// "dpn augment --explain", lists the keys: a stable interface).
pub type Trace = Vec<serde_json::Value>;

/// A random step on the RGB8 image after the crop and flip, drawing from the
/// image's own generator: `augment::auto_augment::AutoAugmentConfig` (timm's
/// `--aa`). A trait for the same reason as [`NormalizedStep`].
pub trait RgbStep: std::fmt::Debug + Send + Sync {
    /// The step on `img`; with `trace`, appends what it did there.
    fn apply(
        &self,
        img: RgbImage,
        rng: &mut dyn rand::RngCore,
        trace: Option<&mut Trace>,
    ) -> RgbImage;
}

/// What the crop and flips of one image drew.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropFlip {
    pub crop: CropParams,
    pub filter: Filter,
    pub hflip: bool,
    pub vflip: bool,
}

/// timm's train transform: random resized crop, horizontal flip, normalize.
#[derive(Debug, Clone)]
pub struct TrainTransform {
    pub size: usize,
    pub scale: (f64, f64),
    pub ratio: (f64, f64),
    pub hflip: f64,
    /// timm's `--vflip`: a vertical flip after the horizontal one, with this
    /// probability; 0 draws nothing (timm adds the transform only for p > 0).
    pub vflip: f64,
    pub filter: Filter,
    /// timm's `random` train interpolation: each image's crop draws bilinear
    /// or bicubic, and `filter` is unused.
    pub random_interpolation: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// timm's AutoAugment/RandAugment (`--aa`) on the flipped RGB8 image,
    /// else none (and no numbers drawn for it).
    pub auto_augment: Option<Arc<dyn RgbStep>>,
    /// timm's random erasing on the normalized image (`--reprob` > 0), else
    /// none (and no numbers drawn for it).
    pub erasing: Option<Arc<dyn NormalizedStep>>,
    /// timm's colour jitter (`--color-jitter`, `--color-jitter-prob`:
    /// `augment::color_jitter`) after the `--aa` ops, else none (and no
    /// numbers drawn for it).
    pub color_jitter: Option<Arc<dyn RgbStep>>,
    /// timm's `--grayscale-prob` (torchvision's `RandomGrayscale`) after the
    /// `--aa` ops; 0 draws nothing (timm adds it only for p > 0).
    pub grayscale: f64,
    /// timm's `--gaussian-blur-prob` (torchvision's `GaussianBlur(23)` in
    /// `RandomApply`) after the grayscale step, else none (and no numbers
    /// drawn for it).
    pub gaussian_blur: Option<Arc<dyn RgbStep>>,
    /// Seeds the per-image RNGs of [`ImageTransform::apply_into`] (mix in the
    /// epoch for a new draw each epoch).
    pub seed: u64,
}

impl TrainTransform {
    /// timm's defaults: scale (0.08, 1), ratio (3/4, 4/3), flip p = 0.5.
    pub fn from_preprocess(p: &Preprocess, seed: u64) -> Self {
        TrainTransform {
            size: p.image_size,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: 0.5,
            vflip: 0.0,
            filter: p.interpolation.into(),
            random_interpolation: false,
            mean: p.mean.map(|v| v as f32),
            std: p.std.map(|v| v as f32),
            auto_augment: None,
            erasing: None,
            color_jitter: None,
            grayscale: 0.0,
            gaussian_blur: None,
            seed,
        }
    }

    /// Crop, resize and maybe flip `img` with numbers drawn from `rng`.
    pub fn crop_flip<R: Rng + ?Sized>(&self, img: &RgbImage, rng: &mut R) -> RgbImage {
        self.crop_flip_explained(img, rng).0
    }

    /// [`TrainTransform::crop_flip`], and what it drew.
    pub fn crop_flip_explained<R: Rng + ?Sized>(
        &self,
        img: &RgbImage,
        rng: &mut R,
    ) -> (RgbImage, CropFlip) {
        let crop = random_resized_crop_params(img.width, img.height, self.scale, self.ratio, rng);
        let filter = if self.random_interpolation {
            // `random.choice((BILINEAR, BICUBIC))`.
            [Filter::Bilinear, Filter::Bicubic][rng.random_range(0..2)]
        } else {
            self.filter
        };
        // The resize draws nothing, so the flip's draw can come first and
        // the flip be done by the resize.
        let hflipped = rng.random::<f64>() < self.hflip;
        let mut out = resized_crop_mirrored(img, crop, self.size, self.size, filter, hflipped);
        // `RandomVerticalFlip`: `torch.rand(1) < p`, only when timm adds it.
        let vflipped = self.vflip > 0.0 && rng.random::<f64>() < self.vflip;
        if vflipped {
            vflip(&mut out);
        }
        let drawn = CropFlip {
            crop,
            filter,
            hflip: hflipped,
            vflip: vflipped,
        };
        (out, drawn)
    }

    /// [`TrainTransform::crop_flip`], then the `auto_augment` op chain: the
    /// RGB8 image `ToTensor` receives.
    pub fn augment<R: rand::RngCore>(&self, img: &RgbImage, rng: &mut R) -> RgbImage {
        self.crop_flip_then(img, rng, None).0
    }

    /// [`TrainTransform::augment`], the crop and flips it drew, and with
    /// `trace` each later step appended there.
    pub fn crop_flip_then<R: rand::RngCore>(
        &self,
        img: &RgbImage,
        rng: &mut R,
        trace: Option<&mut Trace>,
    ) -> (RgbImage, CropFlip) {
        let (out, drawn) = self.crop_flip_explained(img, rng);
        (self.secondary(out, rng, trace), drawn)
    }

    /// timm's secondary transforms on the cropped and flipped image (what
    /// `--aug-splits` repeats per split): the `--aa` ops, colour jitter,
    /// grayscale, Gaussian blur.
    pub fn secondary<R: rand::RngCore>(
        &self,
        img: RgbImage,
        rng: &mut R,
        mut trace: Option<&mut Trace>,
    ) -> RgbImage {
        let mut out = match &self.auto_augment {
            Some(aa) => aa.apply(img, rng, trace.as_deref_mut()),
            None => img,
        };
        if let Some(cj) = &self.color_jitter {
            out = cj.apply(out, rng, trace.as_deref_mut());
        }
        // `RandomGrayscale`: `torch.rand(1) < p`, only when timm adds it.
        if self.grayscale > 0.0 {
            let u = rng.random::<f64>();
            let applied = u < self.grayscale;
            if applied {
                grayscale(&mut out);
            }
            if let Some(t) = trace.as_deref_mut() {
                t.push(serde_json::json!({
                    "op": "RandomGrayscale", "prob": self.grayscale, "gate": u, "applied": applied,
                }));
            }
        }
        if let Some(blur) = &self.gaussian_blur {
            out = blur.apply(out, rng, trace);
        }
        out
    }

    /// [`ImageTransform::apply_into`], returning the last 8-bit image (what
    /// `ToTensor` received) and the crop and flips, with every later step,
    /// erasing included, appended to `trace`.
    pub fn apply_explained(
        &self,
        img: &RgbImage,
        index: usize,
        out: &mut [f32],
        mut trace: Option<&mut Trace>,
    ) -> (RgbImage, CropFlip) {
        let mut rng = self.rng_for(index);
        let (rgb, drawn) = self.crop_flip_then(img, &mut rng, trace.as_deref_mut());
        normalize_into(&rgb, self.mean, self.std, out);
        if let Some(e) = &self.erasing {
            e.apply(out, 3, self.size, self.size, &mut rng, trace);
        }
        (rgb, drawn)
    }

    /// The RNG for the `index`-th image.
    pub fn rng_for(&self, index: usize) -> rand_chacha::ChaCha8Rng {
        use rand::SeedableRng;
        let mixed = self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rand_chacha::ChaCha8Rng::seed_from_u64(mixed)
    }
}

impl ImageTransform for TrainTransform {
    fn output_size(&self) -> (usize, usize) {
        (self.size, self.size)
    }

    fn apply_into(&self, img: &RgbImage, index: usize, out: &mut [f32]) {
        self.apply_explained(img, index, out, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::{EraseMode, RandomErasing};

    fn tf(erasing: Option<RandomErasing>) -> TrainTransform {
        TrainTransform {
            size: 16,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: 0.5,
            vflip: 0.0,
            filter: Filter::Bilinear,
            random_interpolation: false,
            mean: [0.5, 0.4, 0.3],
            std: [0.2, 0.25, 0.3],
            auto_augment: None,
            erasing: erasing.map(|e| Arc::new(e) as Arc<dyn NormalizedStep>),
            color_jitter: None,
            grayscale: 0.0,
            gaussian_blur: None,
            seed: 11,
        }
    }

    fn photo() -> RgbImage {
        let mut img = RgbImage::new(40, 30);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i * 37 % 251) as u8;
        }
        img
    }

    /// Erasing draws from the image's own generator after the crop and flip:
    /// the same index gives the same bytes, and the crop is unchanged by it.
    #[test]
    fn erasing_continues_the_images_generator() {
        let img = photo();
        let plain = tf(None);
        let e = RandomErasing::new(1.0, EraseMode::Pixel, 2);
        let erasing = tf(Some(e.clone()));
        let n = 3 * 16 * 16;
        for index in [0usize, 1, 7, 1000] {
            let (mut a, mut b, mut c) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
            plain.apply_into(&img, index, &mut a);
            erasing.apply_into(&img, index, &mut b);
            erasing.apply_into(&img, index, &mut c);
            assert_eq!(b, c, "repeatable");
            let mut rng = erasing.rng_for(index);
            let mut expect = vec![0f32; n];
            normalize_into(
                &erasing.augment(&img, &mut rng),
                erasing.mean,
                erasing.std,
                &mut expect,
            );
            assert_eq!(expect, a, "the crop and flip do not change");
            let boxes = e.erase(&mut expect, 3, 16, 16, &mut rng);
            assert!(!boxes.is_empty());
            assert_eq!(expect, b);
            assert_ne!(a, b);
        }
    }
}
