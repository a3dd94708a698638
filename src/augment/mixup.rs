//! timm's Mixup and CutMix (`timm/data/mixup.py`, class `Mixup`, as train.py
//! calls it without its prefetcher: on the normalized float batch; Zhang et
//! al., arXiv:1710.09412; Yun et al., arXiv:1905.04899).
//!
//! Two halves, so that timm's own code can be run on dpn's numbers:
//!
//! - [`Mixup::draw`] draws what timm's `np.random` calls return, in timm's
//!   order, into a [`Draws`] (from dpn's generator, [`rng_for`]: keyed by the
//!   run's seed and the global update index, so a resumed run and any world
//!   size draw the same numbers for the same update);
//! - [`Mixup::mix`] is a pure function of (batch, labels, draws) returning
//!   the mixed batch and the soft targets, computed with timm's formulas and
//!   the same tensor operations in the same dtypes (tests/train_mixup.rs and
//!   tests/py/mixup_reference.py compare it with timm byte for byte).
//!
//! The formulas, with timm's function names:
//!
//! - `_params_per_batch` (mode `batch`): `rand() < prob` decides whether to
//!   mix; then, with both mixup and cutmix on, `use_cutmix = rand() <
//!   switch_prob`; `lam = beta(a, a)` with the cutmix or the mixup alpha.
//!   Unmixed, `lam = 1`.
//! - `_params_per_elem` (modes `pair`, `elem`; `n` = batch or half of it):
//!   arrays of `n`: `use_cutmix = rand(n) < switch_prob` (both on), then
//!   `beta(ac, ac, n)` and `beta(am, am, n)` (both drawn, one kept per
//!   element), then `lam = where(rand(n) < prob, lam_mix as f32, 1)`: the
//!   lambdas are float32 here, and so is the cutmix box's arithmetic below.
//! - `rand_bbox` (cutmix without minmax): `ratio = sqrt(1 - lam)`,
//!   `cut_h = int(H * ratio)`, `cut_w = int(W * ratio)`, `cy = randint(0, H)`,
//!   `cx = randint(0, W)`, rows `clip(cy - cut_h // 2, 0, H) ..
//!   clip(cy + (cut_h + 1) // 2, 0, H)`, columns likewise.
//! - `rand_bbox_minmax` (`--cutmix-minmax MIN MAX`, which forces the cutmix
//!   alpha to 1): `cut_h = randint(int(H * MIN), int(H * MAX))`, `cut_w`
//!   likewise with W, `yl = randint(0, H - cut_h + 1)`, `xl = randint(0, W -
//!   cut_w + 1)`, rows `yl .. yl + cut_h`, columns `xl .. xl + cut_w`.
//! - `cutmix_bbox_and_lam` (train.py keeps `correct_lam=True`): `lam = 1 -
//!   box_area / (H * W)` in float64 (stored back as float32 per element).
//! - `_mix_batch`: cutmix copies the box from `x.flip(0)`; mixup is
//!   `x * lam + x.flip(0) * (1 - lam)`. `_mix_pair`/`_mix_elem`: image `i`
//!   with image `j = n - 1 - i` of the unmixed batch (pair mode mixes both of
//!   a pair with one lambda; the lambdas of the second half are the first
//!   half's reversed). A box is drawn only where `lam != 1`.
//! - `mixup_target`: `off = smoothing / classes`, `on = 1 - smoothing + off`,
//!   `y1` = one-hot of the labels, `y2` = one-hot of the labels reversed,
//!   both float32 filled with `off` and `on`; targets `y1 * lam + y2 * (1 -
//!   lam)`, with `lam` a float (batch) or an `(n, 1)` tensor of the batch's
//!   dtype (pair, elem).
//!
//! timm asserts an even batch. A dpn batch is odd only when unreadable
//! images were skipped: batch and elem mode then mix the middle image with
//! itself (nothing changes), and pair mode leaves it unmixed (`lam = 1`).

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use serde::Serialize;
use tch::{Kind, Tensor};

