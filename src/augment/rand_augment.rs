//! timm's RandAugment (`timm/data/auto_augment.py`: `rand_augment_transform`,
//! `RandAugment`, `AugmentOp`) over the ops of [`super::ops`].
//!
//! The config string is timm's `rand-m{M}-n{N}-mstd{S}-mmax{X}-inc{0|1}-p{P}-t{T}`
//! (sections after `rand` in any order, each a key and the value from its
//! first digit on): magnitude `M` (an integer, default 10), `N` layers per
//! image (default 2), magnitude noise `S` (a normal standard deviation; above
//! 100 it means uniform on `[0, M]`), magnitude bound `X` (an integer; 0 or
//! none means 10), the increasing op list when `inc` is non-zero, the per-op
//! probability `P` (default 0.5), and the op set `T` (`weights`, `3a`, `3aw`;
//! default RandAugment's list). timm ignores a section without a digit and
//! takes an unknown `t` name as the default list; dpn refuses both, naming the
//! section.
//!
//! Per image (`RandAugment.__call__`): `N` ops drawn uniformly with
//! replacement (`np.random.choice`), or by weight without replacement for the
//! weighted sets; then per op (`AugmentOp.__call__`), in this order:
//! `random() > P` skips it (only drawn when `P < 1`); the magnitude is
//! `gauss(M, S)` or `uniform(0, M)` when `S > 0`, then clipped to
//! `[0, X or 10]`; the level function draws its negation (`random() > 0.5`);
//! a geometric op draws its filter (`random.choice((BILINEAR, BICUBIC))`)
//! unless the `interpolation` hparam set one; `GaussianBlurRand` draws its
//! radius. [`RandAugment::draw`] makes these draws from the caller's
//! generator as a [`LayerDraw`] per layer, and [`RandAugment::apply`] applies
//! them; tests/augment_ops.rs replays them through timm's own `RandAugment`.

use anyhow::Result;
use rand::Rng;

use super::geometry::Resample;
use super::ops::{self, clip_magnitude, level_to_arg, LevelParams, OpError, OpInputs, OpName};
use crate::data::decode::RgbImage;
use crate::sys::error;

/// timm's `_RAND_TRANSFORMS`.
pub const RAND_TRANSFORMS: [OpName; 15] = [
    OpName::AutoContrast,
    OpName::Equalize,
    OpName::Invert,
    OpName::Rotate,
    OpName::Posterize,
    OpName::Solarize,
    OpName::SolarizeAdd,
    OpName::Color,
    OpName::Contrast,
    OpName::Brightness,
    OpName::Sharpness,
    OpName::ShearX,
    OpName::ShearY,
    OpName::TranslateXRel,
    OpName::TranslateYRel,
];

/// timm's `_RAND_INCREASING_TRANSFORMS`.
pub const RAND_INCREASING_TRANSFORMS: [OpName; 15] = [
    OpName::AutoContrast,
    OpName::Equalize,
    OpName::Invert,
    OpName::Rotate,
    OpName::PosterizeIncreasing,
    OpName::SolarizeIncreasing,
    OpName::SolarizeAdd,
    OpName::ColorIncreasing,
    OpName::ContrastIncreasing,
    OpName::BrightnessIncreasing,
    OpName::SharpnessIncreasing,
    OpName::ShearX,
    OpName::ShearY,
    OpName::TranslateXRel,
    OpName::TranslateYRel,
];

/// timm's `_RAND_3A` (`t3a`).
pub const RAND_3A: [OpName; 3] = [
    OpName::SolarizeIncreasing,
    OpName::Desaturate,
    OpName::GaussianBlur,
];

/// timm's `_RAND_WEIGHTED_3A` (`t3aw`), in its order.
pub const RAND_WEIGHTED_3A: [(OpName, f64); 14] = [
    (OpName::SolarizeIncreasing, 6.0),
    (OpName::Desaturate, 6.0),
    (OpName::GaussianBlur, 6.0),
    (OpName::Rotate, 3.0),
    (OpName::ShearX, 2.0),
    (OpName::ShearY, 2.0),
    (OpName::PosterizeIncreasing, 1.0),
    (OpName::AutoContrast, 1.0),
    (OpName::ColorIncreasing, 1.0),
    (OpName::SharpnessIncreasing, 1.0),
    (OpName::ContrastIncreasing, 1.0),
    (OpName::BrightnessIncreasing, 1.0),
    (OpName::Equalize, 1.0),
    (OpName::Invert, 1.0),
];

