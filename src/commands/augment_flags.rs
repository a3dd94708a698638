//! The augmentation flags `dpn train` and `dpn augment` share, spelled and
//! defaulted as timm's train.py spells them, with their checks: one
//! argument group, so that `dpn augment` shows exactly what `dpn train`
//! with the same flags feeds the model.

use anyhow::Result;
use clap::Args;

use crate::augment::mixup::{MixMode, Mixup};
use crate::augment::EraseMode;
use crate::data::Filter;
use crate::sys::error;
use crate::train::config::TrainConfig;

/// `[MIN, MAX]` from a two-value flag, else `default`.
pub fn pair(v: &Option<Vec<f64>>, default: (f64, f64)) -> (f64, f64) {
    match v.as_deref() {
        Some([a, b]) => (*a, *b),
        _ => default,
    }
}

/// timm's train.py Mixup/CutMix flags, spelled and defaulted as there
/// (`augment::mixup`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Augmentation")]
pub struct MixupFlags {
    /// Mixup alpha: a batch is blended with its reverse by lam ~ Beta(alpha,
    /// alpha), the targets likewise (soft targets, scored by timm's
    /// SoftTargetCrossEntropy with --label-smoothing in them); 0 is off [default: 0.0]
    #[arg(long, value_name = "ALPHA")]
    pub mixup: Option<f64>,

    /// CutMix alpha: a box of the reversed batch pasted in, its area 1 - lam,
    /// lam ~ Beta(alpha, alpha); 0 is off [default: 0.0]
    #[arg(long, value_name = "ALPHA")]
    pub cutmix: Option<f64>,

    /// CutMix box sides as fractions of the image, drawn in [MIN, MAX)
    /// (turns CutMix on, its alpha 1; timm's rand_bbox_minmax)
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"])]
    pub cutmix_minmax: Option<Vec<f64>>,

    /// Probability that a batch (or pair, or image: --mixup-mode) is mixed
    /// [default: 1.0]
    #[arg(long, value_name = "P")]
    pub mixup_prob: Option<f64>,

    /// Probability of CutMix rather than Mixup when both are on [default: 0.5]
    #[arg(long, value_name = "P")]
    pub mixup_switch_prob: Option<f64>,

    /// How mixing parameters are drawn: batch (one for the batch), pair (one
    /// per pair of images i and n-1-i) or elem (one per image) [default: batch]
    #[arg(long, value_name = "MODE")]
    pub mixup_mode: Option<String>,

    /// Stop mixing from this epoch on (counted from 0, as timm does; the
    /// targets stay smoothed); 0 is never [default: 0]
    #[arg(long, value_name = "EPOCH")]
    pub mixup_off_epoch: Option<u64>,
}

impl MixupFlags {
    pub fn minmax(&self) -> Option<(f64, f64)> {
        self.cutmix_minmax.as_ref().map(|v| (v[0], v[1]))
    }
}

/// timm's train.py augmentation flags, spelled and defaulted as there.
#[derive(Debug, Args)]
#[command(next_help_heading = "Augmentation")]
pub struct AugmentFlags {
    /// RandomResizedCrop's area range [default: 0.08 1.0]
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"])]
    pub scale: Option<Vec<f64>>,

    /// RandomResizedCrop's aspect-ratio range [default: 0.75 1.3333]
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"])]
    pub ratio: Option<Vec<f64>>,

    /// Probability of a horizontal flip [default: 0.5]
    #[arg(long, value_name = "P")]
    pub hflip: Option<f64>,

    /// Random erasing: probability that an image gets erased boxes (timm's
    /// RandomErasing, on the normalized image) [default: 0.0]
    #[arg(long, value_name = "P")]
    pub reprob: Option<f64>,

    /// Random erasing's fill: const (zeros), rand (a normal value per channel)
    /// or pixel (a normal value per pixel and channel) [default: pixel]
    #[arg(long, value_name = "MODE")]
    pub remode: Option<String>,

    /// Random erasing: an erased image gets 1 to N boxes, their areas scaled
    /// by 1 / the number [default: 1]
    #[arg(long, value_name = "N")]
    pub recount: Option<usize>,

    /// Accepted as timm's train.py accepts it, recorded, and without effect:
    /// it leaves the first half of each batch unerased only in timm's CUDA
    /// prefetcher; dpn erases per image, as train.py --no-prefetcher does
    #[arg(long)]
    pub resplit: bool,