/// How the mixing parameters are shared (timm's `mode`, `--mixup-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MixMode {
    /// One lambda (and box) for the whole batch, mixed with its reverse.
    Batch,
    /// One per pair `(i, n - 1 - i)`.
    Pair,
    /// One per image.
    Elem,
}

impl MixMode {
    pub const NAMES: [&'static str; 3] = ["batch", "pair", "elem"];

    pub fn name(self) -> &'static str {
        match self {
            MixMode::Batch => "batch",
            MixMode::Pair => "pair",
            MixMode::Elem => "elem",
        }
    }
}

impl FromStr for MixMode {
    type Err = String;

    fn from_str(s: &str) -> Result<MixMode, String> {
        match s {
            "batch" => Ok(MixMode::Batch),
            "pair" => Ok(MixMode::Pair),
            "elem" => Ok(MixMode::Elem),
            _ => Err(format!(
                "unknown mixup mode {s:?}: one of {}",
                MixMode::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for MixMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// timm's `Mixup` settings, as train.py builds them from its flags
/// (`correct_lam` is always true there).
#[derive(Debug, Clone, PartialEq)]
pub struct Mixup {
    pub mixup_alpha: f64,
    /// 1 when `cutmix_minmax` is set, as timm forces it.
    pub cutmix_alpha: f64,
    pub cutmix_minmax: Option<(f64, f64)>,
    /// `--mixup-prob`.
    pub prob: f64,
    /// `--mixup-switch-prob`.
    pub switch_prob: f64,
    pub mode: MixMode,
    /// `--label-smoothing` (timm's `--smoothing`), moved into the targets.
    pub label_smoothing: f64,
    pub num_classes: usize,
}

/// The random numbers of a cutmix box: what `rand_bbox`'s two `randint`
/// calls return (`cy`, `cx`), or `rand_bbox_minmax`'s four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RawBox {
    Centre {
        cy: i64,
        cx: i64,
    },
    MinMax {
        cut_h: i64,
        cut_w: i64,
        yl: i64,
        xl: i64,
    },
}

/// What timm's `np.random` calls return for one batch, in the order timm
/// makes them (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Draws {
    /// Mixing is switched off (`--mixup-off-epoch` reached): nothing drawn;
    /// the targets are still soft (smoothed), as in timm.
    Off,
    /// Mode `batch`: `rand()`, then (when mixing) `rand()` for the switch
    /// when both are on, `beta(a, a)`, and the box when cutmix and `lam != 1`.
    Batch {
        apply: f64,
        switch: Option<f64>,
        beta: Option<f64>,
        bbox: Option<RawBox>,
    },
    /// Modes `pair` and `elem`: the arrays, then a box for each element
    /// that cutmix mixes (`None` for the others).
    Elems {
        switch: Option<Vec<f64>>,
        beta_cutmix: Option<Vec<f64>>,
        beta_mixup: Option<Vec<f64>>,
        apply: Vec<f64>,
        boxes: Vec<Option<RawBox>>,
    },
}

/// Which of its ranks' batches a process mixes: the draws of a global update
/// are made for `world` batches of `per_rank` images, and rank `rank` takes
/// its own slice, so they do not depend on the world size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub per_rank: usize,
    pub rank: usize,
    pub world: usize,
}

impl Share {
    /// One process with batches of `n`.
    pub fn single(n: usize) -> Share {
        Share {
            per_rank: n,
            rank: 0,
            world: 1,
        }
    }
}

/// The generator of update `update`'s mixup draws in a run seeded `seed`.
pub fn rng_for(seed: u64, update: u64) -> rand_chacha::ChaCha8Rng {
    // splitmix64's finalizer over the update, apart from the per-image keys
    // of `data::transform`.
    let mut z = update.wrapping_add(0x6D69_7875_7021_0001); // "mixup!"
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ z)
}

/// A standard normal value (Box-Muller).
fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `ln X` for `X ~ Gamma(a, 1)`: Marsaglia and Tsang's method, with
/// `Gamma(a) = Gamma(a + 1) * U^(1/a)` for `a < 1`, in logs so that small
/// alphas (0.1 and below) do not underflow to 0.
fn ln_gamma_sample<R: Rng + ?Sized>(rng: &mut R, a: f64) -> f64 {
    if a < 1.0 {
        let u = 1.0 - rng.random::<f64>();
        return ln_gamma_sample(rng, a + 1.0) + u.ln() / a;
    }
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return (d * v).ln();
        }
    }
}

