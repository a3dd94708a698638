//! timm's AutoAugment/RandAugment op table (`timm/data/auto_augment.py`:
//! `NAME_TO_OP`, `LEVEL_TO_ARG`, `AugmentOp`), on decoded RGB8 images, before
//! the crop's tensor conversion, where timm applies them.
//!
//! An op is applied in timm as `aug_fn(img, *level_fn(magnitude, hparams),
//! fillcolor=img_mean, resample=...)`. Here the three parts are explicit:
//! [`clip_magnitude`] (`AugmentOp.__call__`'s clipping), [`level_to_arg`]
//! (with timm's `_randomly_negate` draw passed in as `negate`) and [`apply`]
//! (with the resample filter drawn by the caller, and the fill colour).
//! The image ops themselves are in `geometry`, `pixel` and `enhance`.
//!
//! The draws an op function makes itself are inputs too ([`OpInputs`]):
//! geometric ops' `random.choice` of the filter (`_check_args_tf`, when
//! timm's `interpolation` hparam is unset) and `GaussianBlurRand`'s
//! `random.uniform` radius.

use std::fmt;

use super::enhance;
use super::geometry::{self, Resample};
use super::pixel;
use crate::data::decode::RgbImage;

/// timm's `_LEVEL_DENOM`: magnitude 10 is the op's full strength.
pub const LEVEL_DENOM: f64 = 10.0;

/// The names of timm's `NAME_TO_OP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpName {
    AutoContrast,
    Equalize,
    Invert,
    Rotate,
    Posterize,
    PosterizeIncreasing,
    PosterizeOriginal,
    Solarize,
    SolarizeIncreasing,
    SolarizeAdd,
    Color,
    ColorIncreasing,
    Contrast,
    ContrastIncreasing,
    Brightness,
    BrightnessIncreasing,
    Sharpness,
    SharpnessIncreasing,
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    TranslateXRel,
    TranslateYRel,
    Desaturate,
    GaussianBlur,
    GaussianBlurRand,
}

impl OpName {
    /// Every name, in `NAME_TO_OP`'s order.
    pub const ALL: [OpName; 27] = [
        OpName::AutoContrast,
        OpName::Equalize,
        OpName::Invert,
        OpName::Rotate,
        OpName::Posterize,
        OpName::PosterizeIncreasing,
        OpName::PosterizeOriginal,
        OpName::Solarize,
        OpName::SolarizeIncreasing,
        OpName::SolarizeAdd,
        OpName::Color,
        OpName::ColorIncreasing,
        OpName::Contrast,
        OpName::ContrastIncreasing,
        OpName::Brightness,
        OpName::BrightnessIncreasing,
        OpName::Sharpness,
        OpName::SharpnessIncreasing,
        OpName::ShearX,
        OpName::ShearY,
        OpName::TranslateX,
        OpName::TranslateY,
        OpName::TranslateXRel,
        OpName::TranslateYRel,
        OpName::Desaturate,
        OpName::GaussianBlur,
        OpName::GaussianBlurRand,
    ];