    /// AutoAugment config, as timm's --aa: rand-m<M>-n<N>-mstd<S>-mmax<X>-inc<0|1>-p<P>
    /// (RandAugment, e.g. rand-m9-mstd0.5-inc1), augmix-m<M>-w<W>-d<D>-a<A>-b<0|1>-mstd<S>
    /// (AugMix, e.g. augmix-m3-w3) or an AutoAugment policy (original, originalr, v0, v0r,
    /// 3a; optionally -mstd<S>), applied after the crop and flip [default: none]
    #[arg(long, value_name = "CONFIG")]
    pub aa: Option<String>,

    /// The crop's filter, and --aa's when not random: random (bilinear or bicubic
    /// per image and op), nearest, bilinear, bicubic, box, hamming or lanczos
    /// (--aa takes random, bilinear or bicubic) [default: random]
    #[arg(long, value_name = "NAME")]
    pub train_interpolation: Option<String>,

    /// Vertical flip probability, after the horizontal flip (timm's
    /// RandomVerticalFlip) [default: 0.0]
    #[arg(long, value_name = "P")]
    pub vflip: Option<f64>,

    /// Probability of converting an image to grayscale, after --aa (timm's
    /// RandomGrayscale: Pillow's convert("L") in all three channels)
    /// [default: 0.0]
    #[arg(long, value_name = "P")]
    pub grayscale_prob: Option<f64>,

    /// Colour jitter factor X: brightness, contrast and saturation each drawn in
    /// [max(0, 1 - X), 1 + X], in a random order (timm's ColorJitter(X, X, X)),
    /// after --aa; only without --aa or with an --aa naming 3a, as timm;
    /// 0 is none (runs recorded before this flag load as 0) [default: 0.4]
    #[arg(long, value_name = "X")]
    pub color_jitter: Option<f64>,

    /// Apply the colour jitter with this probability (timm's RandomApply)
    /// [default: always]
    #[arg(long, value_name = "P")]
    pub color_jitter_prob: Option<f64>,

    /// Probability of a Gaussian blur after the grayscale step (timm's
    /// RandomApply of torchvision's GaussianBlur: kernel 23, sigma drawn in
    /// [0.1, 2.0]) [default: 0.0]
    #[arg(long, value_name = "P")]
    pub gaussian_blur_prob: Option<f64>,

    /// Each image gives N views: the clean crop and N - 1 copies of it through
    /// --aa, colour jitter, grayscale and blur (timm's AugMixDataset); dpn train
    /// feeds N x --batch-size images an update, split-major; 0 is off, else at
    /// least 2 [default: 0]
    #[arg(long, value_name = "N")]
    pub aug_splits: Option<usize>,
}

impl AugmentFlags {
    /// Sets the augmentation settings of `cfg` from these flags, with
    /// timm's train.py defaults for those not given.
    pub fn apply(&self, cfg: &mut TrainConfig) {
        cfg.scale = pair(&self.scale, (0.08, 1.0));
        cfg.ratio = pair(&self.ratio, (3.0 / 4.0, 4.0 / 3.0));
        cfg.hflip = self.hflip.unwrap_or(0.5);
        cfg.reprob = self.reprob.unwrap_or(0.0);
        cfg.remode = self
            .remode
            .as_deref()
            .unwrap_or("pixel")
            .to_ascii_lowercase();
        cfg.recount = self.recount.unwrap_or(1);
        cfg.resplit = self.resplit;
        cfg.aa = self.aa.clone();
        cfg.train_interpolation = Some(
            self.train_interpolation
                .as_deref()
                .unwrap_or("random")
                .to_ascii_lowercase(),
        );
        cfg.vflip = self.vflip.unwrap_or(0.0);
        cfg.grayscale_prob = self.grayscale_prob.unwrap_or(0.0);
        cfg.color_jitter = self.color_jitter.unwrap_or(0.4);
        cfg.color_jitter_prob = self.color_jitter_prob;
        cfg.gaussian_blur_prob = self.gaussian_blur_prob.unwrap_or(0.0);
        cfg.aug_splits = self.aug_splits.unwrap_or(0);
    }
}

impl MixupFlags {
    /// Sets the Mixup/CutMix settings of `cfg` from these flags, with
    /// timm's train.py defaults for those not given.
    pub fn apply(&self, cfg: &mut TrainConfig) {
        cfg.mixup = self.mixup.unwrap_or(0.0);
        cfg.cutmix = self.cutmix.unwrap_or(0.0);
        cfg.cutmix_minmax = self.minmax();
        cfg.mixup_prob = self.mixup_prob.unwrap_or(1.0);
        cfg.mixup_switch_prob = self.mixup_switch_prob.unwrap_or(0.5);
        cfg.mixup_mode = self.mixup_mode.clone().unwrap_or_else(|| "batch".into());
        cfg.mixup_off_epoch = self.mixup_off_epoch.unwrap_or(0);
    }
}