/// A `Beta(a, a)` value (`np.random.beta(a, a)`'s distribution, not its
/// stream): `X / (X + Y)` for independent `Gamma(a)` values.
pub fn beta<R: Rng + ?Sized>(rng: &mut R, a: f64) -> f64 {
    let lx = ln_gamma_sample(rng, a);
    let ly = ln_gamma_sample(rng, a);
    1.0 / (1.0 + (ly - lx).exp())
}

/// A cutmix box as timm slices it: rows `yl..yh`, columns `xl..xh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bbox {
    pub yl: i64,
    pub yh: i64,
    pub xl: i64,
    pub xh: i64,
}

impl Bbox {
    fn area(self) -> i64 {
        (self.yh - self.yl) * (self.xh - self.xl)
    }
}

impl Mixup {
    /// Whether train.py builds a `Mixup` (`mixup > 0 or cutmix > 0 or
    /// cutmix_minmax is not None`).
    pub fn active(mixup: f64, cutmix: f64, minmax: Option<(f64, f64)>) -> bool {
        mixup > 0.0 || cutmix > 0.0 || minmax.is_some()
    }

    fn both(&self) -> bool {
        self.mixup_alpha > 0.0 && self.cutmix_alpha > 0.0
    }

    /// `(use_cutmix, lam)` of `_params_per_batch` from its draws.
    fn batch_params(&self, apply: f64, switch: Option<f64>, beta: Option<f64>) -> (bool, f64) {
        if apply >= self.prob {
            return (false, 1.0);
        }
        let cutmix = if self.both() {
            switch.is_some_and(|s| s < self.switch_prob)
        } else {
            self.mixup_alpha <= 0.0
        };
        (cutmix, beta.unwrap_or(1.0))
    }

    /// `(use_cutmix, lam)` of element `i` in `_params_per_elem`.
    fn elem_params(
        &self,
        i: usize,
        switch: Option<&[f64]>,
        beta_cutmix: Option<&[f64]>,
        beta_mixup: Option<&[f64]>,
        apply: &[f64],
    ) -> (bool, f32) {
        let (cutmix, lam_mix) = if self.both() {
            let c = switch.is_some_and(|s| s[i] < self.switch_prob);
            let b = if c { beta_cutmix } else { beta_mixup };
            (c, b.map_or(1.0, |b| b[i]))
        } else if self.mixup_alpha > 0.0 {
            (false, beta_mixup.map_or(1.0, |b| b[i]))
        } else {
            (true, beta_cutmix.map_or(1.0, |b| b[i]))
        };
        let lam = if apply[i] < self.prob {
            lam_mix as f32
        } else {
            1.0
        };
        (cutmix, lam)
    }

    /// `rand_bbox`'s or `rand_bbox_minmax`'s random numbers for an `h x w`
    /// image.
    fn draw_box<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> RawBox {
        let (h, w) = (h as i64, w as i64);
        match self.cutmix_minmax {
            None => RawBox::Centre {
                cy: rng.random_range(0..h),
                cx: rng.random_range(0..w),
            },
            Some((lo, hi)) => {
                let cut_h = rng.random_range(minmax_bound(h, lo)..minmax_bound(h, hi));
                let cut_w = rng.random_range(minmax_bound(w, lo)..minmax_bound(w, hi));
                RawBox::MinMax {
                    cut_h,
                    cut_w,
                    yl: rng.random_range(0..h - cut_h + 1),
                    xl: rng.random_range(0..w - cut_w + 1),
                }
            }
        }
    }

