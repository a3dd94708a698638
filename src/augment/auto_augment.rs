//! timm's AutoAugment (`timm/data/auto_augment.py` 1.0.29:
//! `auto_augment_policy_original`, `_originalr`, `_v0`, `_v0r`, `_3a`,
//! `auto_augment_transform`, `AutoAugment`) over the ops of [`super::ops`],
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

use super::ops::{self, OpError, OpName};
use super::rand_augment::{apply_layer, draw_layer, LayerDraw, OpFn, RandAugment, RandHparams};
use crate::data::decode::RgbImage;
use crate::data::transform::RgbStep;
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

/// timm's `--aa`, as `transforms_imagenet_train` dispatches it: `rand...`
/// is RandAugment, `augmix...` AugMix (refused: not implemented yet), anything
/// else an AutoAugment policy.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoAugmentConfig {
    Rand(RandAugment),
    Auto(AutoAugment),
}

impl AutoAugmentConfig {
    pub fn parse(config: &str, hparams: RandHparams) -> Result<Self> {
        if config.starts_with("rand") {
            Ok(Self::Rand(RandAugment::parse(config, hparams)?))
        } else if config.starts_with("augmix") {
            Err(error::usage(format!(
                "--aa {config}: AugMix is not implemented yet \
                 (use rand-... or one of {})",
                POLICIES.join(", ")
            )))
        } else {
            Ok(Self::Auto(AutoAugment::parse(config, hparams)?))
        }
    }
}

/// The op chain on the cropped and flipped RGB8 image, drawing from the
/// image's generator (`data::transform::TrainTransform`).
impl RgbStep for AutoAugmentConfig {
    fn apply(&self, img: RgbImage, rng: &mut dyn rand::RngCore) -> RgbImage {
        match self {
            Self::Rand(ra) => {
                let d = ra.draw(rng);
                ra.apply_training(&img, &d)
            }
            Self::Auto(aa) => {
                let d = aa.draw(rng);
                aa.apply_training(&img, &d)
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
    fn malformed_configs_name_the_part() {
        for (config, part) in [
            ("v1", "'v1'"),
            ("v0-x3", "'x3'"),
            ("v0-mstd", "'mstd'"),
            ("original-mstd0.5x", "'mstd0.5x'"),
            ("augmix-m3", "AugMix is not implemented yet"),
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