    /// timm's spelling.
    pub fn name(self) -> &'static str {
        match self {
            OpName::AutoContrast => "AutoContrast",
            OpName::Equalize => "Equalize",
            OpName::Invert => "Invert",
            OpName::Rotate => "Rotate",
            OpName::Posterize => "Posterize",
            OpName::PosterizeIncreasing => "PosterizeIncreasing",
            OpName::PosterizeOriginal => "PosterizeOriginal",
            OpName::Solarize => "Solarize",
            OpName::SolarizeIncreasing => "SolarizeIncreasing",
            OpName::SolarizeAdd => "SolarizeAdd",
            OpName::Color => "Color",
            OpName::ColorIncreasing => "ColorIncreasing",
            OpName::Contrast => "Contrast",
            OpName::ContrastIncreasing => "ContrastIncreasing",
            OpName::Brightness => "Brightness",
            OpName::BrightnessIncreasing => "BrightnessIncreasing",
            OpName::Sharpness => "Sharpness",
            OpName::SharpnessIncreasing => "SharpnessIncreasing",
            OpName::ShearX => "ShearX",
            OpName::ShearY => "ShearY",
            OpName::TranslateX => "TranslateX",
            OpName::TranslateY => "TranslateY",
            OpName::TranslateXRel => "TranslateXRel",
            OpName::TranslateYRel => "TranslateYRel",
            OpName::Desaturate => "Desaturate",
            OpName::GaussianBlur => "GaussianBlur",
            OpName::GaussianBlurRand => "GaussianBlurRand",
        }
    }

    /// The op named `s` (timm's spelling, exactly).
    pub fn parse(s: &str) -> Option<OpName> {
        OpName::ALL.into_iter().find(|op| op.name() == s)
    }

    /// Whether the level function draws `_randomly_negate` (and so takes
    /// [`level_to_arg`]'s `negate`).
    pub fn negates(self) -> bool {
        matches!(
            self,
            OpName::Rotate
                | OpName::ShearX
                | OpName::ShearY
                | OpName::TranslateX
                | OpName::TranslateY
                | OpName::TranslateXRel
                | OpName::TranslateYRel
                | OpName::ColorIncreasing
                | OpName::ContrastIncreasing
                | OpName::BrightnessIncreasing
                | OpName::SharpnessIncreasing
        )
    }

    /// Whether the op resamples (and so takes a filter and a fill colour).
    pub fn is_geometric(self) -> bool {
        matches!(
            self,
            OpName::Rotate
                | OpName::ShearX
                | OpName::ShearY
                | OpName::TranslateX
                | OpName::TranslateY
                | OpName::TranslateXRel
                | OpName::TranslateYRel
        )
    }
}

impl fmt::Display for OpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The argument an op function receives after its level function (timm's
/// `level_args` tuple, of at most one value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpArg {
    /// No level function (`AutoContrast`, `Equalize`, `Invert`).
    None,
    /// A Python `float`.
    Float(f64),
    /// A Python `int` (posterize bits, solarize thresholds, solarize add).
    Int(i64),
}

/// The `hparams` the level functions read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelParams {
    /// `hparams['translate_const']`, `TranslateX`/`TranslateY`'s pixels at
    /// magnitude 10. timm's default is 250; its transforms factory sets
    /// `int(min(img_size) * 0.45)`.
    pub translate_const: f64,
    /// `hparams.get('translate_pct', 0.45)`, the `...Rel` ops' fraction.
    pub translate_pct: f64,
}

impl Default for LevelParams {
    /// timm's `_HPARAMS_DEFAULT` and `translate_pct` default.
    fn default() -> Self {
        LevelParams {
            translate_const: 250.0,
            translate_pct: 0.45,
        }
    }
}

/// `AugmentOp.__call__`'s clipping: `max(0, min(magnitude, magnitude_max or
/// 10))` (a `magnitude_max` of 0 or none means 10).
pub fn clip_magnitude(magnitude: f64, magnitude_max: Option<f64>) -> f64 {
    let upper = match magnitude_max {
        Some(m) if m != 0.0 => m,
        _ => LEVEL_DENOM,
    };
    magnitude.min(upper).max(0.0)
}

/// Python's `int(v)` of a float: truncation towards zero.
fn py_int(v: f64) -> i64 {
    v as i64
}