    /// The draws for a batch of `n` images of `h x w` (`enabled` false after
    /// `--mixup-off-epoch`: timm's `mixup_enabled`), this rank's share of the
    /// global update's draws. Settings must have passed
    /// [`Mixup::check`] for this image size.
    pub fn draw<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        n: usize,
        share: Share,
        (h, w): (usize, usize),
        enabled: bool,
    ) -> Draws {
        if !enabled {
            return Draws::Off;
        }
        let alpha_draw =
            |rng: &mut R, a: f64, k: usize| -> Vec<f64> { (0..k).map(|_| beta(rng, a)).collect() };
        if self.mode == MixMode::Batch {
            let apply = rng.random::<f64>();
            if apply >= self.prob {
                return Draws::Batch {
                    apply,
                    switch: None,
                    beta: None,
                    bbox: None,
                };
            }
            let switch = self.both().then(|| rng.random::<f64>());
            let cutmix = match switch {
                Some(s) => s < self.switch_prob,
                None => self.mixup_alpha <= 0.0,
            };
            let a = if cutmix {
                self.cutmix_alpha
            } else {
                self.mixup_alpha
            };
            let lam = beta(rng, a);
            let bbox = (cutmix && lam != 1.0).then(|| self.draw_box(rng, h, w));
            return Draws::Batch {
                apply,
                switch,
                beta: Some(lam),
                bbox,
            };
        }
        let (slots, used) = match self.mode {
            MixMode::Pair => (share.per_rank / 2, n / 2),
            _ => (share.per_rank, n),
        };
        let total = slots * share.world;
        let switch = self
            .both()
            .then(|| (0..total).map(|_| rng.random::<f64>()).collect::<Vec<_>>());
        let beta_cutmix =
            (self.cutmix_alpha > 0.0).then(|| alpha_draw(rng, self.cutmix_alpha, total));
        let beta_mixup = (self.mixup_alpha > 0.0).then(|| alpha_draw(rng, self.mixup_alpha, total));
        let apply: Vec<f64> = (0..total).map(|_| rng.random::<f64>()).collect();
        let boxes: Vec<Option<RawBox>> = (0..total)
            .map(|i| {
                let (cutmix, lam) = self.elem_params(
                    i,
                    switch.as_deref(),
                    beta_cutmix.as_deref(),
                    beta_mixup.as_deref(),
                    &apply,
                );
                (cutmix && lam != 1.0).then(|| self.draw_box(rng, h, w))
            })
            .collect();
        let from = share.rank * slots;
        let part = |v: &[f64]| v[from..from + used].to_vec();
        Draws::Elems {
            switch: switch.as_deref().map(part),
            beta_cutmix: beta_cutmix.as_deref().map(part),
            beta_mixup: beta_mixup.as_deref().map(part),
            apply: part(&apply),
            boxes: boxes[from..from + used].to_vec(),
        }
    }

    /// The box of `raw` and the corrected lambda (`cutmix_bbox_and_lam`);
    /// `lam32` is the element's float32 lambda in pair/elem mode, where
    /// `rand_bbox`'s `sqrt(1 - lam)` and `H * ratio` are float32 (numpy's
    /// arithmetic on an `np.float32`), else `None` (float64).
    pub fn bbox(
        &self,
        raw: RawBox,
        lam: f64,
        lam32: Option<f32>,
        h: usize,
        w: usize,
    ) -> (Bbox, f64) {
        let (hi, wi) = (h as i64, w as i64);
        let b = match raw {
            RawBox::Centre { cy, cx } => {
                let (cut_h, cut_w) = match lam32 {
                    Some(l) => {
                        let ratio = (1.0f32 - l).sqrt();
                        ((h as f32 * ratio) as i64, (w as f32 * ratio) as i64)
                    }
                    None => {
                        let ratio = (1.0 - lam).sqrt();
                        ((h as f64 * ratio) as i64, (w as f64 * ratio) as i64)
                    }
                };
                Bbox {
                    yl: (cy - cut_h / 2).clamp(0, hi),
                    yh: (cy + (cut_h + 1) / 2).clamp(0, hi),
                    xl: (cx - cut_w / 2).clamp(0, wi),
                    xh: (cx + (cut_w + 1) / 2).clamp(0, wi),
                }
            }
            RawBox::MinMax {
                cut_h,
                cut_w,
                yl,
                xl,
            } => Bbox {
                yl,
                yh: yl + cut_h,
                xl,
                xh: xl + cut_w,
            },
        };
        (b, 1.0 - b.area() as f64 / (hi * wi) as f64)
    }

    /// timm's `Mixup.__call__(x, target)` on an `N x C x H x W` float batch
    /// and its int64 labels, with `draws` in place of `np.random`: the mixed
    /// batch (a new tensor) and the `N x classes` soft targets.
    pub fn mix(&self, x: &Tensor, labels: &Tensor, draws: &Draws) -> (Tensor, Tensor) {
        let size = x.size();
        let (n, h, w) = (size[0], size[2] as usize, size[3] as usize);
        let out = x.copy();
        let targets = match draws {
            Draws::Off if self.mode == MixMode::Batch => self.targets(labels, Lam::Scalar(1.0)),
            Draws::Off => {
                let ones = vec![1.0f32; n as usize];
                self.targets(labels, Lam::PerImage(&ones, x.kind()))
            }
            Draws::Batch {
                apply,
                switch,
                beta,
                bbox,
            } => {
                let (cutmix, mut lam) = self.batch_params(*apply, *switch, *beta);
                if lam != 1.0 {
                    let flipped = x.flip([0]);
                    if cutmix {
                        let raw = bbox.expect("a cutmix box among the draws");
                        let (b, l) = self.bbox(raw, lam, None, h, w);
                        lam = l;
                        region(&out, b).copy_(&region(&flipped, b));
                    } else {
                        // x_flipped = x.flip(0).mul_(1 - lam); x.mul_(lam).add_(x_flipped)
                        let mixed = x * lam + flipped * (1.0 - lam);
                        let mut o = out.shallow_clone();
                        o.copy_(&mixed);
                    }
                }
                self.targets(labels, Lam::Scalar(lam))
            }
            Draws::Elems {
                switch,
                beta_cutmix,
                beta_mixup,
                apply,
                boxes,
            } => {
                let pairs = self.mode == MixMode::Pair;
                let mut lams = Vec::with_capacity(apply.len() * 2 + 1);
                for i in 0..apply.len() {
                    let (cutmix, l) = self.elem_params(
                        i,
                        switch.as_deref(),
                        beta_cutmix.as_deref(),
                        beta_mixup.as_deref(),
                        apply,
                    );
                    lams.push(l);
                    if l == 1.0 {
                        continue;
                    }
                    let (i, j) = (i as i64, n - 1 - i as i64);
                    if cutmix {
                        let raw = boxes[i as usize].expect("a cutmix box among the draws");
                        let (b, corrected) = self.bbox(raw, f64::from(l), Some(l), h, w);
                        region(&out.get(i), b).copy_(&region(&x.get(j), b));
                        if pairs {
                            region(&out.get(j), b).copy_(&region(&x.get(i), b));
                        }
                        lams[i as usize] = corrected as f32;
                    } else {
                        // x[i] = x[i] * lam + x_orig[j] * (1 - lam), lam an np.float32
                        let rest = f64::from(1.0f32 - l);
                        out.get(i)
                            .copy_(&(x.get(i) * f64::from(l) + x.get(j) * rest));
                        if pairs {
                            out.get(j)
                                .copy_(&(x.get(j) * f64::from(l) + x.get(i) * rest));
                        }
                    }
                }
                if pairs {
                    let half = lams.clone();
                    if n % 2 == 1 {
                        lams.push(1.0);
                    }
                    lams.extend(half.iter().rev());
                }
                self.targets(labels, Lam::PerImage(&lams, x.kind()))
            }
        };
        (out, targets)
    }

    /// `dpn augment --explain`'s record of what [`Mixup::mix`] does to each
    /// image of a batch of `n` (`h x w`) with `draws`: `null` for an image
    /// left as it is, else its mode (`mixup` or `cutmix`), its lambda (the
    /// weight of its own image and of its label; for cutmix the corrected
    /// one, 1 - box area / image area), the `partner` image blended or
    /// pasted in (`n - 1 - i`, the batch reversed, as timm's `x.flip(0)`),
    /// and for cutmix the `box` (top, left, height, width) taken from it.
    pub fn explain(&self, draws: &Draws, n: usize, h: usize, w: usize) -> Vec<serde_json::Value> {
        use serde_json::{json, Value};
        let entry = |cutmix: bool, lam: f64, raw: Option<RawBox>, lam32: Option<f32>, i: usize| {
            let (lam, b) = match raw.filter(|_| cutmix) {
                Some(raw) => {
                    let (b, l) = self.bbox(raw, lam, lam32, h, w);
                    let bx = json!({"top": b.yl, "left": b.xl, "height": b.yh - b.yl, "width": b.xh - b.xl});
                    (l, bx)
                }
                None => (lam, Value::Null),
            };
            json!({
                "mode": if cutmix { "cutmix" } else { "mixup" },
                "lam": lam,
                "partner": n - 1 - i,
                "box": b,
            })
        };
        match draws {
            Draws::Off => vec![Value::Null; n],
            Draws::Batch {
                apply,
                switch,
                beta,
                bbox,
            } => {
                let (cutmix, lam) = self.batch_params(*apply, *switch, *beta);
                (0..n)
                    .map(|i| {
                        if lam == 1.0 {
                            Value::Null
                        } else {
                            entry(cutmix, lam, *bbox, None, i)
                        }
                    })
                    .collect()
            }
            Draws::Elems {
                switch,
                beta_cutmix,
                beta_mixup,
                apply,
                boxes,
            } => {
                let mut out = vec![Value::Null; n];
                for i in 0..apply.len() {
                    let (cutmix, l) = self.elem_params(
                        i,
                        switch.as_deref(),
                        beta_cutmix.as_deref(),
                        beta_mixup.as_deref(),
                        apply,
                    );
                    if l == 1.0 {
                        continue;
                    }
                    out[i] = entry(cutmix, f64::from(l), boxes[i], Some(l), i);
                    if self.mode == MixMode::Pair {
                        out[n - 1 - i] = entry(cutmix, f64::from(l), boxes[i], Some(l), n - 1 - i);
                    }
                }
                out
            }
        }
    }

    /// `mixup_target(target, num_classes, lam, smoothing)`.
    fn targets(&self, labels: &Tensor, lam: Lam) -> Tensor {
        let nc = self.num_classes as i64;
        let off = self.label_smoothing / nc as f64;
        let on = 1.0 - self.label_smoothing + off;
        let one_hot = |t: &Tensor| {
            let t = t.to_kind(Kind::Int64).view([-1, 1]);
            let mut y = Tensor::full([t.size()[0], nc], off, (Kind::Float, t.device()));
            let _ = y.scatter_value_(1, &t, on);
            y
        };
        let y1 = one_hot(labels);
        let y2 = one_hot(&labels.flip([0]));
        match lam {
            Lam::Scalar(l) => y1 * l + y2 * (1.0 - l),
            Lam::PerImage(l, kind) => {
                // torch.tensor(lam_batch, dtype=x.dtype).unsqueeze(1)
                let l = Tensor::from_slice(l).to_kind(kind).unsqueeze(1);
                let rest = 1.0 - &l;
                y1 * &l + y2 * rest
            }
        }
    }

    /// The settings' errors for images of `img_size` and batches of
    /// `batch_size`, as one line each (none when they are fine).
    pub fn check(
        mixup: f64,
        cutmix: f64,
        minmax: Option<(f64, f64)>,
        prob: f64,
        switch_prob: f64,
        img_size: usize,
        batch_size: usize,
    ) -> Option<String> {
        if !(mixup >= 0.0 && mixup.is_finite()) {
            return Some(format!("--mixup {mixup} must be a finite alpha >= 0"));
        }
        if !(cutmix >= 0.0 && cutmix.is_finite()) {
            return Some(format!("--cutmix {cutmix} must be a finite alpha >= 0"));
        }
        if !(0.0..=1.0).contains(&prob) {
            return Some(format!("--mixup-prob {prob} must be in [0, 1]"));
        }
        if !(0.0..=1.0).contains(&switch_prob) {
            return Some(format!(
                "--mixup-switch-prob {switch_prob} must be in [0, 1]"
            ));
        }
        if let Some((lo, hi)) = minmax {
            if !(0.0 <= lo && lo < hi && hi <= 1.0) {
                return Some(format!(
                    "--cutmix-minmax {lo} {hi} must be two fractions of the image with 0 <= MIN < MAX <= 1"
                ));
            }
            let s = img_size as i64;
            if minmax_bound(s, lo) >= minmax_bound(s, hi) {
                return Some(format!(
                    "--cutmix-minmax {lo} {hi} at --img-size {img_size}: int({img_size} * MIN) must be below int({img_size} * MAX)"
                ));
            }
        }
        if Mixup::active(mixup, cutmix, minmax) && batch_size % 2 != 0 {
            return Some(format!(
                "--batch-size {batch_size} must be even with mixup or cutmix (timm mixes each image with the batch's reverse)"
            ));
        }
        None
    }
}

