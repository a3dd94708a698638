//! The resolved settings of a training run, as state.json keeps them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sched::SchedKind;
use crate::augment::auto_augment::AutoAugmentConfig;
use crate::augment::color_jitter::ColorJitter;
use crate::augment::geometry::Resample;
use crate::augment::mixup::{MixMode, Mixup};
use crate::augment::ops::{fill_from_mean, LevelParams};
use crate::augment::rand_augment::RandHparams;
use crate::augment::{EraseMode, RandomErasing};
use crate::data::resize::Filter;
use crate::sys::error;

/// Every setting that decides what a run computes (and a few that do not:
/// workers, device), with defaults applied. `Default` is all zeros and
/// empty strings: a base for callers that set what they need (`dpn
/// augment` sets the augmentation), not a run's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: String,
    pub data: PathBuf,
    pub val_data: Option<PathBuf>,
    pub val_split: Option<f64>,
    pub num_classes: usize,
    /// Where the starting weights came from ("scratch", or a file path).
    pub init: String,
    pub epochs: u64,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// timm's `--opt` name; empty in runs from before it (see
    /// [`TrainConfig::optimizer`]).
    #[serde(default)]
    pub opt: String,
    /// `--opt-eps`, `--opt-betas`: None for the optimizer's defaults.
    #[serde(default)]
    pub opt_eps: Option<f64>,
    #[serde(default)]
    pub opt_betas: Option<Vec<f64>>,
    /// `--layer-decay`: timm's layer-wise LR decay.
    #[serde(default)]
    pub layer_decay: Option<f64>,
    /// `--layer-decay-min-scale`: the smallest layer LR scale (timm's 0).
    #[serde(default)]
    pub layer_decay_min_scale: f64,
    /// `--layer-decay-no-opt-scale`: layers scaled below it are frozen.
    #[serde(default)]
    pub layer_decay_no_opt_scale: Option<f64>,
    pub sched: SchedKind,
    pub warmup_epochs: u64,
    pub warmup_lr: f64,
    pub min_lr: f64,
    /// Step: epochs between decays, a float as timm's `--decay-epochs`
    /// (2.4); runs before it recorded whole numbers, which load as floats.
    pub decay_epochs: f64,
    pub decay_rate: f64,
    pub label_smoothing: f64,
    pub img_size: usize,
    pub scale: (f64, f64),
    pub ratio: (f64, f64),
    pub hflip: f64,
    pub crop_pct: f64,
    /// "f32" (no AMP), "bf16" or "f16".
    pub amp: String,
    pub channels_last: bool,
    pub device: String,
    pub seed: u64,
    pub workers: usize,
    pub strict: bool,
    /// Processes the run is data-parallel over (1 without a launcher);
    /// `batch_size` is per process.
    #[serde(default = "one")]
    pub world_size: usize,
    /// What happens to BatchNorm's running statistics at the end of each
    /// epoch of a distributed run (timm's `--dist-bn`): "reduce" (averaged
    /// over the ranks), "broadcast" (rank 0's) or "none".
    #[serde(default = "reduce")]
    pub dist_bn: String,
    /// BatchNorm statistics over every rank's batch (SyncBatchNorm).
    #[serde(default)]
    pub sync_bn: bool,
    /// Random erasing (timm's `--reprob`): the probability that an image is
    /// erased; 0 (the default, and what runs before it recorded) is none.
    #[serde(default)]
    pub reprob: f64,
    /// Its fill (timm's `--remode`): "const", "rand" or "pixel".
    #[serde(default = "pixel")]
    pub remode: String,
    /// Its largest number of boxes an image (timm's `--recount`).
    #[serde(default = "one")]
    pub recount: usize,
    /// timm's `--resplit` (recorded; see `dpn train --help`: without timm's
    /// prefetcher, erasing runs per image and the flag changes nothing).
    #[serde(default)]
    pub resplit: bool,
    /// timm's `--aa`: a RandAugment (`rand-...`) or AutoAugment policy
    /// config; none (the default, and what runs before it recorded) is off.
    #[serde(default)]
    pub aa: Option<String>,
    /// timm's `--train-interpolation` (the crop's filter, and the AA ops' when
    /// not "random"); none in runs from before it was recorded, which cropped
    /// with the model's eval interpolation.
    #[serde(default)]
    pub train_interpolation: Option<String>,
    /// timm's `--vflip`: the probability of a vertical flip; 0 (the default,
    /// and what runs before it recorded) is none.
    #[serde(default)]
    pub vflip: f64,
    /// timm's `--grayscale-prob` (`RandomGrayscale`); 0 (the default, and
    /// what runs before it recorded) is none.
    #[serde(default)]
    pub grayscale_prob: f64,
    /// timm's `--color-jitter` (brightness, contrast and saturation); new
    /// runs default to 0.4 as timm's train.py, while 0 (what runs before it
    /// recorded load as) is none.
    #[serde(default)]
    pub color_jitter: f64,
    /// timm's `--color-jitter-prob`: the jitter's `RandomApply` probability;
    /// none is always.
    #[serde(default)]
    pub color_jitter_prob: Option<f64>,
    /// Mixup's alpha (timm's `--mixup`); 0 (the default, and what runs
    /// before it recorded) is off.
    #[serde(default)]
    pub mixup: f64,
    /// CutMix's alpha (timm's `--cutmix`); 0 is off.
    #[serde(default)]
    pub cutmix: f64,
    /// CutMix's box as fractions of the image (timm's `--cutmix-minmax`);
    /// turns CutMix on with alpha 1.
    #[serde(default)]
    pub cutmix_minmax: Option<(f64, f64)>,
    /// The probability that a batch (or pair, image) is mixed (`--mixup-prob`).
    #[serde(default = "one_f64")]
    pub mixup_prob: f64,
    /// The probability of CutMix rather than Mixup when both are on
    /// (`--mixup-switch-prob`).
    #[serde(default = "half")]
    pub mixup_switch_prob: f64,
    /// "batch", "pair" or "elem" (`--mixup-mode`).
    #[serde(default = "batch")]
    pub mixup_mode: String,
    /// The epoch (0-based, as timm counts) from which mixing stops; 0 is never
    /// (`--mixup-off-epoch`).
    #[serde(default)]
    pub mixup_off_epoch: u64,
    /// timm's `--gaussian-blur-prob`: `RandomApply([GaussianBlur(23)])`
    /// after the grayscale step; 0 (the default, and what runs before it
    /// recorded) is none.
    #[serde(default)]
    pub gaussian_blur_prob: f64,
    /// timm's `--aug-splits`: each image gives one clean and `N - 1`
    /// augmented views (AugMixDataset); 0 (the default) is none.
    #[serde(default)]
    pub aug_splits: usize,
    /// timm's `--jsd-loss`: `JsdCrossEntropy` over the `--aug-splits` views.
    #[serde(default)]
    pub jsd_loss: bool,
    /// timm's `--aug-repeats`: each image repeated this many times per epoch
    /// (RepeatAugSampler); 0 (the default) is none.
    #[serde(default)]
    pub aug_repeats: f64,
    /// timm's `--sched-on-updates`: the schedule's time counts optimizer
    /// updates, not epochs. New runs default to timm's per-epoch steps;
    /// runs recorded before the flag stepped per update and load as true.
    #[serde(default = "yes")]
    pub sched_on_updates: bool,
    /// Multistep: the epochs of the decays (timm's `--decay-milestones`).
    #[serde(default = "milestones")]
    pub decay_milestones: Vec<u64>,
    /// timm's `--warmup-prefix`: the schedule starts after the warmup (and
    /// the run is that much longer) instead of counting it.
    #[serde(default)]
    pub warmup_prefix: bool,
    /// timm's `--cooldown-epochs`: epochs at `--min-lr` after the cycles
    /// (cosine, poly, tanh; `create_scheduler_v2` adds them to the run).
    #[serde(default)]
    pub cooldown_epochs: u64,
    /// Plateau: epochs without a better eval metric before a decay
    /// (timm's `--patience-epochs`).
    #[serde(default = "ten")]
    pub patience_epochs: u64,
    /// timm's `--lr-cycle-mul`, `--lr-cycle-decay`, `--lr-cycle-limit`:
    /// each cycle's length factor, peak factor and the number of cycles.
    #[serde(default = "one_f64")]
    pub lr_cycle_mul: f64,
    #[serde(default = "half")]
    pub lr_cycle_decay: f64,
    #[serde(default = "one_u64")]
    pub lr_cycle_limit: u64,
    /// timm's `--lr-k-decay` (cosine, poly).
    #[serde(default = "one_f64")]
    pub lr_k_decay: f64,
    /// timm's `--lr-noise`: fractions of `--epochs` where the learning rate
    /// is noised, a start or a `[start, end)` range; none is off.
    #[serde(default)]
    pub lr_noise: Option<Vec<f64>>,
    /// timm's `--lr-noise-pct`: the noise's bound.
    #[serde(default = "noise_pct")]
    pub lr_noise_pct: f64,
    /// timm's `--lr-noise-std` (recorded; timm 1.0's draw does not read it).
    #[serde(default = "one_f64")]
    pub lr_noise_std: f64,
    /// timm's `--model-ema`: keep an EMA of the weights (`train::ema`).
    #[serde(default)]
    pub model_ema: bool,
    /// timm's `--model-ema-decay` (0.9998 as train.py).
    #[serde(default = "ema_decay")]
    pub model_ema_decay: f64,
    /// timm's `--model-ema-warmup`.
    #[serde(default)]
    pub model_ema_warmup: bool,
    /// timm's `--model-ema-force-cpu` (the EMA is then not validated).
    #[serde(default)]
    pub model_ema_force_cpu: bool,
    /// timm's `--checkpoint-hist`: epoch checkpoints kept, the best by
    /// `eval_metric` (runs before the flag kept the best one).
    #[serde(default = "one")]
    pub checkpoint_hist: usize,
    /// timm's `--eval-metric`: top1, top5 or loss (lower is better).
    #[serde(default = "top1")]
    pub eval_metric: String,
    /// timm's `--bce-loss` (`train::loss::Bce`); off in runs before it.
    #[serde(default)]
    pub bce_loss: bool,
    /// timm's `--bce-target-thresh`.
    #[serde(default)]
    pub bce_target_thresh: Option<f64>,
    /// timm's `--bce-sum`: sum over classes, then the batch mean.
    #[serde(default)]
    pub bce_sum: bool,
    /// timm's `--bce-pos-weight`.
    #[serde(default)]
    pub bce_pos_weight: Option<f64>,
    /// timm's `--drop`: dropout on the pooled features before the classifier.
    #[serde(default)]
    pub drop: f64,
    /// timm's `--clip-grad` (`train::clip`); none is no clipping.
    #[serde(default)]
    pub clip_grad: Option<f64>,
    /// timm's `--clip-mode`: norm, value or agc ("" in runs before it: norm).
    #[serde(default)]
    pub clip_mode: String,
    /// timm's `--grad-accum-steps` (1 in runs before it).
    #[serde(default = "one")]
    pub grad_accum_steps: usize,
}

