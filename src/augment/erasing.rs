//! timm's random erasing (`timm/data/random_erasing.py`, `RandomErasing`;
//! Zhong et al., "Random Erasing Data Augmentation", arXiv:1708.04896).
//!
//! Per image (`RandomErasing._erase`), on the normalized `C x H x W` floats:
//!
//! - skip the image when `random() > probability`;
//! - `count = min_count` when `min_count == max_count`, else
//!   `randint(min_count, max_count)` (both ends included);
//! - for each of the `count` boxes, up to 10 attempts of
//!   `target_area = uniform(min_area, max_area) * H * W / count`,
//!   `aspect = exp(uniform(log(min_aspect), log(max_aspect)))`,
//!   `h = int(round(sqrt(target_area * aspect)))`,
//!   `w = int(round(sqrt(target_area / aspect)))` (Python's `round`: ties to
//!   even); the first attempt with `w < W and h < H` places the box at
//!   `top = randint(0, H - h)`, `left = randint(0, W - w)` and fills
//!   `img[:, top:top + h, left:left + w]` (`_get_pixels`): with zeros
//!   (`const`), one standard normal value per channel (`rand`, a `(C, 1, 1)`
//!   tensor broadcast over the box) or a standard normal value per element
//!   (`pixel`, a `(C, h, w)` tensor); a box whose 10 attempts all fail is
//!   left out.
//!
//! timm's defaults, which `dpn train` keeps (train.py has no flags for them):
//! `min_area = 0.02`, `max_area = 1/3`, `min_aspect = 0.3`,
//! `max_aspect = 1 / min_aspect`, `min_count = 1`, `max_count = --recount`.
//!
//! `random()`, `uniform(a, b) = a + (b - a) * random()` and `randint(a, b)`
//! have the distributions of Python's `random` module, drawn from the
//! caller's generator (not Python's stream); the normal values of `rand` and
//! `pixel` (torch's `normal_()` in timm) come from the same generator, by
//! Box-Muller, right after their box is placed. [`RandomErasing::erase_recorded`]
//! also returns the draws, so that timm's own code can be run on them
//! (tests/train_erasing.rs, tests/py/erasing_reference.py).

use rand::Rng;
use serde::Serialize;

use crate::data::transform::{NormalizedStep, Trace};

/// How an erased box is filled (timm's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EraseMode {
    /// Zeros (the normalized mean).
    Const,
    /// One normal value per channel.
    Rand,
    /// A normal value per channel and pixel.
    Pixel,
}

impl EraseMode {
    pub const NAMES: [&'static str; 3] = ["const", "rand", "pixel"];

    pub fn name(self) -> &'static str {
        match self {
            EraseMode::Const => "const",
            EraseMode::Rand => "rand",
            EraseMode::Pixel => "pixel",
        }
    }
}

impl std::str::FromStr for EraseMode {
    type Err = String;

    /// timm lower-cases the mode (`mode.lower()`); so does this.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "const" => Ok(EraseMode::Const),
            "rand" => Ok(EraseMode::Rand),
            "pixel" => Ok(EraseMode::Pixel),
            _ => Err(format!(
                "unknown erasing mode {s:?}: one of {}",
                EraseMode::NAMES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for EraseMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One erased box, and what fills it: empty for [`EraseMode::Const`] (zeros),
/// `C` values for [`EraseMode::Rand`], `C * height * width` values (CHW order)
/// for [`EraseMode::Pixel`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EraseBox {
    pub top: usize,
    pub left: usize,
    pub height: usize,
    pub width: usize,
    pub fill: Vec<f32>,
}

/// One call timm's `_erase` makes to Python's `random` module, as dpn drew it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call", rename_all = "lowercase")]
pub enum Draw {
    /// `random()`.
    Random { value: f64 },
    /// `uniform(a, b)`, computed as `a + (b - a) * u`.
    Uniform { a: f64, b: f64, u: f64 },
    /// `randint(a, b)`.
    Randint { a: i64, b: i64, value: i64 },
}

/// timm's `RandomErasing` with its defaults, applied to one image.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomErasing {
    pub probability: f64,
    pub mode: EraseMode,
    pub min_count: usize,
    pub max_count: usize,
    pub min_area: f64,
    pub max_area: f64,
    /// `(log(min_aspect), log(max_aspect))`.
    pub log_aspect: (f64, f64),
}

impl RandomErasing {
    /// `RandomErasing(probability, mode=mode, max_count=max_count)` as timm's
    /// `transforms_imagenet_train` builds it from `--reprob`, `--remode` and
    /// `--recount`.
    pub fn new(probability: f64, mode: EraseMode, max_count: usize) -> Self {
        let min_aspect: f64 = 0.3;
        // `max_aspect = max_aspect or 1 / min_aspect`
        let max_aspect = 1.0 / min_aspect;
        let min_count = 1;
        RandomErasing {
            probability,
            mode,
            min_count,
            // `self.max_count = max_count or min_count`
            max_count: if max_count == 0 { min_count } else { max_count },
            min_area: 0.02,
            max_area: 1.0 / 3.0,
            log_aspect: (min_aspect.ln(), max_aspect.ln()),
        }
    }

