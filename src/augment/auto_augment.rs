//! timm's AutoAugment (`timm/data/auto_augment.py` 1.0.29:
//! `auto_augment_policy_original`, `_originalr`, `_v0`, `_v0r`, `_3a`,
//! `auto_augment_transform`, `AutoAugment`) over the ops of [`super::ops`],
//! timm's AugMix ([`AugMix`]: `augment_and_mix_transform`, `AugMixAugment`),
//! and [`AutoAugmentConfig`], what timm's `--aa` selects
//! (`transforms_factory.transforms_imagenet_train`).
//!
//! The policies are data ([`policy`]), copied from timm's source: sub-policies
//! of `(op, probability, magnitude)`. The config string is
//! `{policy}-mstd{S}` (sections after the name: only `mstd`, a normal
//! standard deviation for the magnitudes; timm asserts on any other key and
//! ignores a section without a digit, which dpn refuses, naming it).
//!
//! Per image (`AutoAugment.__call__`): one sub-policy, `random.choice` (uniform);
//! then each of its ops as `AugmentOp.__call__` does
//! ([`super::rand_augment::draw_layer`]: gate, magnitude noise, negation,
//! filter, blur radius). [`AutoAugment::draw`] makes these draws from the
//! caller's generator as data, [`AutoAugment::apply`] applies them, and
//! tests/augment_ops.rs replays them through timm's own `AutoAugment`.

use anyhow::Result;
use rand::Rng;

use super::enhance;
use super::ops::{self, OpError, OpName};
use super::rand_augment::{
    apply_layer, draw_layer, explain_layer, LayerDraw, OpFn, RandAugment, RandHparams,
};
use crate::data::decode::RgbImage;
use crate::data::transform::{RgbStep, Trace};
use crate::sys::error;

use OpName::*;

/// One op of a sub-policy: name, probability, magnitude.
pub type PolicyOp = (OpName, f64, f64);

/// `auto_augment_policy_original`: ImageNet policy of
/// <https://arxiv.org/abs/1805.09501>.
const ORIGINAL: [[PolicyOp; 2]; 25] = [
    [(PosterizeOriginal, 0.4, 8.), (Rotate, 0.6, 9.)],
    [(Solarize, 0.6, 5.), (AutoContrast, 0.6, 5.)],
    [(Equalize, 0.8, 8.), (Equalize, 0.6, 3.)],
    [(PosterizeOriginal, 0.6, 7.), (PosterizeOriginal, 0.6, 6.)],
    [(Equalize, 0.4, 7.), (Solarize, 0.2, 4.)],
    [(Equalize, 0.4, 4.), (Rotate, 0.8, 8.)],
    [(Solarize, 0.6, 3.), (Equalize, 0.6, 7.)],
    [(PosterizeOriginal, 0.8, 5.), (Equalize, 1.0, 2.)],
    [(Rotate, 0.2, 3.), (Solarize, 0.6, 8.)],
    [(Equalize, 0.6, 8.), (PosterizeOriginal, 0.4, 6.)],
    [(Rotate, 0.8, 8.), (Color, 0.4, 0.)],
    [(Rotate, 0.4, 9.), (Equalize, 0.6, 2.)],
    [(Equalize, 0.0, 7.), (Equalize, 0.8, 8.)],
    [(Invert, 0.6, 4.), (Equalize, 1.0, 8.)],
    [(Color, 0.6, 4.), (Contrast, 1.0, 8.)],
    [(Rotate, 0.8, 8.), (Color, 1.0, 2.)],
    [(Color, 0.8, 8.), (Solarize, 0.8, 7.)],
    [(Sharpness, 0.4, 7.), (Invert, 0.6, 8.)],
    [(ShearX, 0.6, 5.), (Equalize, 1.0, 9.)],
    [(Color, 0.4, 0.), (Equalize, 0.6, 3.)],
    [(Equalize, 0.4, 7.), (Solarize, 0.2, 4.)],
    [(Solarize, 0.6, 5.), (AutoContrast, 0.6, 5.)],
    [(Invert, 0.6, 4.), (Equalize, 1.0, 8.)],
    [(Color, 0.6, 4.), (Contrast, 1.0, 8.)],
    [(Equalize, 0.8, 8.), (Equalize, 0.6, 3.)],
];