impl TrainConfig {
    /// timm's `RandomErasing` as `transforms_imagenet_train` builds it from
    /// `--reprob`, `--remode` and `--recount`; none when `--reprob` is 0, as
    /// timm adds it only for `re_prob > 0`.
    pub fn erasing(&self) -> anyhow::Result<Option<RandomErasing>> {
        if self.reprob <= 0.0 {
            return Ok(None);
        }
        let mode: EraseMode = self.remode.parse().map_err(error::usage)?;
        Ok(Some(RandomErasing::new(self.reprob, mode, self.recount)))
    }
}

impl TrainConfig {
    /// The `--opt` name: recorded, or for runs from before `--opt`, what
    /// `--nesterov` chose (`sgd`, else `momentum`).
    pub fn optimizer(&self) -> &str {
        match self.opt.as_str() {
            "" if self.nesterov => "sgd",
            "" => "momentum",
            name => name,
        }
    }

    /// The optimizer settings (timm's `optimizer_kwargs`).
    pub fn optim_options(&self) -> crate::train::optim::Options {
        crate::train::optim::Options {
            name: self.optimizer().to_string(),
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            eps: self.opt_eps,
            betas: self.opt_betas.clone(),
            // Without `layer_decay` timm ignores the other two, as here.
            layer_decay: self
                .layer_decay
                .map(|decay| crate::train::optim::LayerDecay {
                    decay,
                    min_scale: self.layer_decay_min_scale,
                    no_opt_scale: self.layer_decay_no_opt_scale,
                }),
        }
    }
}