    /// Erases boxes of the CHW image `img` (`chan x img_h x img_w`) with
    /// numbers from `rng`; returns the boxes, in the order they were filled.
    pub fn erase<R: Rng + ?Sized>(
        &self,
        img: &mut [f32],
        chan: usize,
        img_h: usize,
        img_w: usize,
        rng: &mut R,
    ) -> Vec<EraseBox> {
        let mut src = Source { rng, log: None };
        self.run(img, chan, img_h, img_w, &mut src)
    }

    /// [`Self::erase`], also returning the calls to Python's `random` that
    /// timm's `_erase` makes for the same boxes, in order.
    pub fn erase_recorded<R: Rng + ?Sized>(
        &self,
        img: &mut [f32],
        chan: usize,
        img_h: usize,
        img_w: usize,
        rng: &mut R,
    ) -> (Vec<EraseBox>, Vec<Draw>) {
        let mut log = Vec::new();
        let mut src = Source {
            rng,
            log: Some(&mut log),
        };
        let boxes = self.run(img, chan, img_h, img_w, &mut src);
        (boxes, log)
    }

    /// `RandomErasing._erase`, line by line.
    fn run<R: Rng + ?Sized>(
        &self,
        img: &mut [f32],
        chan: usize,
        img_h: usize,
        img_w: usize,
        src: &mut Source<'_, R>,
    ) -> Vec<EraseBox> {
        assert_eq!(img.len(), chan * img_h * img_w, "image buffer size");
        let mut boxes = Vec::new();
        // `if random.random() > self.probability: return`
        if src.random() > self.probability {
            return boxes;
        }
        let area = (img_h * img_w) as f64;
        let count = if self.min_count == self.max_count {
            self.min_count
        } else {
            src.randint(self.min_count as i64, self.max_count as i64) as usize
        };
        for _ in 0..count {
            for _attempt in 0..10 {
                // Python evaluates `uniform(...) * area / count` left to right.
                let target_area = src.uniform(self.min_area, self.max_area) * area / count as f64;
                let aspect = src.uniform(self.log_aspect.0, self.log_aspect.1).exp();
                let h = (target_area * aspect).sqrt().round_ties_even() as i64;
                let w = (target_area / aspect).sqrt().round_ties_even() as i64;
                if w < img_w as i64 && h < img_h as i64 {
                    let top = src.randint(0, img_h as i64 - h) as usize;
                    let left = src.randint(0, img_w as i64 - w) as usize;
                    let (h, w) = (h as usize, w as usize);
                    let n = match self.mode {
                        EraseMode::Const => 0,
                        EraseMode::Rand => chan,
                        EraseMode::Pixel => chan * h * w,
                    };
                    let fill = (0..n).map(|_| src.normal()).collect();
                    let b = EraseBox {
                        top,
                        left,
                        height: h,
                        width: w,
                        fill,
                    };
                    apply_box(img, chan, img_h, img_w, &b);
                    boxes.push(b);
                    break;
                }
            }
        }
        boxes
    }
}

/// What `data::transform::TrainTransform` runs after normalizing.
impl NormalizedStep for RandomErasing {
    fn apply(
        &self,
        chw: &mut [f32],
        chan: usize,
        height: usize,
        width: usize,
        rng: &mut dyn rand::RngCore,
        trace: Option<&mut Trace>,
    ) {
        let boxes = self.erase(chw, chan, height, width, rng);
        if let Some(t) = trace {
            for b in boxes {
                // `pixel` fills are drawn per element: too many to list.
                let fill = match self.mode {
                    EraseMode::Pixel => serde_json::Value::Null,
                    _ => serde_json::json!(b.fill),
                };
                t.push(serde_json::json!({
                    "op": "RandomErasing",
                    "mode": self.mode.name(),
                    "box": {"top": b.top, "left": b.left, "height": b.height, "width": b.width},
                    "fill": fill,
                }));
            }
        }
    }
}

/// `img[:, top:top + height, left:left + width] = fill` on a CHW buffer,
/// with `fill` broadcast as timm's `_get_pixels` tensors are: empty means
/// zeros, `C` values one per channel, else one per element in CHW order.
pub fn apply_box(img: &mut [f32], chan: usize, img_h: usize, img_w: usize, b: &EraseBox) {
    assert_eq!(img.len(), chan * img_h * img_w, "image buffer size");
    assert!(
        b.top + b.height <= img_h && b.left + b.width <= img_w,
        "box outside the image"
    );
    let per_pixel = b.fill.len() == chan * b.height * b.width && b.fill.len() != chan;
    assert!(
        b.fill.is_empty() || b.fill.len() == chan || per_pixel,
        "fill of {} values for a {chan}x{}x{} box",
        b.fill.len(),
        b.height,
        b.width
    );
    for c in 0..chan {
        for y in 0..b.height {
            let row = (c * img_h + b.top + y) * img_w + b.left;
            let dst = &mut img[row..row + b.width];
            if b.fill.is_empty() {
                dst.fill(0.0);
            } else if !per_pixel {
                dst.fill(b.fill[c]);
            } else {
                let s = (c * b.height + y) * b.width;
                dst.copy_from_slice(&b.fill[s..s + b.width]);
            }
        }
    }
}

/// Python's `random` calls over a Rust generator, optionally logged.
struct Source<'a, R: Rng + ?Sized> {
    rng: &'a mut R,
    log: Option<&'a mut Vec<Draw>>,
}