/// `auto_augment_policy_v0`: the TPU EfficientNet ImageNet policy.
const V0: [[PolicyOp; 2]; 25] = [
    [(Equalize, 0.8, 1.), (ShearY, 0.8, 4.)],
    [(Color, 0.4, 9.), (Equalize, 0.6, 3.)],
    [(Color, 0.4, 1.), (Rotate, 0.6, 8.)],
    [(Solarize, 0.8, 3.), (Equalize, 0.4, 7.)],
    [(Solarize, 0.4, 2.), (Solarize, 0.6, 2.)],
    [(Color, 0.2, 0.), (Equalize, 0.8, 8.)],
    [(Equalize, 0.4, 8.), (SolarizeAdd, 0.8, 3.)],
    [(ShearX, 0.2, 9.), (Rotate, 0.6, 8.)],
    [(Color, 0.6, 1.), (Equalize, 1.0, 2.)],
    [(Invert, 0.4, 9.), (Rotate, 0.6, 0.)],
    [(Equalize, 1.0, 9.), (ShearY, 0.6, 3.)],
    [(Color, 0.4, 7.), (Equalize, 0.6, 0.)],
    [(Posterize, 0.4, 6.), (AutoContrast, 0.4, 7.)],
    [(Solarize, 0.6, 8.), (Color, 0.6, 9.)],
    [(Solarize, 0.2, 4.), (Rotate, 0.8, 9.)],
    [(Rotate, 1.0, 7.), (TranslateYRel, 0.8, 9.)],
    [(ShearX, 0.0, 0.), (Solarize, 0.8, 4.)],
    [(ShearY, 0.8, 0.), (Color, 0.6, 4.)],
    [(Color, 1.0, 0.), (Rotate, 0.6, 2.)],
    [(Equalize, 0.8, 4.), (Equalize, 0.0, 8.)],
    [(Equalize, 1.0, 4.), (AutoContrast, 0.6, 2.)],
    [(ShearY, 0.4, 7.), (SolarizeAdd, 0.6, 7.)],
    [(Posterize, 0.8, 2.), (Solarize, 0.6, 10.)],
    [(Solarize, 0.6, 8.), (Equalize, 0.6, 1.)],
    [(Color, 0.8, 6.), (Rotate, 0.4, 5.)],
];

/// `auto_augment_policy_3a`.
const THREE_A: [[PolicyOp; 1]; 3] = [
    [(Solarize, 1.0, 5.)],
    [(Desaturate, 1.0, 10.)],
    [(GaussianBlurRand, 1.0, 10.)],
];

/// The policy names timm's `auto_augment_policy` knows.
pub const POLICIES: [&str; 5] = ["original", "originalr", "v0", "v0r", "3a"];

/// timm's `auto_augment_policy(name)`: `originalr` and `v0r` are `original`
/// and `v0` with `PosterizeIncreasing` for `PosterizeOriginal`/`Posterize`.
pub fn policy(name: &str) -> Option<Vec<Vec<PolicyOp>>> {
    let research = |p: &[[PolicyOp; 2]], from: OpName| {
        p.iter()
            .map(|sp| {
                sp.iter()
                    .map(|&(op, pr, m)| {
                        let op = if op == from { PosterizeIncreasing } else { op };
                        (op, pr, m)
                    })
                    .collect()
            })
            .collect()
    };
    Some(match name {
        "original" => ORIGINAL.iter().map(|sp| sp.to_vec()).collect(),
        "originalr" => research(&ORIGINAL, PosterizeOriginal),
        "v0" => V0.iter().map(|sp| sp.to_vec()).collect(),
        "v0r" => research(&V0, Posterize),
        "3a" => THREE_A.iter().map(|sp| sp.to_vec()).collect(),
        _ => return None,
    })
}