/// timm's `_RAND_WEIGHTED_0` (`tweights`), in its order.
pub const RAND_WEIGHTED_0: [(OpName, f64); 15] = [
    (OpName::Rotate, 3.0),
    (OpName::ShearX, 2.0),
    (OpName::ShearY, 2.0),
    (OpName::TranslateXRel, 1.0),
    (OpName::TranslateYRel, 1.0),
    (OpName::ColorIncreasing, 0.25),
    (OpName::SharpnessIncreasing, 0.25),
    (OpName::AutoContrast, 0.25),
    (OpName::SolarizeIncreasing, 0.05),
    (OpName::SolarizeAdd, 0.05),
    (OpName::ContrastIncreasing, 0.05),
    (OpName::BrightnessIncreasing, 0.05),
    (OpName::Equalize, 0.05),
    (OpName::PosterizeIncreasing, 0.05),
    (OpName::Invert, 0.05),
];

/// What timm's hparams give RandAugment besides the config string
/// (`transforms_factory`'s `aa_params`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandHparams {
    /// `translate_const` and `translate_pct` for the level functions.
    pub level: LevelParams,
    /// `img_mean`, the geometric ops' fill.
    pub fill: [u8; 3],
    /// `interpolation`: `None` draws bilinear or bicubic per op (timm's
    /// `random` train interpolation).
    pub interpolation: Option<Resample>,
}

/// A parsed RandAugment config.
#[derive(Debug, Clone, PartialEq)]
pub struct RandAugment {
    /// The ops drawn from.
    pub ops: Vec<OpName>,
    /// Their probabilities (weights over their sum) for the weighted sets,
    /// drawn without replacement; `None`: uniform with replacement.
    pub weights: Option<Vec<f64>>,
    pub magnitude: f64,
    pub num_layers: usize,
    pub prob: f64,
    /// 0: none; infinite: uniform on `[0, magnitude]`.
    pub magnitude_std: f64,
    /// timm's `magnitude_max` (`mmax`), an integer.
    pub magnitude_max: Option<f64>,
    pub increasing: bool,
    pub hparams: RandHparams,
}

/// The draws of one layer, in timm's order; `None` where timm draws nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerDraw {
    /// Index into [`RandAugment::ops`].
    pub op: usize,
    /// `random()` against the probability (when it is below 1); the op is
    /// skipped when this is above it, and then nothing else is drawn.
    pub gate: Option<f64>,
    /// The noisy magnitude, before clipping (when `magnitude_std > 0`).
    pub magnitude: Option<f64>,
    /// `_randomly_negate`'s outcome (ops whose level function negates).
    pub negate: Option<bool>,
    /// The filter drawn (geometric ops, no `interpolation` hparam).
    pub resample: Option<Resample>,
    /// `GaussianBlurRand`'s `random()` for its radius.
    pub blur_u: Option<f64>,
}

impl LayerDraw {
    /// Whether the gate skipped the op.
    pub fn skipped(&self, prob: f64) -> bool {
        matches!(self.gate, Some(u) if u > prob)
    }
}

fn bad(config: &str, section: &str, why: impl std::fmt::Display) -> anyhow::Error {
    error::usage(format!(
        "RandAugment config '{config}': section '{section}': {why} \
         (expected rand-m<int>-n<int>-mstd<float>-mmax<int>-inc<0|1>-p<float>-t<weights|3a|3aw>)"
    ))
}