/// timm's `LEVEL_TO_ARG[op](level, hparams)`, with `_randomly_negate`'s draw
/// (`random.random() > 0.5`) given as `negate`; ops that do not negate ignore it.
pub fn level_to_arg(op: OpName, level: f64, params: &LevelParams, negate: bool) -> OpArg {
    let neg = |v: f64| if negate { -v } else { v };
    // `_posterize_level_to_arg`, `_solarize_level_to_arg`.
    let posterize = |l: f64| py_int((l / LEVEL_DENOM) * 4.0);
    let solarize = |l: f64| py_int((l / LEVEL_DENOM) * 256.0).min(256);
    // `_minmax_level_to_arg` with clamping.
    let minmax = |l: f64, min: f64, max: f64| {
        let l = l / LEVEL_DENOM;
        let l = min + (max - min) * l;
        max.min(l).max(min)
    };
    match op {
        OpName::AutoContrast | OpName::Equalize | OpName::Invert => OpArg::None,
        OpName::Rotate => OpArg::Float(neg((level / LEVEL_DENOM) * 30.0)),
        OpName::Posterize => OpArg::Int(posterize(level)),
        OpName::PosterizeIncreasing => OpArg::Int(4 - posterize(level)),
        OpName::PosterizeOriginal => OpArg::Int(posterize(level) + 4),
        OpName::Solarize => OpArg::Int(solarize(level)),
        OpName::SolarizeIncreasing => OpArg::Int(256 - solarize(level)),
        OpName::SolarizeAdd => OpArg::Int(py_int((level / LEVEL_DENOM) * 110.0).min(128)),
        OpName::Color | OpName::Contrast | OpName::Brightness | OpName::Sharpness => {
            OpArg::Float((level / LEVEL_DENOM) * 1.8 + 0.1)
        }
        OpName::ColorIncreasing
        | OpName::ContrastIncreasing
        | OpName::BrightnessIncreasing
        | OpName::SharpnessIncreasing => {
            // `max(0.1, 1.0 + _randomly_negate(level / 10 * .9))`.
            let l = (level / LEVEL_DENOM) * 0.9;
            OpArg::Float((1.0 + neg(l)).max(0.1))
        }
        OpName::ShearX | OpName::ShearY => OpArg::Float(neg((level / LEVEL_DENOM) * 0.3)),
        OpName::TranslateX | OpName::TranslateY => {
            OpArg::Float(neg((level / LEVEL_DENOM) * params.translate_const))
        }
        OpName::TranslateXRel | OpName::TranslateYRel => {
            OpArg::Float(neg((level / LEVEL_DENOM) * params.translate_pct))
        }
        OpName::Desaturate => OpArg::Float(minmax(level, 0.5, 1.0)),
        OpName::GaussianBlur => OpArg::Float(minmax(level, 0.1, 2.0)),
        OpName::GaussianBlurRand => OpArg::Float(minmax(level, 0.0, 1.0)),
    }
}

/// timm's `img_mean` hparam, the geometric ops' fill colour, from a model's
/// mean: `tuple(min(255, round(255 * x)) for x in mean)` (transforms_factory;
/// Python's `round` takes ties to even).
pub fn fill_from_mean(mean: [f64; 3]) -> [u8; 3] {
    mean.map(|x| (255.0 * x).round_ties_even().clamp(0.0, 255.0) as u8)
}

/// timm's fill colour when no `img_mean` is given (`_FILL`).
pub const DEFAULT_FILL: [u8; 3] = [128, 128, 128];

/// Why an op could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError {
    /// The argument is not the kind the op takes.
    BadArg(OpName, OpArg),
    /// Pillow 13 refuses the posterize bits (as timm does then).
    Posterize(pixel::PosterizeBitsError),
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::BadArg(op, arg) => write!(f, "{op} cannot take the argument {arg:?}"),
            OpError::Posterize(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpError {}

/// What an op call takes besides the image and its level argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpInputs {
    /// The geometric ops' filter: timm's `interpolation` hparam, else its
    /// `random.choice((BILINEAR, BICUBIC))`.
    pub resample: Resample,
    /// The geometric ops' fill colour (`img_mean`, see [`fill_from_mean`]).
    pub fill: [u8; 3],
    /// `GaussianBlurRand`'s `random.random()` in `random.uniform(0.1, 2 factor)`.
    pub blur_u: f64,
}

impl Default for OpInputs {
    /// Bicubic (timm's `_DEFAULT_INTERPOLATION`), [`DEFAULT_FILL`], `u = 0`.
    fn default() -> Self {
        OpInputs {
            resample: Resample::Bicubic,
            fill: DEFAULT_FILL,
            blur_u: 0.0,
        }
    }
}