/// The most `--aug-splits` views: timm's recipes use 2 or 3, and each view
/// multiplies the batch the model sees.
pub const MAX_AUG_SPLITS: usize = 16;

/// The augmentation settings' errors (usage errors naming the flag), for
/// batches of `batch` images of `cfg.img_size`.
pub fn check(cfg: &TrainConfig, batch: usize) -> Result<()> {
    let bad = |m: String| Err(error::usage(m));
    let (s0, s1) = cfg.scale;
    if !(s0 > 0.0 && s0 <= s1 && s1 <= 1.0) {
        return bad(format!("--scale {s0} {s1}: need 0 < MIN <= MAX <= 1"));
    }
    let (r0, r1) = cfg.ratio;
    if !(r0 > 0.0 && r0 <= r1) {
        return bad(format!("--ratio {r0} {r1}: need 0 < MIN <= MAX"));
    }
    if !(0.0..=1.0).contains(&cfg.hflip) {
        return bad(format!("--hflip {} must be in [0, 1]", cfg.hflip));
    }
    if !(0.0..=1.0).contains(&cfg.reprob) {
        return bad(format!("--reprob {} must be in [0, 1]", cfg.reprob));
    }
    if cfg.remode.parse::<EraseMode>().is_err() {
        return bad(format!(
            "--remode {}: one of {}",
            cfg.remode,
            EraseMode::NAMES.join(", ")
        ));
    }
    if !(0.0..=1.0).contains(&cfg.vflip) {
        return bad(format!("--vflip {} must be in [0, 1]", cfg.vflip));
    }
    if !(0.0..=1.0).contains(&cfg.grayscale_prob) {
        return bad(format!(
            "--grayscale-prob {} must be in [0, 1]",
            cfg.grayscale_prob
        ));
    }
    if !(cfg.color_jitter >= 0.0 && cfg.color_jitter.is_finite()) {
        return bad(format!(
            "--color-jitter {} must be a non-negative number",
            cfg.color_jitter
        ));
    }
    if let Some(p) = cfg.color_jitter_prob.filter(|p| !(0.0..=1.0).contains(p)) {
        return bad(format!("--color-jitter-prob {p} must be in [0, 1]"));
    }
    if cfg.recount == 0 {
        return bad("--recount must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&cfg.gaussian_blur_prob) {
        return bad(format!(
            "--gaussian-blur-prob {} must be in [0, 1]",
            cfg.gaussian_blur_prob
        ));
    }
    let min_side = crate::augment::blur::MIN_SIDE;
    if cfg.gaussian_blur_prob > 0.0 && cfg.img_size < min_side {
        return bad(format!(
            "--gaussian-blur-prob needs --img-size {min_side} or more (the 23-pixel kernel \
             reflects 11 pixels at each border); this run has {}",
            cfg.img_size
        ));
    }
    if let Some(m) = Mixup::check(
        cfg.mixup,
        cfg.cutmix,
        cfg.cutmix_minmax,
        cfg.mixup_prob,
        cfg.mixup_switch_prob,
        cfg.img_size,
        batch,
    ) {
        return bad(m);
    }
    if cfg.mixup_mode.parse::<MixMode>().is_err() {
        return bad(format!(
            "--mixup-mode {}: one of {}",
            cfg.mixup_mode,
            MixMode::NAMES.join(", ")
        ));
    }
    if cfg.aug_splits == 1 {
        return bad(
            "--aug-splits 1 has no augmented split: use 0 (off) or 2 or more (timm's \
             clean + augmented views)"
                .into(),
        );
    }
    if cfg.aug_splits > MAX_AUG_SPLITS {
        return bad(format!(
            "--aug-splits {} is more than {MAX_AUG_SPLITS} views an image",
            cfg.aug_splits
        ));
    }
    if cfg.aug_splits >= 2 && Mixup::active(cfg.mixup, cfg.cutmix, cfg.cutmix_minmax) {
        return bad(
            "--aug-splits with --mixup/--cutmix: timm's train.py does not support them \
             together (its collate cannot de-interleave the splits); drop one"
                .into(),
        );
    }
    // Parses --train-interpolation and --aa (the mean only sets the fill).
    cfg.auto_augment([0.5; 3])?;
    cfg.train_filter(Filter::Bicubic)?;
    Ok(())
}