impl RandAugment {
    /// timm's `rand_augment_transform(config, hparams)`.
    pub fn parse(config: &str, hparams: RandHparams) -> Result<Self> {
        let mut sections = config.split('-');
        let head = sections.next().unwrap_or_default();
        if head != "rand" {
            return Err(bad(config, head, "the config must start with 'rand'"));
        }
        let mut magnitude = ops::LEVEL_DENOM;
        let mut num_layers = 2usize;
        let mut prob = 0.5f64;
        let mut magnitude_std: Option<f64> = None;
        let mut magnitude_max: Option<f64> = None;
        let mut increasing = false;
        let mut set: Option<&str> = None;
        for c in sections {
            if let Some(name) = c.strip_prefix('t') {
                // timm keeps the first transforms given.
                if !matches!(name, "weights" | "3a" | "3aw") {
                    return Err(bad(config, c, "the op set must be tweights, t3a or t3aw"));
                }
                set.get_or_insert(name);
                continue;
            }
            // `re.split(r'(\d.*)', c)`: the key, and the value from the first digit.
            let Some(at) = c.find(|ch: char| ch.is_ascii_digit()) else {
                return Err(bad(config, c, "no value (timm ignores such a section)"));
            };
            let (key, val) = c.split_at(at);
            let int = || {
                val.parse::<i64>()
                    .map_err(|_| bad(config, c, format!("'{key}' needs an integer, not '{val}'")))
            };
            let float = || {
                val.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(config, c, format!("'{key}' needs a number, not '{val}'")))
            };
            match key {
                // `hparams.setdefault`: the first one given wins.
                "mstd" => {
                    let s = float()?;
                    magnitude_std.get_or_insert(if s > 100.0 { f64::INFINITY } else { s });
                }
                "mmax" => {
                    let m = int()? as f64;
                    magnitude_max.get_or_insert(m);
                }
                "inc" => increasing = int()? != 0,
                "m" => magnitude = int()? as f64,
                "n" => num_layers = int()? as usize,
                "p" => prob = float()?,
                _ => return Err(bad(config, c, format!("unknown key '{key}'"))),
            }
        }
        let (ops, weights) = match set {
            Some("weights") => weighted(&RAND_WEIGHTED_0),
            Some("3aw") => weighted(&RAND_WEIGHTED_3A),
            Some("3a") => (RAND_3A.to_vec(), None),
            _ if increasing => (RAND_INCREASING_TRANSFORMS.to_vec(), None),
            _ => (RAND_TRANSFORMS.to_vec(), None),
        };
        if weights.is_some() && num_layers > ops.len() {
            // numpy: "Cannot take a larger sample than population when replace is False".
            return Err(bad(
                config,
                &format!("n{num_layers}"),
                format!(
                    "a weighted set draws without replacement, at most {} ops",
                    ops.len()
                ),
            ));
        }
        Ok(RandAugment {
            ops,
            weights,
            magnitude,
            num_layers,
            prob,
            magnitude_std: magnitude_std.unwrap_or(0.0),
            magnitude_max,
            increasing,
            hparams,
        })
    }

    /// One image's draws, from the caller's generator (not Python's stream:
    /// the same distributions).
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<LayerDraw> {
        let picks: Vec<usize> = match &self.weights {
            None => (0..self.num_layers)
                .map(|_| rng.random_range(0..self.ops.len()))
                .collect(),
            Some(w) => {
                // Without replacement, each pick by weight among those left.
                let mut left: Vec<usize> = (0..self.ops.len()).collect();
                let mut picks = Vec::with_capacity(self.num_layers);
                for _ in 0..self.num_layers {
                    let total: f64 = left.iter().map(|&i| w[i]).sum();
                    let mut u = rng.random::<f64>() * total;
                    let mut k = left.len() - 1;
                    for (j, &i) in left.iter().enumerate() {
                        if u < w[i] {
                            k = j;
                            break;
                        }
                        u -= w[i];
                    }
                    picks.push(left.remove(k));
                }
                picks
            }
        };
        picks
            .into_iter()
            .map(|op| {
                draw_layer(
                    op,
                    self.ops[op],
                    self.prob,
                    self.magnitude,
                    self.magnitude_std,
                    self.hparams.interpolation.is_some(),
                    rng,
                )
            })
            .collect()
    }

    /// The image after the layers `draws` describe (from [`RandAugment::draw`]),
    /// as timm 1.0.29 on Pillow 13 computes it (posterize to 0 bits fails).
    pub fn apply(&self, img: &RgbImage, draws: &[LayerDraw]) -> Result<RgbImage, OpError> {
        self.apply_with(img, draws, ops::apply)
    }

    /// [`RandAugment::apply`] as `dpn train` runs it ([`ops::apply_training`]:
    /// posterize to 0 bits gives a black image, as Pillow < 13 did).
    pub fn apply_training(&self, img: &RgbImage, draws: &[LayerDraw]) -> RgbImage {
        self.apply_with(img, draws, ops::apply_training)
            .expect("level_to_arg gives every op the argument kind it takes")
    }

    fn apply_with(
        &self,
        img: &RgbImage,
        draws: &[LayerDraw],
        op_fn: OpFn,
    ) -> Result<RgbImage, OpError> {
        let mut img = img.clone();
        for d in draws {
            img = apply_layer(
                &img,
                self.ops[d.op],
                d,
                (self.prob, self.magnitude, self.magnitude_max),
                &self.hparams,
                op_fn,
            )?;
        }
        Ok(img)
    }
}