/// A parsed AutoAugment config.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoAugment {
    pub name: String,
    pub policy: Vec<Vec<PolicyOp>>,
    /// timm's `magnitude_std` (0: none).
    pub magnitude_std: f64,
    pub hparams: RandHparams,
}

/// One image's draws: the sub-policy, and per op its [`LayerDraw`] (`op` is
/// the index in the sub-policy).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoDraw {
    pub sub_policy: usize,
    pub ops: Vec<LayerDraw>,
}

fn bad(config: &str, section: &str, why: impl std::fmt::Display) -> anyhow::Error {
    error::usage(format!(
        "AutoAugment config '{config}': section '{section}': {why} \
         (expected <{}>[-mstd<float>], or rand-...)",
        POLICIES.join("|")
    ))
}

impl AutoAugment {
    /// timm's `auto_augment_transform(config, hparams)`.
    pub fn parse(config: &str, hparams: RandHparams) -> Result<Self> {
        let mut sections = config.split('-');
        let name = sections.next().unwrap_or_default();
        let policy =
            policy(name).ok_or_else(|| bad(config, name, "not an AutoAugment policy name"))?;
        let mut magnitude_std: Option<f64> = None;
        for c in sections {
            let Some(at) = c.find(|ch: char| ch.is_ascii_digit()) else {
                return Err(bad(config, c, "no value (timm ignores such a section)"));
            };
            let (key, val) = c.split_at(at);
            if key != "mstd" {
                return Err(bad(config, c, format!("unknown key '{key}' (only mstd)")));
            }
            let s = val
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(config, c, format!("'mstd' needs a number, not '{val}'")))?;
            // `hparams.setdefault`: the first one given wins.
            magnitude_std.get_or_insert(s);
        }
        Ok(AutoAugment {
            name: name.to_string(),
            policy,
            magnitude_std: magnitude_std.unwrap_or(0.0),
            hparams,
        })
    }

    /// One image's draws, from the caller's generator.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> AutoDraw {
        let sub_policy = rng.random_range(0..self.policy.len());
        let ops = self.policy[sub_policy]
            .iter()
            .enumerate()
            .map(|(i, &(op, prob, magnitude))| {
                draw_layer(
                    i,
                    op,
                    prob,
                    magnitude,
                    self.magnitude_std,
                    self.hparams.interpolation.is_some(),
                    rng,
                )
            })
            .collect();
        AutoDraw { sub_policy, ops }
    }

    /// The image after the draws `d`, as timm 1.0.29 on Pillow 13 computes it.
    pub fn apply(&self, img: &RgbImage, d: &AutoDraw) -> Result<RgbImage, OpError> {
        self.apply_with(img, d, ops::apply)
    }

    /// [`AutoAugment::apply`] as `dpn train` runs it ([`ops::apply_training`]).
    pub fn apply_training(&self, img: &RgbImage, d: &AutoDraw) -> RgbImage {
        self.apply_with(img, d, ops::apply_training)
            .expect("level_to_arg gives every op the argument kind it takes")
    }

    fn apply_with(&self, img: &RgbImage, d: &AutoDraw, op_fn: OpFn) -> Result<RgbImage, OpError> {
        let sp = &self.policy[d.sub_policy];
        let mut img = img.clone();
        for l in &d.ops {
            let (op, prob, magnitude) = sp[l.op];
            // timm's AutoAugment hparams carry no `magnitude_max`.
            img = apply_layer(&img, op, l, (prob, magnitude, None), &self.hparams, op_fn)?;
        }
        Ok(img)
    }
}

/// timm's `_AUGMIX_TRANSFORMS`.
pub const AUGMIX_TRANSFORMS: [OpName; 13] = [
    AutoContrast,
    ColorIncreasing,
    ContrastIncreasing,
    BrightnessIncreasing,
    SharpnessIncreasing,
    Equalize,
    Rotate,
    PosterizeIncreasing,
    SolarizeIncreasing,
    ShearX,
    ShearY,
    TranslateXRel,
    TranslateYRel,
];