/// `int(size * fraction)` as `rand_bbox_minmax` computes it.
fn minmax_bound(size: i64, fraction: f64) -> i64 {
    (size as f64 * fraction) as i64
}

/// A lambda for `mixup_target`.
enum Lam<'a> {
    Scalar(f64),
    PerImage(&'a [f32], Kind),
}

/// `t[..., yl:yh, xl:xh]` (a view).
fn region(t: &Tensor, b: Bbox) -> Tensor {
    let d = t.dim() as i64;
    t.narrow(d - 2, b.yl, b.yh - b.yl)
        .narrow(d - 1, b.xl, b.xh - b.xl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixup(mode: MixMode, mixup: f64, cutmix: f64, minmax: Option<(f64, f64)>) -> Mixup {
        Mixup {
            mixup_alpha: mixup,
            cutmix_alpha: if minmax.is_some() { 1.0 } else { cutmix },
            cutmix_minmax: minmax,
            prob: 1.0,
            switch_prob: 0.5,
            mode,
            label_smoothing: 0.1,
            num_classes: 5,
        }
    }

    #[test]
    fn beta_has_the_mean_and_variance_of_beta_a_a() {
        let mut rng = rng_for(3, 0);
        for a in [0.1, 0.2, 0.8, 1.0, 2.5] {
            let k = 20000;
            let v: Vec<f64> = (0..k).map(|_| beta(&mut rng, a)).collect();
            assert!(v.iter().all(|x| (0.0..=1.0).contains(x)), "alpha {a}");
            let mean = v.iter().sum::<f64>() / k as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / k as f64;
            let want = 1.0 / (4.0 * (2.0 * a + 1.0));
            assert!((mean - 0.5).abs() < 0.01, "alpha {a}: mean {mean}");
            assert!(
                (var - want).abs() < 0.05 * want,
                "alpha {a}: var {var}, want {want}"
            );
        }
    }

    #[test]
    fn switch_and_prob_choose_paths_at_their_rates() {
        let mut m = mixup(MixMode::Batch, 0.2, 1.0, None);
        m.prob = 0.6;
        m.switch_prob = 0.3;
        let (mut applied, mut cut) = (0, 0);
        let k = 20000;
        for u in 0..k {
            match m.draw(&mut rng_for(1, u), 4, Share::single(4), (8, 8), true) {
                Draws::Batch {
                    apply,
                    switch,
                    beta,
                    ..
                } => {
                    let (c, _) = m.batch_params(apply, switch, beta);
                    if beta.is_some() {
                        applied += 1;
                        cut += usize::from(c);
                    }
                }
                d => panic!("{d:?}"),
            }
        }
        let (pa, pc) = (applied as f64 / k as f64, cut as f64 / applied as f64);
        assert!((pa - 0.6).abs() < 0.015, "applied {pa}");
        assert!((pc - 0.3).abs() < 0.015, "cutmix {pc}");
        assert_eq!(
            m.draw(&mut rng_for(1, 0), 4, Share::single(4), (8, 8), false),
            Draws::Off
        );
    }

    #[test]
    fn draws_depend_on_seed_and_update_only_and_shares_split_them() {
        let m = mixup(MixMode::Elem, 0.4, 1.0, Some((0.2, 0.8)));
        let whole = m.draw(&mut rng_for(9, 5), 8, Share::single(8), (16, 16), true);
        assert_eq!(
            whole,
            m.draw(&mut rng_for(9, 5), 8, Share::single(8), (16, 16), true)
        );
        assert_ne!(
            whole,
            m.draw(&mut rng_for(9, 6), 8, Share::single(8), (16, 16), true)
        );
        let Draws::Elems { apply, boxes, .. } = &whole else {
            panic!()
        };
        for rank in 0..2 {
            let share = Share {
                per_rank: 4,
                rank,
                world: 2,
            };
            let Draws::Elems {
                apply: a, boxes: b, ..
            } = m.draw(&mut rng_for(9, 5), 4, share, (16, 16), true)
            else {
                panic!()
            };
            assert_eq!(a, apply[rank * 4..rank * 4 + 4]);
            assert_eq!(b, boxes[rank * 4..rank * 4 + 4]);
        }
    }

    #[test]
    fn off_gives_smoothed_targets_and_the_batch_unchanged() {
        for mode in [MixMode::Batch, MixMode::Elem] {
            let m = mixup(mode, 1.0, 0.0, None);
            let x = Tensor::randn([4, 3, 4, 4], (Kind::Float, tch::Device::Cpu));
            let y = Tensor::from_slice(&[0i64, 4, 2, 2]);
            let (mx, t) = m.mix(&x, &y, &Draws::Off);
            assert!(mx.equal(&x));
            let row: Vec<f32> = Vec::try_from(t.get(1)).unwrap();
            assert_eq!(row, [0.02, 0.02, 0.02, 0.02, 0.92]);
        }
    }

    #[test]
    fn an_odd_pair_batch_leaves_the_middle_unmixed() {
        let m = mixup(MixMode::Pair, 1.0, 0.0, None);
        let x = Tensor::randn([5, 1, 2, 2], (Kind::Float, tch::Device::Cpu));
        let y = Tensor::from_slice(&[0i64, 1, 2, 3, 4]);
        let d = m.draw(&mut rng_for(0, 0), 5, Share::single(6), (2, 2), true);
        let (mx, t) = m.mix(&x, &y, &d);
        assert!(mx.get(2).equal(&x.get(2)));
        assert_eq!(t.size(), [5, 5]);
        assert_eq!(f64::try_from(t.get(2).get(2)).unwrap(), 0.92f32 as f64);
    }

    #[test]
    fn check_refuses_bad_settings() {
        let ok = |m, c, mm, p, s, b| Mixup::check(m, c, mm, p, s, 32, b).is_none();
        assert!(ok(0.2, 1.0, None, 1.0, 0.5, 16));
        assert!(!ok(-0.1, 0.0, None, 1.0, 0.5, 16));
        assert!(!ok(0.0, f64::NAN, None, 1.0, 0.5, 16));
        assert!(!ok(0.2, 0.0, None, 1.5, 0.5, 16));
        assert!(!ok(0.2, 0.0, None, 1.0, -0.5, 16));
        assert!(!ok(0.0, 0.0, Some((0.5, 0.4)), 1.0, 0.5, 16));
        assert!(!ok(0.0, 0.0, Some((0.2, 1.2)), 1.0, 0.5, 16));
        assert!(!ok(0.0, 0.0, Some((0.50, 0.51)), 1.0, 0.5, 16));
        assert!(!ok(0.2, 0.0, None, 1.0, 0.5, 15));
        assert!(ok(0.0, 0.0, None, 1.0, 0.5, 15));
        assert_eq!("pair".parse::<MixMode>(), Ok(MixMode::Pair));
        assert!("Batch".parse::<MixMode>().is_err());
    }
}