/// [`ops::apply`] or [`ops::apply_training`].
pub(crate) type OpFn = fn(OpName, &RgbImage, ops::OpArg, &OpInputs) -> Result<RgbImage, OpError>;

/// `AugmentOp.__call__`'s draws for op `name` (at `index` in the caller's
/// list), in timm's order: the gate (when `prob < 1`; nothing more when it
/// skips), the noisy magnitude (`magnitude_std > 0`: `gauss`, or `uniform`
/// when infinite), `_randomly_negate`, the filter (geometric ops without a
/// fixed `interpolation`), `GaussianBlurRand`'s radius.
pub(crate) fn draw_layer<R: Rng + ?Sized>(
    index: usize,
    name: OpName,
    prob: f64,
    magnitude: f64,
    magnitude_std: f64,
    fixed_interpolation: bool,
    rng: &mut R,
) -> LayerDraw {
    let mut d = LayerDraw {
        op: index,
        gate: None,
        magnitude: None,
        negate: None,
        resample: None,
        blur_u: None,
    };
    if prob < 1.0 {
        let u = rng.random::<f64>();
        d.gate = Some(u);
        if u > prob {
            return d;
        }
    }
    if magnitude_std > 0.0 {
        d.magnitude = Some(if magnitude_std.is_infinite() {
            // `random.uniform(0, magnitude)`.
            magnitude * rng.random::<f64>()
        } else {
            // `random.gauss(magnitude, std)`, by Box-Muller.
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            magnitude + magnitude_std * z
        });
    }
    if name.negates() {
        d.negate = Some(rng.random::<f64>() > 0.5);
    }
    if name.is_geometric() && !fixed_interpolation {
        d.resample = Some(if rng.random_range(0..2) == 0 {
            Resample::Bilinear
        } else {
            Resample::Bicubic
        });
    }
    if name == OpName::GaussianBlurRand {
        d.blur_u = Some(rng.random::<f64>());
    }
    d
}

/// `AugmentOp.__call__` on `img` with the draws `d`; `(prob, magnitude,
/// magnitude_max)` are the op's.
pub(crate) fn apply_layer(
    img: &RgbImage,
    op: OpName,
    d: &LayerDraw,
    (prob, magnitude, magnitude_max): (f64, f64, Option<f64>),
    hparams: &RandHparams,
    op_fn: OpFn,
) -> Result<RgbImage, OpError> {
    if d.skipped(prob) {
        return Ok(img.clone());
    }
    let m = clip_magnitude(d.magnitude.unwrap_or(magnitude), magnitude_max);
    let arg = level_to_arg(op, m, &hparams.level, d.negate.unwrap_or(false));
    let inputs = OpInputs {
        resample: d
            .resample
            .or(hparams.interpolation)
            .unwrap_or(Resample::Bicubic),
        fill: hparams.fill,
        blur_u: d.blur_u.unwrap_or(0.0),
    };
    op_fn(op, img, arg, &inputs)
}

/// `dpn augment --explain`'s record of one `AugmentOp.__call__` (README,
/// "dpn augment --explain"): timm's op name, its probability and the gate
/// drawn against it, whether it ran, the magnitude drawn and the one used
/// (clipped), and what `NAME_TO_OP[op]` received: `args` (the level
/// function's tuple: `[]`, `[float]` or `[int]`) and `kwargs` (`fillcolor`,
/// and `resample` as Pillow's filter number, 2 bilinear or 3 bicubic),
/// plus `blur_u`, `GaussianBlurRand`'s `random()` for its radius.
pub fn explain_layer(
    op: OpName,
    d: &LayerDraw,
    (prob, magnitude, magnitude_max): (f64, f64, Option<f64>),
    hparams: &RandHparams,
) -> serde_json::Value {
    use serde_json::json;
    let applied = !d.skipped(prob);
    let mut v = json!({
        "op": op.name(),
        "prob": prob,
        "gate": d.gate,
        "applied": applied,
    });
    if !applied {
        return v;
    }
    let m = clip_magnitude(d.magnitude.unwrap_or(magnitude), magnitude_max);
    let args = match level_to_arg(op, m, &hparams.level, d.negate.unwrap_or(false)) {
        ops::OpArg::None => json!([]),
        ops::OpArg::Float(x) => json!([x]),
        ops::OpArg::Int(i) => json!([i]),
    };
    let resample = d
        .resample
        .or(hparams.interpolation)
        .unwrap_or(Resample::Bicubic);
    let o = v.as_object_mut().expect("an object");
    o.insert(
        "magnitude_drawn".into(),
        json!(d.magnitude.unwrap_or(magnitude)),
    );
    o.insert("magnitude".into(), json!(m));
    o.insert("negate".into(), json!(d.negate));
    o.insert("args".into(), args);
    o.insert(
        "kwargs".into(),
        json!({
            "fillcolor": hparams.fill,
            "resample": match resample { Resample::Bilinear => 2, Resample::Bicubic => 3 },
        }),
    );
    if let Some(u) = d.blur_u {
        o.insert("blur_u".into(), json!(u));
    }
    v
}