/// timm's AugMix (`augment_and_mix_transform`, `AugMixAugment`): config
/// `augmix-m{M}-w{W}-d{D}-a{A}-b{0|1}-mstd{S}` (magnitude, default 3; chain
/// count, 3; chain depth, -1: 1 to 3 drawn per chain; Dirichlet and Beta
/// alpha, 1; blended mode; magnitude noise, default uniform on `[0, M]`).
/// The ops are [`AUGMIX_TRANSFORMS`] with probability 1;
/// `transforms_imagenet_train` sets `translate_pct` 0.3 for them.
///
/// Per image (`AugMixAugment.__call__`): the chain weights
/// `np.float32(dirichlet([A] * W))`, the final blend `np.float32(beta(A, A))`,
/// then per chain its depth (`randint(1, 4)` when `D <= 0`), its ops
/// (`np.random.choice`, with replacement) and each op's draws as RandAugment's
/// layers. Basic mode sums `weight * chain image` in f32 over the chains,
/// clips to 0..=255, truncates to 8 bits and blends the input with it
/// (`Image.blend(img, mixed, m)`); blended mode blends each chain into the
/// running image with timm's `_calc_blended_weights`. Square images only in
/// basic mode, as timm (its accumulator is `(width, height, 3)`).
#[derive(Debug, Clone, PartialEq)]
pub struct AugMix {
    pub ops: Vec<OpName>,
    pub magnitude: f64,
    pub width: usize,
    pub depth: i64,
    pub alpha: f64,
    pub blended: bool,
    /// Infinite (the default): uniform on `[0, magnitude]`.
    pub magnitude_std: f64,
    pub hparams: RandHparams,
}

/// One image's AugMix draws.
#[derive(Debug, Clone, PartialEq)]
pub struct AugMixDraw {
    /// `np.float32(np.random.dirichlet([alpha] * width))`.
    pub weights: Vec<f32>,
    /// `np.float32(np.random.beta(alpha, alpha))`.
    pub m: f32,
    /// Per chain, its ops' draws (`op` indexes [`AugMix::ops`]).
    pub chains: Vec<Vec<LayerDraw>>,
}