impl TrainConfig {
    /// timm's colour jitter as `transforms_imagenet_train` adds it: only
    /// without `--aa` or with an `--aa` naming "3a" (timm's
    /// `disable_color_jitter`); none for `--color-jitter 0` (an identity in
    /// timm, drawing nothing here, so runs recorded before it stay as they
    /// were).
    pub fn color_jitter(&self) -> Option<ColorJitter> {
        let disabled = self.aa.as_deref().is_some_and(|a| !a.contains("3a"));
        (!disabled && self.color_jitter != 0.0)
            .then(|| ColorJitter::new(self.color_jitter, self.color_jitter_prob))
    }
}

impl TrainConfig {
    /// timm's `transforms_imagenet_train` as these settings build it, on a
    /// model with preprocessing `p` (its mean and std; `p.image_size` is
    /// replaced by `--img-size`), drawing from generators keyed by `seed`:
    /// what `dpn train` feeds each epoch and `dpn augment` shows.
    pub fn train_transform(
        &self,
        p: &crate::registry::Preprocess,
        seed: u64,
    ) -> anyhow::Result<crate::data::TrainTransform> {
        use std::sync::Arc;
        let mut tf = crate::data::TrainTransform::from_preprocess(p, seed);
        tf.size = self.img_size;
        tf.scale = self.scale;
        tf.ratio = self.ratio;
        tf.hflip = self.hflip;
        tf.vflip = self.vflip;
        tf.grayscale = self.grayscale_prob;
        tf.color_jitter = self.color_jitter().map(|c| Arc::new(c) as _);
        match self.train_filter(tf.filter)? {
            Some(f) => tf.filter = f,
            None => tf.random_interpolation = true,
        }
        tf.auto_augment = self.auto_augment(p.mean)?.map(|a| Arc::new(a) as _);
        tf.erasing = self.erasing()?.map(|e| Arc::new(e) as _);
        tf.gaussian_blur = self.gaussian_blur().map(|b| Arc::new(b) as _);
        Ok(tf)
    }