/// timm's `NAME_TO_OP[op](img, arg, fillcolor=fill, resample=resample)`.
pub fn apply(
    op: OpName,
    img: &RgbImage,
    arg: OpArg,
    inputs: &OpInputs,
) -> Result<RgbImage, OpError> {
    let OpInputs {
        resample,
        fill,
        blur_u,
    } = *inputs;
    let bad = || OpError::BadArg(op, arg);
    let float = || match arg {
        OpArg::Float(v) => Ok(v),
        _ => Err(bad()),
    };
    let int = || match arg {
        OpArg::Int(v) => Ok(v),
        _ => Err(bad()),
    };
    Ok(match op {
        OpName::AutoContrast => pixel::auto_contrast(img),
        OpName::Equalize => pixel::equalize(img),
        OpName::Invert => pixel::invert(img),
        OpName::Rotate => geometry::rotate(img, float()?, resample, fill),
        OpName::Posterize | OpName::PosterizeIncreasing | OpName::PosterizeOriginal => {
            pixel::posterize(img, int()?).map_err(OpError::Posterize)?
        }
        OpName::Solarize | OpName::SolarizeIncreasing => pixel::solarize(img, int()?),
        // timm's `solarize_add(img, add, thresh=128)`.
        OpName::SolarizeAdd => pixel::solarize_add(img, int()?, 128),
        OpName::Color | OpName::ColorIncreasing => enhance::color(img, float()?),
        OpName::Contrast | OpName::ContrastIncreasing => enhance::contrast(img, float()?),
        OpName::Brightness | OpName::BrightnessIncreasing => enhance::brightness(img, float()?),
        OpName::Sharpness | OpName::SharpnessIncreasing => enhance::sharpness(img, float()?),
        OpName::ShearX => geometry::shear_x(img, float()?, resample, fill),
        OpName::ShearY => geometry::shear_y(img, float()?, resample, fill),
        OpName::TranslateX => geometry::translate_x_abs(img, float()?, resample, fill),
        OpName::TranslateY => geometry::translate_y_abs(img, float()?, resample, fill),
        OpName::TranslateXRel => geometry::translate_x_rel(img, float()?, resample, fill),
        OpName::TranslateYRel => geometry::translate_y_rel(img, float()?, resample, fill),
        OpName::Desaturate => enhance::desaturate(img, float()?),
        OpName::GaussianBlur => enhance::gaussian_blur(img, float()?),
        OpName::GaussianBlurRand => enhance::gaussian_blur_rand(img, float()?, blur_u),
    })
}