/// `ln X` for `X ~ Gamma(a, 1)` (Marsaglia and Tsang; `a < 1` through
/// `Gamma(a + 1) * U^(1/a)`), in logs so that small alphas do not underflow.
fn ln_gamma<R: Rng + ?Sized>(rng: &mut R, a: f64) -> f64 {
    if a < 1.0 {
        let u = 1.0 - rng.random::<f64>();
        return ln_gamma(rng, a + 1.0) + u.ln() / a;
    }
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let x = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
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

/// `Dirichlet(alpha, ..., alpha)` over `k` parts (the distribution, not
/// numpy's stream): independent Gamma values over their sum.
fn dirichlet<R: Rng + ?Sized>(rng: &mut R, alpha: f64, k: usize) -> Vec<f64> {
    let ln: Vec<f64> = (0..k).map(|_| ln_gamma(rng, alpha)).collect();
    let top = ln.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = ln.iter().map(|l| (l - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

fn bad_mix(config: &str, section: &str, why: impl std::fmt::Display) -> anyhow::Error {
    error::usage(format!(
        "AugMix config '{config}': section '{section}': {why} \
         (expected augmix-m<int>-w<int>-d<int>-a<float>-b<0|1>-mstd<float>)"
    ))
}

impl AugMix {
    /// timm's `augment_and_mix_transform(config, hparams)`; `hparams` as
    /// `transforms_imagenet_train` passes them (its `translate_pct` 0.3 is
    /// set here).
    pub fn parse(config: &str, mut hparams: RandHparams) -> Result<Self> {
        let mut sections = config.split('-');
        let head = sections.next().unwrap_or_default();
        if head != "augmix" {
            return Err(bad_mix(config, head, "the config must start with 'augmix'"));
        }
        let (mut magnitude, mut width, mut depth, mut alpha, mut blended) =
            (3.0, 3, -1, 1.0, false);
        let mut magnitude_std: Option<f64> = None;
        for c in sections {
            let Some(at) = c.find(|ch: char| ch.is_ascii_digit()) else {
                return Err(bad_mix(config, c, "no value (timm ignores such a section)"));
            };
            let (key, val) = c.split_at(at);
            let int = || {
                val.parse::<i64>().map_err(|_| {
                    bad_mix(config, c, format!("'{key}' needs an integer, not '{val}'"))
                })
            };
            let float = || {
                val.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        bad_mix(config, c, format!("'{key}' needs a number, not '{val}'"))
                    })
            };
            match key {
                "mstd" => {
                    let s = float()?;
                    magnitude_std.get_or_insert(s);
                }
                "m" => magnitude = int()? as f64,
                "w" => {
                    width = usize::try_from(int()?)
                        .ok()
                        .filter(|&w| w >= 1)
                        .ok_or_else(|| bad_mix(config, c, "the width must be at least 1"))?
                }
                "d" => depth = int()?,
                "a" => {
                    alpha = float()?;
                    if alpha <= 0.0 {
                        return Err(bad_mix(config, c, "alpha must be above 0"));
                    }
                }
                "b" => blended = int()? != 0,
                _ => return Err(bad_mix(config, c, format!("unknown key '{key}'"))),
            }
        }
        hparams.level.translate_pct = 0.3;
        Ok(AugMix {
            ops: AUGMIX_TRANSFORMS.to_vec(),
            magnitude,
            width,
            depth,
            alpha,
            blended,
            magnitude_std: magnitude_std.unwrap_or(f64::INFINITY),
            hparams,
        })
    }

    /// One image's draws, from the caller's generator.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> AugMixDraw {
        let weights = dirichlet(rng, self.alpha, self.width)
            .into_iter()
            .map(|w| w as f32)
            .collect();
        let m = super::mixup::beta(rng, self.alpha) as f32;
        let chains = (0..self.width)
            .map(|_| {
                let depth = if self.depth > 0 {
                    self.depth as usize
                } else {
                    rng.random_range(1..4)
                };
                let picks: Vec<usize> = (0..depth)
                    .map(|_| rng.random_range(0..self.ops.len()))
                    .collect();
                picks
                    .into_iter()
                    .map(|op| {
                        draw_layer(
                            op,
                            self.ops[op],
                            1.0,
                            self.magnitude,
                            self.magnitude_std,
                            self.hparams.interpolation.is_some(),
                            rng,
                        )
                    })
                    .collect()
            })
            .collect();
        AugMixDraw { weights, m, chains }
    }

    /// `dpn augment --explain`'s record of one image's AugMix: the chain
    /// weights and final blend (the f32 values numpy gives timm), the mode,
    /// and each chain's ops as [`explain_layer`] records them; each chain
    /// starts again from the input image.
    pub fn explain(&self, d: &AugMixDraw) -> serde_json::Value {
        let chains: Vec<Vec<serde_json::Value>> = d
            .chains
            .iter()
            .map(|c| {
                c.iter()
                    .map(|l| {
                        explain_layer(
                            self.ops[l.op],
                            l,
                            (1.0, self.magnitude, None),
                            &self.hparams,
                        )
                    })
                    .collect()
            })
            .collect();
        serde_json::json!({
            "op": "AugMix",
            "blended": self.blended,
            "ws": d.weights,
            "m": d.m,
            "chains": chains,
        })
    }

    fn chain(&self, img: &RgbImage, chain: &[LayerDraw], op_fn: OpFn) -> Result<RgbImage, OpError> {
        let mut out = img.clone();
        for l in chain {
            out = apply_layer(
                &out,
                self.ops[l.op],
                l,
                (1.0, self.magnitude, None),
                &self.hparams,
                op_fn,
            )?;
        }
        Ok(out)
    }

    /// The image after the draws `d`, as timm 1.0.29 on Pillow 13 computes it.
    pub fn apply(&self, img: &RgbImage, d: &AugMixDraw) -> Result<RgbImage, OpError> {
        self.apply_with(img, d, ops::apply)
    }

    /// [`AugMix::apply`] as `dpn train` runs it ([`ops::apply_training`]).
    pub fn apply_training(&self, img: &RgbImage, d: &AugMixDraw) -> RgbImage {
        self.apply_with(img, d, ops::apply_training)
            .expect("level_to_arg gives every op the argument kind it takes")
    }

    fn apply_with(&self, img: &RgbImage, d: &AugMixDraw, op_fn: OpFn) -> Result<RgbImage, OpError> {
        if self.blended {
            // `_calc_blended_weights`, in f32 as numpy computes it there.
            let mut cump = 1.0f32;
            let mut rws: Vec<f32> = d
                .weights
                .iter()
                .rev()
                .map(|&w| {
                    let a = (w * d.m) / cump;
                    cump *= 1.0 - a;
                    a
                })
                .collect();
            rws.reverse();
            let mut out = img.clone();
            for (w, chain) in rws.iter().zip(&d.chains) {
                let aug = self.chain(img, chain, op_fn)?;
                out = enhance::blend(&out, &aug, f64::from(*w));
            }
            return Ok(out);
        }
        let mut mixed = vec![0f32; img.data.len()];
        for (&w, chain) in d.weights.iter().zip(&d.chains) {
            let aug = self.chain(img, chain, op_fn)?;
            for (m, &v) in mixed.iter_mut().zip(&aug.data) {
                *m += w * f32::from(v);
            }
        }
        let data = mixed.iter().map(|v| v.clamp(0.0, 255.0) as u8).collect();
        let mixed = RgbImage::from_raw(img.width, img.height, data).expect("same size");
        Ok(enhance::blend(img, &mixed, f64::from(d.m)))
    }
}

/// timm's `--aa`, as `transforms_imagenet_train` dispatches it: `rand...`
/// is RandAugment, `augmix...` AugMix, anything else an AutoAugment policy.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoAugmentConfig {
    Rand(RandAugment),
    Auto(AutoAugment),
    AugMix(AugMix),
}