    /// timm's Gaussian blur step (`--gaussian-blur-prob`), none for 0.
    pub fn gaussian_blur(&self) -> Option<crate::augment::blur::GaussianBlur> {
        (self.gaussian_blur_prob > 0.0)
            .then(|| crate::augment::blur::GaussianBlur::new(self.gaussian_blur_prob))
    }

    /// The crop's filter: `None` for "random" (bilinear or bicubic per
    /// image), else the named one; the model's eval `default` for runs that
    /// did not record one.
    pub fn train_filter(&self, default: Filter) -> anyhow::Result<Option<Filter>> {
        match self.train_interpolation.as_deref() {
            None => Ok(Some(default)),
            Some("random") => Ok(None),
            Some(name) => Ok(Some(match name {
                "nearest" => Filter::Nearest,
                "bilinear" => Filter::Bilinear,
                "bicubic" => Filter::Bicubic,
                "box" => Filter::Box,
                "hamming" => Filter::Hamming,
                "lanczos" => Filter::Lanczos,
                _ => {
                    return Err(error::usage(format!(
                        "--train-interpolation {name}: one of random, {}",
                        INTERPOLATIONS.join(", ")
                    )))
                }
            })),
        }
    }

    /// timm's `--aa` as `transforms_imagenet_train` builds it: `aa_params`
    /// `translate_const = int(img_size * 0.45)`, `img_mean` from the model's
    /// `mean`, and the train interpolation as the ops' filter unless
    /// "random" (then drawn per op). The ops resample bilinear or bicubic
    /// only (as Pillow's `Image.transform`, which raises for the others).
    pub fn auto_augment(&self, mean: [f64; 3]) -> anyhow::Result<Option<AutoAugmentConfig>> {
        let Some(config) = &self.aa else {
            return Ok(None);
        };
        let interpolation = match self.train_filter(Filter::Bicubic)? {
            None => None,
            Some(Filter::Bilinear) => Some(Resample::Bilinear),
            Some(Filter::Bicubic) => Some(Resample::Bicubic),
            Some(_) => {
                return Err(error::usage(format!(
                    "--aa with --train-interpolation {}: the ops resample bilinear or \
                     bicubic only (use random, bilinear or bicubic)",
                    self.train_interpolation.as_deref().unwrap_or_default()
                )))
            }
        };
        let hparams = RandHparams {
            level: LevelParams {
                translate_const: ((self.img_size as f64) * 0.45).floor(),
                ..LevelParams::default()
            },
            fill: fill_from_mean(mean),
            interpolation,
        };
        AutoAugmentConfig::parse(config, hparams).map(Some)
    }
}