/// `_get_weighted_transforms`: names, and weights over their sum.
fn weighted(set: &[(OpName, f64)]) -> (Vec<OpName>, Option<Vec<f64>>) {
    let total: f64 = set.iter().map(|&(_, w)| w).sum();
    (
        set.iter().map(|&(op, _)| op).collect(),
        Some(set.iter().map(|&(_, w)| w / total).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::error::{exit_code, Exit};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn hp() -> RandHparams {
        RandHparams {
            level: LevelParams::default(),
            fill: ops::DEFAULT_FILL,
            interpolation: None,
        }
    }

    #[test]
    fn parses_timms_configs() {
        let ra = RandAugment::parse("rand-m9-mstd0.5-inc1", hp()).unwrap();
        assert_eq!(ra.ops, RAND_INCREASING_TRANSFORMS);
        assert_eq!((ra.magnitude, ra.num_layers, ra.prob), (9.0, 2, 0.5));
        assert_eq!((ra.magnitude_std, ra.magnitude_max), (0.5, None));
        let ra = RandAugment::parse("rand-n3-m7-mstd101-mmax15-p1", hp()).unwrap();
        assert_eq!(ra.ops, RAND_TRANSFORMS);
        assert_eq!((ra.magnitude, ra.num_layers, ra.prob), (7.0, 3, 1.0));
        assert_eq!(ra.magnitude_std, f64::INFINITY);
        assert_eq!(ra.magnitude_max, Some(15.0));
        let ra = RandAugment::parse("rand-tweights-n4", hp()).unwrap();
        assert_eq!(ra.ops.len(), 15);
        assert!((ra.weights.unwrap().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(RandAugment::parse("rand", hp()).unwrap().magnitude, 10.0);
    }

    #[test]
    fn malformed_configs_name_the_section() {
        for (config, section) in [
            ("rand-m9.5", "'m9.5'"),
            ("rand-x3", "'x3'"),
            ("rand-mstd", "'mstd'"),
            ("rand-m9-", "''"),
            ("rand-tfoo", "'tfoo'"),
            ("augmix-m3", "'augmix'"),
            ("rand-pX1", "'pX1'"),
            ("rand-t3aw-n15", "'n15'"),
        ] {
            let e = RandAugment::parse(config, hp()).unwrap_err();
            assert_eq!(exit_code(&e), Exit::Usage.code(), "{config}");
            assert!(e.to_string().contains(section), "{config}: {e}");
        }
    }

    #[test]
    fn draws_replay_and_respect_the_config() {
        let ra = RandAugment::parse("rand-m9-n3-mstd0.5-p0.7", hp()).unwrap();
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let mut b = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let d = ra.draw(&mut a);
            assert_eq!(d, ra.draw(&mut b));
            assert_eq!(d.len(), 3);
            for l in d {
                let op = ra.ops[l.op];
                if l.skipped(0.7) {
                    assert!(l.magnitude.is_none() && l.negate.is_none());
                    continue;
                }
                assert!(l.magnitude.is_some());
                assert_eq!(l.negate.is_some(), op.negates());
                assert_eq!(l.resample.is_some(), op.is_geometric());
            }
        }
        let w = RandAugment::parse("rand-t3aw-n14", hp()).unwrap();
        let mut picks = w.draw(&mut a).iter().map(|l| l.op).collect::<Vec<_>>();
        picks.sort();
        assert_eq!(picks, (0..14).collect::<Vec<_>>());
    }
}