impl<R: Rng + ?Sized> Source<'_, R> {
    /// `random.random()`: uniform on [0, 1).
    fn random(&mut self) -> f64 {
        let value = self.rng.random::<f64>();
        if let Some(l) = &mut self.log {
            l.push(Draw::Random { value });
        }
        value
    }

    /// `random.uniform(a, b)`: `a + (b - a) * random()`.
    fn uniform(&mut self, a: f64, b: f64) -> f64 {
        let u = self.rng.random::<f64>();
        if let Some(l) = &mut self.log {
            l.push(Draw::Uniform { a, b, u });
        }
        a + (b - a) * u
    }

    /// `random.randint(a, b)`: uniform on the integers `a..=b`.
    fn randint(&mut self, a: i64, b: i64) -> i64 {
        let value = self.rng.random_range(a..=b);
        if let Some(l) = &mut self.log {
            l.push(Draw::Randint { a, b, value });
        }
        value
    }

    /// A standard normal value (Box-Muller, cosine branch), rounded to f32
    /// as torch's `normal_()` on a float32 tensor gives it. Not logged: timm
    /// draws these from torch's generator, not from `random`.
    fn normal(&mut self) -> f32 {
        // 1 - [0, 1) is (0, 1]: the logarithm stays finite.
        let u1 = 1.0 - self.rng.random::<f64>();
        let u2 = self.rng.random::<f64>();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn image(c: usize, h: usize, w: usize) -> Vec<f32> {
        (0..c * h * w).map(|i| i as f32 * 0.001 + 0.5).collect()
    }

    #[test]
    fn defaults_are_timms() {
        let e = RandomErasing::new(0.25, EraseMode::Pixel, 0);
        assert_eq!((e.min_count, e.max_count), (1, 1));
        assert_eq!(e.min_area, 0.02);
        assert_eq!(e.max_area, 1.0 / 3.0);
        assert_eq!(e.log_aspect, (0.3f64.ln(), (1.0 / 0.3f64).ln()));
        assert_eq!(RandomErasing::new(0.25, EraseMode::Pixel, 3).max_count, 3);
    }

    #[test]
    fn modes_parse_as_timm_lowercases_them() {
        assert_eq!("PIXEL".parse::<EraseMode>(), Ok(EraseMode::Pixel));
        assert_eq!("const".parse::<EraseMode>(), Ok(EraseMode::Const));
        assert_eq!("Rand".parse::<EraseMode>(), Ok(EraseMode::Rand));
        assert!("zero".parse::<EraseMode>().is_err());
    }

    #[test]
    fn probability_zero_and_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut img = image(3, 16, 16);
        let orig = img.clone();
        let never = RandomErasing::new(0.0, EraseMode::Const, 1);
        for _ in 0..50 {
            assert!(never.erase(&mut img, 3, 16, 16, &mut rng).is_empty());
        }
        assert_eq!(img, orig);
        let always = RandomErasing::new(1.0, EraseMode::Const, 1);
        let mut erased = 0;
        for _ in 0..50 {
            let mut img = orig.clone();
            let boxes = always.erase(&mut img, 3, 16, 16, &mut rng);
            assert!(boxes.len() <= 1);
            erased += boxes.len();
        }
        assert!(erased > 40, "{erased} of 50 erased");
    }

    #[test]
    fn boxes_fit_and_replay_to_the_same_bytes() {
        let (c, h, w) = (3, 24, 20);
        for mode in [EraseMode::Const, EraseMode::Rand, EraseMode::Pixel] {
            let e = RandomErasing::new(1.0, mode, 4);
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            for _ in 0..100 {
                let orig = image(c, h, w);
                let mut img = orig.clone();
                let boxes = e.erase(&mut img, c, h, w, &mut rng);
                assert!((1..=4).contains(&boxes.len()));
                let mut replay = orig.clone();
                for b in &boxes {
                    assert!(b.height < h && b.width < w);
                    assert!(b.top + b.height <= h && b.left + b.width <= w);
                    let n = match mode {
                        EraseMode::Const => 0,
                        EraseMode::Rand => c,
                        EraseMode::Pixel => c * b.height * b.width,
                    };
                    assert_eq!(b.fill.len(), n);
                    apply_box(&mut replay, c, h, w, b);
                }
                assert_eq!(img, replay);
            }
        }
    }

    #[test]
    fn recorded_draws_are_the_same_draws() {
        let e = RandomErasing::new(0.7, EraseMode::Pixel, 3);
        let (mut a, mut b) = (image(3, 12, 12), image(3, 12, 12));
        let mut r1 = ChaCha8Rng::seed_from_u64(5);
        let mut r2 = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..20 {
            let plain = e.erase(&mut a, 3, 12, 12, &mut r1);
            let (rec, draws) = e.erase_recorded(&mut b, 3, 12, 12, &mut r2);
            assert_eq!(plain, rec);
            assert!(matches!(draws[0], Draw::Random { .. }));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn const_box_is_zeros_and_rand_box_one_value_per_channel() {
        let (c, h, w) = (3, 4, 5);
        let mut img = image(c, h, w);
        let b = EraseBox {
            top: 1,
            left: 2,
            height: 2,
            width: 3,
            fill: vec![7.0, 8.0, 9.0],
        };
        apply_box(&mut img, c, h, w, &b);
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let v = img[(ch * h + y) * w + x];
                    let inside = (1..3).contains(&y) && (2..5).contains(&x);
                    assert_eq!(v == 7.0 + ch as f32, inside, "{ch} {y} {x}");
                }
            }
        }
        apply_box(&mut img, c, h, w, &EraseBox { fill: vec![], ..b });
        assert_eq!(img[(h + 1) * w + 2], 0.0);
    }
}