/// [`apply`] as `dpn train` runs it: the same, except that posterize with
/// fewer than 1 bit (Pillow 13 raises, and so timm 1.0.29 crashes, on
/// `PosterizeIncreasing` at magnitude 10 and beyond, `Posterize` below 2.5)
/// does what Pillow before 13 did, deliberately: `ImageOps.posterize`'s mask
/// `~(2 ** (8 - bits) - 1)` (Pillow 12.3.0, src/PIL/ImageOps.py) keeps no bit
/// for `bits <= 0`, so every pixel becomes 0, a black image. README,
/// "Augmentation", says so.
pub fn apply_training(
    op: OpName,
    img: &RgbImage,
    arg: OpArg,
    inputs: &OpInputs,
) -> Result<RgbImage, OpError> {
    match apply(op, img, arg, inputs) {
        Err(OpError::Posterize(_)) => Ok(RgbImage {
            width: img.width,
            height: img.height,
            data: vec![0; img.data.len()],
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(op: OpName, level: f64, negate: bool) -> f64 {
        match level_to_arg(op, level, &LevelParams::default(), negate) {
            OpArg::Float(v) => v,
            other => panic!("{op}: {other:?}"),
        }
    }

    fn i(op: OpName, level: f64) -> i64 {
        match level_to_arg(op, level, &LevelParams::default(), false) {
            OpArg::Int(v) => v,
            other => panic!("{op}: {other:?}"),
        }
    }

    #[test]
    fn names_round_trip() {
        for op in OpName::ALL {
            assert_eq!(OpName::parse(op.name()), Some(op));
        }
        assert_eq!(OpName::parse("rotate"), None);
    }

    #[test]
    fn level_functions() {
        assert_eq!(f(OpName::Rotate, 10.0, false), 30.0);
        assert_eq!(f(OpName::Rotate, 5.0, true), -15.0);
        assert_eq!(f(OpName::ShearX, 10.0, true), -0.3);
        assert_eq!(f(OpName::TranslateX, 10.0, false), 250.0);
        assert_eq!(f(OpName::TranslateYRel, 10.0, true), -0.45);
        assert_eq!(f(OpName::Color, 0.0, true), 0.1);
        assert_eq!(f(OpName::Color, 10.0, false), 1.8 + 0.1);
        assert_eq!(f(OpName::ContrastIncreasing, 10.0, true), 0.1);
        // Beyond 10 the increasing enhancements stop at 0.1.
        assert_eq!(f(OpName::SharpnessIncreasing, 15.0, true), 0.1);
        assert_eq!(f(OpName::Desaturate, 0.0, false), 0.5);
        assert_eq!(f(OpName::Desaturate, 15.0, false), 1.0);
        assert_eq!(i(OpName::Posterize, 9.0), 3);
        assert_eq!(i(OpName::PosterizeIncreasing, 9.0), 1);
        assert_eq!(i(OpName::PosterizeIncreasing, 15.0), -2);
        assert_eq!(i(OpName::PosterizeOriginal, 10.0), 8);
        assert_eq!(i(OpName::Solarize, 15.0), 256);
        assert_eq!(i(OpName::SolarizeIncreasing, 5.0), 128);
        assert_eq!(i(OpName::SolarizeAdd, 9.0), 99);
        assert_eq!(i(OpName::SolarizeAdd, 15.0), 128);
        assert_eq!(
            level_to_arg(OpName::Invert, 3.0, &LevelParams::default(), true),
            OpArg::None
        );
    }

    #[test]
    fn magnitude_clipping() {
        assert_eq!(clip_magnitude(12.0, None), 10.0);
        assert_eq!(clip_magnitude(12.0, Some(0.0)), 10.0);
        assert_eq!(clip_magnitude(12.0, Some(15.0)), 12.0);
        assert_eq!(clip_magnitude(-1.0, None), 0.0);
    }

    #[test]
    fn fill_colours() {
        // timm's IMAGENET_DEFAULT_MEAN: 123.675 -> 124, 116.28 -> 116, 103.53 -> 104.
        assert_eq!(fill_from_mean([0.485, 0.456, 0.406]), [124, 116, 104]);
        assert_eq!(fill_from_mean([0.5, 0.5, 0.5]), [128; 3]);
    }

    #[test]
    fn wrong_argument_kind_is_refused() {
        let img = RgbImage::new(4, 3);
        let r = apply(OpName::Rotate, &img, OpArg::Int(3), &OpInputs::default());
        assert!(matches!(r, Err(OpError::BadArg(..))));
        let r = apply(OpName::Posterize, &img, OpArg::Int(0), &OpInputs::default());
        assert!(matches!(r, Err(OpError::Posterize(_))));
        let mut grey = RgbImage::new(4, 3);
        grey.data.fill(200);
        for bits in [0, -2] {
            let r = apply_training(
                OpName::Posterize,
                &grey,
                OpArg::Int(bits),
                &OpInputs::default(),
            );
            assert!(
                r.unwrap().data.iter().all(|&v| v == 0),
                "Pillow < 13: black"
            );
        }
        let r = apply_training(
            OpName::Posterize,
            &grey,
            OpArg::Int(2),
            &OpInputs::default(),
        );
        assert_eq!(r.unwrap().data[0], 192);
    }
}