/// The `--train-interpolation` names besides "random" (timm's
/// `str_to_interp_mode`, all of which `data::resize` computes).
pub const INTERPOLATIONS: [&str; 6] = [
    "nearest", "bilinear", "bicubic", "box", "hamming", "lanczos",
];

impl TrainConfig {
    /// timm's `Mixup` as train.py builds it (`mixup_active`: an alpha above
    /// 0 or a minmax box), with `--label-smoothing` moved into its targets; none
    /// when neither is on.
    pub fn mixup(&self) -> anyhow::Result<Option<Mixup>> {
        if !Mixup::active(self.mixup, self.cutmix, self.cutmix_minmax) {
            return Ok(None);
        }
        let mode: MixMode = self.mixup_mode.parse().map_err(error::usage)?;
        Ok(Some(Mixup {
            mixup_alpha: self.mixup,
            cutmix_alpha: if self.cutmix_minmax.is_some() {
                1.0
            } else {
                self.cutmix
            },
            cutmix_minmax: self.cutmix_minmax,
            prob: self.mixup_prob,
            switch_prob: self.mixup_switch_prob,
            mode,
            label_smoothing: self.label_smoothing,
            num_classes: self.num_classes,
        }))
    }

    /// Whether mixing is on in `epoch` (0-based): train.py sets
    /// `mixup_enabled = False` once `epoch >= --mixup-off-epoch` (when set).
    pub fn mixup_enabled(&self, epoch: u64) -> bool {
        self.mixup_off_epoch == 0 || epoch < self.mixup_off_epoch
    }
}

fn ema_decay() -> f64 {
    0.9998
}

fn top1() -> String {
    "top1".into()
}

fn one_f64() -> f64 {
    1.0
}

fn half() -> f64 {
    0.5
}

fn batch() -> String {
    "batch".into()
}

fn pixel() -> String {
    "pixel".into()
}

fn yes() -> bool {
    true
}

fn milestones() -> Vec<u64> {
    vec![90, 180, 270]
}

fn ten() -> u64 {
    10
}

fn one_u64() -> u64 {
    1
}

fn noise_pct() -> f64 {
    0.67
}

impl TrainConfig {
    /// `--clip-mode`, "norm" for runs from before it.
    pub fn clip_mode(&self) -> &str {
        if self.clip_mode.is_empty() {
            "norm"
        } else {
            &self.clip_mode
        }
    }

    /// `--grad-accum-steps`, 1 for runs from before it.
    pub fn accum_steps(&self) -> usize {
        self.grad_accum_steps.max(1)
    }
}

fn one() -> usize {
    1
}

fn reduce() -> String {
    "reduce".into()
}