impl AutoAugmentConfig {
    pub fn parse(config: &str, hparams: RandHparams) -> Result<Self> {
        if config.starts_with("rand") {
            Ok(Self::Rand(RandAugment::parse(config, hparams)?))
        } else if config.starts_with("augmix") {
            Ok(Self::AugMix(AugMix::parse(config, hparams)?))
        } else {
            Ok(Self::Auto(AutoAugment::parse(config, hparams)?))
        }
    }
}

/// The op chain on the cropped and flipped RGB8 image, drawing from the
/// image's generator (`data::transform::TrainTransform`).
impl RgbStep for AutoAugmentConfig {
    fn apply(
        &self,
        img: RgbImage,
        rng: &mut dyn rand::RngCore,
        trace: Option<&mut Trace>,
    ) -> RgbImage {
        match self {
            Self::Rand(ra) => {
                let d = ra.draw(rng);
                if let Some(t) = trace {
                    t.extend(d.iter().map(|l| {
                        let clip = (ra.prob, ra.magnitude, ra.magnitude_max);
                        explain_layer(ra.ops[l.op], l, clip, &ra.hparams)
                    }));
                }
                ra.apply_training(&img, &d)
            }
            Self::Auto(aa) => {
                let d = aa.draw(rng);
                if let Some(t) = trace {
                    let sp = &aa.policy[d.sub_policy];
                    t.extend(d.ops.iter().map(|l| {
                        let (op, prob, magnitude) = sp[l.op];
                        let mut v = explain_layer(op, l, (prob, magnitude, None), &aa.hparams);
                        v["sub_policy"] = serde_json::json!(d.sub_policy);
                        v
                    }));
                }
                aa.apply_training(&img, &d)
            }
            Self::AugMix(am) => {
                let d = am.draw(rng);
                if let Some(t) = trace {
                    t.push(am.explain(&d));
                }
                am.apply_training(&img, &d)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::error::{exit_code, Exit};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn hp() -> RandHparams {
        RandHparams {
            level: ops::LevelParams::default(),
            fill: ops::DEFAULT_FILL,
            interpolation: None,
        }
    }

    #[test]
    fn policies_and_research_variants() {
        for name in POLICIES {
            let a = AutoAugment::parse(name, hp()).unwrap();
            assert_eq!(a.magnitude_std, 0.0);
            assert_eq!(a.policy.len(), if name == "3a" { 3 } else { 25 });
        }
        let v0r = policy("v0r").unwrap();
        assert_eq!(v0r[12][0], (PosterizeIncreasing, 0.4, 6.0));
        assert_eq!(v0r[22][0], (PosterizeIncreasing, 0.8, 2.0));
        let or = policy("originalr").unwrap();
        assert_eq!(or[3][1], (PosterizeIncreasing, 0.6, 6.0));
        assert!(!or.iter().flatten().any(|o| o.0 == PosterizeOriginal));
        let a = AutoAugment::parse("v0-mstd0.5-mstd3", hp()).unwrap();
        assert_eq!(a.magnitude_std, 0.5);
    }

    #[test]
    fn augmix_defaults_and_draws() {
        let AutoAugmentConfig::AugMix(am) = AutoAugmentConfig::parse("augmix", hp()).unwrap()
        else {
            panic!("augmix")
        };
        assert_eq!((am.magnitude, am.width, am.depth), (3.0, 3, -1));
        assert_eq!((am.alpha, am.blended), (1.0, false));
        assert!(am.magnitude_std.is_infinite());
        assert_eq!(am.hparams.level.translate_pct, 0.3);
        assert_eq!(am.ops, AUGMIX_TRANSFORMS);
        let am = AugMix::parse("augmix-m5-w4-d2-a0.5-b1-mstd0", hp()).unwrap();
        assert_eq!((am.magnitude, am.width, am.depth), (5.0, 4, 2));
        assert_eq!((am.alpha, am.blended, am.magnitude_std), (0.5, true, 0.0));
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..50 {
            let d = am.draw(&mut rng);
            assert_eq!(d.weights.len(), 4);
            assert!((d.weights.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!((0.0..=1.0).contains(&d.m));
            assert!(d.chains.iter().all(|c| c.len() == 2));
            assert!(d.chains.iter().flatten().all(|l| l.magnitude.is_none()));
        }
    }

    #[test]
    fn malformed_configs_name_the_part() {
        for (config, part) in [
            ("v1", "'v1'"),
            ("v0-x3", "'x3'"),
            ("v0-mstd", "'mstd'"),
            ("original-mstd0.5x", "'mstd0.5x'"),
            ("augmix-m3-x1", "'x1'"),
            ("augmix-w0", "'w0'"),
            ("rand-m9-q1", "'q1'"),
            ("", "''"),
        ] {
            let e = AutoAugmentConfig::parse(config, hp()).unwrap_err();
            assert_eq!(exit_code(&e), Exit::Usage.code(), "{config}");
            assert!(e.to_string().contains(part), "{config}: {e}");
        }
    }

    #[test]
    fn draws_follow_the_sub_policy() {
        let a = AutoAugment::parse("original-mstd1", hp()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut seen = [false; 25];
        for _ in 0..400 {
            let d = a.draw(&mut rng);
            seen[d.sub_policy] = true;
            let sp = &a.policy[d.sub_policy];
            assert_eq!(d.ops.len(), sp.len());
            for l in &d.ops {
                let (op, prob, _) = sp[l.op];
                assert_eq!(l.gate.is_some(), prob < 1.0);
                if !l.skipped(prob) {
                    assert!(l.magnitude.is_some());
                    assert_eq!(l.resample.is_some(), op.is_geometric());
                }
            }
        }
        assert!(seen.iter().all(|&s| s));
    }
}
