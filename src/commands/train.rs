//! `dpn train`: train or fine-tune a DPN on an image folder, timm's way.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use super::augment_flags::{pair, AugmentFlags, MixupFlags};
use super::ema_flags::EmaArgs;
use super::Context;
use crate::dist::{self, agree, Fingerprint, Group};
use crate::output::Format;
use crate::registry::ModelSpec;
use crate::store;
use crate::sys::error;
use crate::sys::time;
use crate::train::checkpoint;
use crate::train::config::TrainConfig;
use crate::train::run_lock::RunLock;
use crate::train::sched::SchedKind;
use crate::train::trainer::{self, Env};
use crate::ui::Ui;

#[derive(Debug, Args)]
#[command(after_help = "\
DATA is an ImageFolder: DATA/<class>/<image>. The run's classes are its folder names in sorted \
order and a label is a position in that list, also for folders named by ImageNet synset ids; \
only --num-classes 1000 with synset folders keeps ImageNet's head (classes and indices). \
--val-data folders are looked up by name among the training classes (a subset is fine; an \
unknown folder is an error, exit code 3). Training uses timm's \
augmentation (RandomResizedCrop with --scale/--ratio, horizontal flip with --hflip, the model's \
normalization; --vflip; with --aa, timm's RandAugment, AutoAugment or AugMix on the flipped 8-bit \
image, else colour jitter (--color-jitter, 0.4 by default as in timm); --grayscale-prob; with \
--reprob, timm's random erasing on the normalized image; all drawn per image \
like the crop), validation timm's eval transform (resize to img-size / crop-pct, center crop). \
Images that cannot be read are skipped and counted (--strict stops instead); the last \
incomplete batch of an epoch is dropped. With --mixup/--cutmix, each batch is then mixed as \
timm's Mixup does (train.py without its prefetcher), its numbers drawn per update from --seed, \
and the loss is timm's SoftTargetCrossEntropy on soft targets that carry the label smoothing.

The optimizer is --opt (timm's names and defaults; by default SGD with momentum 0.9, \
torch.optim.SGD; weight decay on convolution weights only, not on BatchNorm parameters and \
biases, as timm's parameter groups), the loss cross-entropy with label smoothing, the \
learning rate timm's scheduler's (create_scheduler_v2 with --sched and its flags), set at \
each epoch's start as timm's train.py does, or before every update with --sched-on-updates \
(epochs then count as epochs x batches per epoch; runs recorded before dpn had the flag \
resume stepping per update). Cycles, --cooldown-epochs and --warmup-prefix lengthen the run \
as timm does; --sched plateau decays on the validation's --eval-metric (the EMA's with --model-ema). Default --lr: the registry's training LR scaled by --batch-size \
over the registry's batch size, or 0.1 x batch / 256 (timm's --lr-base) without one.

OUTPUT receives metrics.csv (one row per epoch), steps.csv (one row per update) and \
checkpoints: last and best (by --eval-metric, the EMA's with --model-ema) are links into checkpoints/, each a folder \
with model.safetensors (timm's names: loads into timm strictly and into every dpn \
subcommand; its metadata records the class names and the validation's preprocessing, which \
predict, evaluate and profile then use), config.json (timm's hub config: \
timm.create_model(\"local-dir:FOLDER\", pretrained=True) loads the folder), \
optimizer.safetensors and state.json. A checkpoint is written whole before the \
links move, so a kill at any moment leaves the previous one intact.

One process at a time writes OUTPUT: a second dpn train on it (--resume included) fails at \
once (exit code 2) naming the PID that holds OUTPUT/.dpn-train.lock. --resume first removes \
what kills leave (temporary and incomplete checkpoint folders) and points `last` at the newest \
complete checkpoint; a run killed before its first checkpoint starts again from scratch with \
the settings in OUTPUT/run.json.

SIGINT or SIGTERM (Ctrl-C, a batch scheduler's warning) saves a checkpoint at the next step \
and exits with code 130; a second signal stops at once. `--resume OUTPUT` continues exactly \
where the run stopped: on the CPU the resumed run computes the same updates, bit for bit, \
as an uninterrupted one with the same settings. A resumed run keeps its checkpoint's \
settings; only --epochs, --workers, --device, --output and the data paths may change. A NaN \
or infinite loss stops the run with an error, leaving the last good checkpoint.")]
pub struct TrainArgs {
    /// timm's args.yaml (train.py's -c): its keys as the options they mean in timm, timm's
    /// defaults for the keys it leaves out; options given here win (README: timm's
    /// train.py arguments)
    #[arg(short = 'c', long, value_name = "FILE", conflicts_with = "resume")]
    pub config: Option<PathBuf>,

    /// Training images: an ImageFolder (DIR/<class>/<image>)
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "DIR", required_unless_present_any = ["resume", "config"])]
    pub data: Option<PathBuf>,

    /// Validation images, an ImageFolder with the training data's classes (or a subset),
    /// matched by folder name
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "DIR", conflicts_with = "val_split")]
    pub val_data: Option<PathBuf>,

    /// Hold out this fraction of each class of --data for validation (seeded by --seed)
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "F")]
    pub val_split: Option<f64>,

    /// Images per batch [default: 64]
    #[arg(help_heading = "Data")]
    #[arg(short, long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Input side in pixels [default: the model's, 224]
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "N")]
    pub img_size: Option<usize>,

    /// Validation crop fraction [default: the model's]
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "F")]
    pub crop_pct: Option<f64>,

    /// Image decoding threads, at most 4 per core [default: 2]
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Stop at the first unreadable image instead of skipping it
    #[arg(help_heading = "Data")]
    #[arg(long)]
    pub strict: bool,

    /// Seed of initialization, data order, augmentation and --val-split [default: 42]
    #[arg(help_heading = "Data")]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Model to train (see `dpn info`)
    #[arg(help_heading = "Model")]
    #[arg(short, long, value_name = "MODEL", required_unless_present_any = ["resume", "config"])]
    pub model: Option<String>,

    /// Start from the model's pretrained weights in the cache (`dpn fetch MODEL`)
    #[arg(help_heading = "Model")]
    #[arg(long, conflicts_with = "weights")]
    pub pretrained: bool,

    /// Start from these weights (any format `dpn convert` reads)
    #[arg(help_heading = "Model")]
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Classes of the classifier [default: the number of class folders in --data];
    /// a classifier of another size in the starting weights is replaced
    #[arg(help_heading = "Model")]
    #[arg(long, value_name = "N")]
    pub num_classes: Option<usize>,

    /// auto, cpu, cuda or cuda:N [default: auto]
    #[arg(help_heading = "Model")]
    #[arg(short, long, value_name = "DEVICE")]
    pub device: Option<String>,

    /// Mixed precision: bf16 (the default when given alone) or f16 (with loss scaling; CUDA only)
    #[arg(help_heading = "Model")]
    #[arg(long, value_name = "DTYPE", num_args = 0..=1, default_missing_value = "bf16")]
    pub amp: Option<String>,

    /// Train in channels-last (NHWC) memory format
    #[arg(help_heading = "Model")]
    #[arg(long)]
    pub channels_last: bool,

    /// Peak learning rate [default: the registry's, scaled by batch size]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,

    /// SGD momentum [default: 0.9]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "M")]
    pub momentum: Option<f64>,

    /// Nesterov momentum: the same as `--opt sgd`
    #[arg(help_heading = "Optimizer")]
    #[arg(long)]
    pub nesterov: bool,

    /// Optimizer, by timm's name: sgd (Nesterov momentum), momentum, rmsprop, rmsproptf,
    /// adam, adamw, nadam, radam, lamb, lars, lion, adafactor [default: momentum, the seed
    /// recipe's SGD with momentum 0.9; timm's default is sgd]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "NAME")]
    pub opt: Option<String>,

    /// Optimizer epsilon [default: the optimizer's own, as timm]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "EPS")]
    pub opt_eps: Option<f64>,

    /// Optimizer betas [default: the optimizer's own, as timm]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "BETA", num_args = 2)]
    pub opt_betas: Option<Vec<f64>>,

    /// Layer-wise LR decay (timm's param_groups_layer_decay over the DPN's blocks)
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "F")]
    pub layer_decay: Option<f64>,

    /// With --layer-decay: the smallest LR scale a layer gets [default: 0]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "F")]
    pub layer_decay_min_scale: Option<f64>,

    /// With --layer-decay: freeze the layers whose LR scale is below F (timm's requires_grad=False)
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "F")]
    pub layer_decay_no_opt_scale: Option<f64>,

    /// Without --lr: LR = LR_BASE * global batch / --lr-base-size (timm's rule) [default: 0.1]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "LR")]
    pub lr_base: Option<f64>,

    /// Without --lr: the batch size --lr-base is for [default: 256]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "N")]
    pub lr_base_size: Option<usize>,

    /// Without --lr: linear or sqrt scaling of --lr-base by the batch ratio [default: sqrt
    /// for optimizers whose name has "ada" or "lamb", else linear, as timm]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "SCALE")]
    pub lr_base_scale: Option<String>,

    /// Weight decay of convolution weights (none on BatchNorm and biases) [default: 1e-4]
    #[arg(help_heading = "Optimizer")]
    #[arg(long, value_name = "WD")]
    pub weight_decay: Option<f64>,

    /// Epochs to train [default: 10]
    #[arg(help_heading = "Schedule")]
    #[arg(long, value_name = "N")]
    pub epochs: Option<u64>,

    /// The learning-rate schedule (boxed like `augment`).
    #[command(flatten)]
    pub schedule: Box<ScheduleArgs>,

    /// Boxed: the augmentation flags grow, and `cli::Command` holds these
    /// arguments by value.
    #[command(flatten)]
    pub augment: Box<AugmentFlags>,

    /// Mixup and CutMix (boxed like `augment`).
    #[command(flatten)]
    pub mixup: Box<MixupFlags>,

    /// Augmentation splits and repeats (boxed like `augment`).
    #[command(flatten)]
    pub splits: Box<SplitArgs>,

    /// Label smoothing of the cross-entropy loss (timm's --smoothing, also accepted) [default: 0.1]
    #[arg(help_heading = "Regularization")]
    #[arg(long, value_name = "F", alias = "smoothing")]
    pub label_smoothing: Option<f64>,

    /// Losses and regularization (boxed like `augment`).
    #[command(flatten)]
    pub reg: Box<RegArgs>,

    /// Model EMA and checkpoint history (boxed like `augment`).
    #[command(flatten)]
    pub ema: Box<EmaArgs>,

    /// Continue a run: its output folder, a checkpoint folder, or a file in one
    #[arg(help_heading = "Checkpoints")]
    #[arg(long, value_name = "DIR_OR_CKPT")]
    pub resume: Option<PathBuf>,

    /// Distributed runs: seconds to wait for the other ranks (at the rendezvous
    /// and at every collective) before a rank gives up with an error
    #[arg(help_heading = "Distributed")]
    #[arg(long, value_name = "SECS", default_value_t = dist::DEFAULT_TIMEOUT_SECS)]
    pub dist_timeout: u64,

    /// Distributed runs: BatchNorm running statistics at the end of each epoch
    /// (timm's --dist-bn): averaged over the ranks, rank 0's, or left per rank
    #[arg(help_heading = "Distributed")]
    #[arg(long, value_enum, value_name = "HOW")]
    pub dist_bn: Option<DistBn>,

    /// Distributed runs: BatchNorm statistics over every process's batch together
    /// (SyncBatchNorm); costs an all-reduce per BatchNorm in each forward and backward pass
    #[arg(help_heading = "Distributed")]
    #[arg(long)]
    pub sync_bn: bool,

    /// Distributed runs: the collective library, by default NCCL on CUDA and Gloo
    /// on the CPU; given explicitly, a launcher's world of one joins it too
    #[arg(help_heading = "Distributed")]
    #[arg(long, value_enum, value_name = "NAME")]
    pub dist_backend: Option<DistBackend>,

    /// Where metrics and checkpoints go [default: output/train/<model>-<UTC time>;
    /// with --resume, the run's own folder]
    #[arg(help_heading = "Output")]
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Format of the per-epoch summary printed at the end
    #[arg(help_heading = "Output")]
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// timm's train.py loss and regularization flags (`train::loss`,
/// `train::clip`, the head's dropout).
#[derive(Debug, Args)]
#[command(next_help_heading = "Regularization")]
pub struct RegArgs {
    /// Binary cross-entropy instead of cross-entropy (timm's BinaryCrossEntropy; as train.py, it
    /// applies with mixup/cutmix or label smoothing on)
    #[arg(long)]
    pub bce_loss: bool,

    /// BCE: targets above this become 1, the others 0 [default: none]
    #[arg(long, value_name = "F")]
    pub bce_target_thresh: Option<f64>,

    /// BCE: sum over classes, then the batch mean (else the mean of every element)
    #[arg(long)]
    pub bce_sum: bool,

    /// BCE: weight of the positive term (torch's pos_weight) [default: none]
    #[arg(long, value_name = "F")]
    pub bce_pos_weight: Option<f64>,

    /// Dropout on the pooled features before the classifier, in training (timm's --drop) [default: 0]
    #[arg(long, value_name = "P")]
    pub drop: Option<f64>,

    /// Clip gradients after unscaling, before each update (timm's --clip-grad; see --clip-mode)
    /// [default: none]
    #[arg(long, value_name = "V")]
    pub clip_grad: Option<f64>,

    /// How --clip-grad clips: norm (total 2-norm), value (each entry), agc (timm's adaptive
    /// clipping, classifier excluded) [default: norm]
    #[arg(long, value_name = "MODE")]
    pub clip_mode: Option<String>,

    /// Micro-batches whose gradients add up to one update (loss divided; timm's
    /// --grad-accum-steps) [default: 1]
    #[arg(long, value_name = "N")]
    pub grad_accum_steps: Option<u64>,
}

impl RegArgs {
    /// Records the flags in a new run's settings.
    pub fn apply(&self, cfg: &mut TrainConfig) {
        cfg.bce_loss = self.bce_loss;
        cfg.bce_target_thresh = self.bce_target_thresh;
        cfg.bce_sum = self.bce_sum;
        cfg.bce_pos_weight = self.bce_pos_weight;
        cfg.drop = self.drop.unwrap_or(0.0);
        cfg.clip_grad = self.clip_grad;
        cfg.clip_mode = self.clip_mode.clone().unwrap_or_else(|| "norm".into());
        cfg.grad_accum_steps = self.grad_accum_steps.unwrap_or(1).min(1 << 20) as usize;
    }

    /// `--resume`: the flags that change what the run computes must match.
    fn fixed(&self, saved: &TrainConfig, fixed: &mut Vec<String>) {
        if self.bce_loss != saved.bce_loss {
            fixed.push(format!(
                "--bce-loss (the checkpoint has {})",
                saved.bce_loss
            ));
        }
        if self.bce_sum && !saved.bce_sum {
            fixed.push("--bce-sum (the checkpoint averages)".into());
        }
        differs(
            fixed,
            "bce-target-thresh",
            self.bce_target_thresh.map(Opt::some),
            Opt(saved.bce_target_thresh),
        );
        differs(
            fixed,
            "bce-pos-weight",
            self.bce_pos_weight.map(Opt::some),
            Opt(saved.bce_pos_weight),
        );
        differs(fixed, "drop", self.drop, saved.drop);
        differs(
            fixed,
            "clip-grad",
            self.clip_grad.map(Opt::some),
            Opt(saved.clip_grad),
        );
        differs(
            fixed,
            "clip-mode",
            self.clip_mode.clone(),
            saved.clip_mode().into(),
        );
        differs(
            fixed,
            "grad-accum-steps",
            self.grad_accum_steps.map(|n| n as usize),
            saved.accum_steps(),
        );
    }
}

/// timm's train.py schedule flags, as `create_scheduler_v2` reads them
/// (timm/scheduler/scheduler_factory.py `scheduler_kwargs`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Schedule")]
pub struct ScheduleArgs {
    /// Learning-rate schedule, timm's (constant: --lr after the warmup) [default: cosine]
    #[arg(long, value_enum, value_name = "SCHED")]
    pub sched: Option<SchedKind>,

    /// Step the schedule after every update (epochs counted in updates) instead of at
    /// epoch ends, as timm's --sched-on-updates
    #[arg(long)]
    pub sched_on_updates: bool,

    /// Epochs of linear warmup from --warmup-lr [default: 0]
    #[arg(long, value_name = "N")]
    pub warmup_epochs: Option<u64>,

    /// Learning rate the warmup starts from [default: 1e-5]
    #[arg(long, value_name = "LR")]
    pub warmup_lr: Option<f64>,

    /// The schedule starts after the warmup (which adds --warmup-epochs to the run)
    /// instead of counting it
    #[arg(long)]
    pub warmup_prefix: bool,

    /// Lowest learning rate: cosine, poly and tanh end there, plateau stops at it
    /// [default: 0]
    #[arg(long, value_name = "LR")]
    pub min_lr: Option<f64>,

    /// Step schedule: epochs between decays, fractions allowed (2.4) [default: 90]
    #[arg(long, value_name = "N")]
    pub decay_epochs: Option<f64>,

    /// Multistep schedule: epochs of the decays (ascending; commas or spaces)
    /// [default: 90 180 270]
    #[arg(long, value_name = "N", num_args = 1.., value_delimiter = ',')]
    pub decay_milestones: Option<Vec<u64>>,

    /// Factor of each decay (step, multistep, plateau); poly's power [default: 0.1]
    #[arg(long, value_name = "F")]
    pub decay_rate: Option<f64>,

    /// Epochs at --min-lr after the cosine, poly or tanh cycles, added to --epochs
    /// [default: 0]
    #[arg(long, value_name = "N")]
    pub cooldown_epochs: Option<u64>,

    /// Plateau schedule: epochs without a better --eval-metric before a decay
    /// [default: 10]
    #[arg(long, value_name = "N")]
    pub patience_epochs: Option<u64>,

    /// Cosine/poly/tanh: each cycle's length over the one before [default: 1]
    #[arg(long, value_name = "F")]
    pub lr_cycle_mul: Option<f64>,

    /// Cosine/poly/tanh: each cycle's peak over the one before [default: 0.5]
    #[arg(long, value_name = "F")]
    pub lr_cycle_decay: Option<f64>,

    /// Cosine/poly/tanh: cycles (their epochs are added to the run) [default: 1]
    #[arg(long, value_name = "N")]
    pub lr_cycle_limit: Option<u64>,

    /// Cosine/poly: k-decay exponent of the schedule's time [default: 1]
    #[arg(long, value_name = "K")]
    pub lr_k_decay: Option<f64>,

    /// Noise the learning rate from this fraction of --epochs (or in [START, END)),
    /// drawn as timm does from --seed
    #[arg(long, value_name = "F", num_args = 1..=2, value_delimiter = ',')]
    pub lr_noise: Option<Vec<f64>>,

    /// Bound of the learning-rate noise, a fraction of the rate [default: 0.67]
    #[arg(long, value_name = "F")]
    pub lr_noise_pct: Option<f64>,

    /// Recorded as timm's --lr-noise-std (timm's draw does not read it) [default: 1]
    #[arg(long, value_name = "F")]
    pub lr_noise_std: Option<f64>,
}

/// timm's train.py flags that change the loss or how often an image is
/// seen: the JSD loss over `--aug-splits`, repeated augmentation (train
/// only; `--aug-splits` itself is shared with `dpn augment`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Augmentation")]
pub struct SplitArgs {
    /// Jensen-Shannon divergence + cross-entropy over the --aug-splits views
    /// (timm's JsdCrossEntropy, alpha 12, --label-smoothing on the clean view)
    #[arg(long)]
    pub jsd_loss: bool,

    /// Repeated augmentation: each image this many times an epoch, the copies
    /// spread over the ranks (timm's RepeatAugSampler); 0 is off [default: 0]
    #[arg(long, value_name = "N")]
    pub aug_repeats: Option<f64>,
}

/// `--dist-backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DistBackend {
    Auto,
    Gloo,
    Nccl,
}

/// `--dist-bn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DistBn {
    Reduce,
    Broadcast,
    None,
}

impl DistBn {
    fn name(self) -> &'static str {
        match self {
            DistBn::Reduce => "reduce",
            DistBn::Broadcast => "broadcast",
            DistBn::None => "none",
        }
    }
}

/// timm's `--lr-base` and `--lr-base-size`, for models the registry gives no LR.
const LR_BASE: f64 = 0.1;
const LR_BASE_SIZE: f64 = 256.0;

/// The peak LR without `--lr`: timm's train.py rule (`--lr-base` times the
/// global batch over `--lr-base-size`, square root of that ratio for
/// adaptive optimizers) when any `--lr-base*` flag is given or the optimizer
/// is not SGD; else, as before, the registry's LR scaled by batch size.
/// Printed on stderr as timm logs it.
fn resolve_lr(
    args: &TrainArgs,
    spec: &ModelSpec,
    global_batch: usize,
    opt: &str,
    ui: &crate::ui::Ui,
) -> Result<f64> {
    if let Some(lr) = args.lr {
        return Ok(lr);
    }
    let timm_rule = args.lr_base.is_some()
        || args.lr_base_size.is_some()
        || args.lr_base_scale.is_some()
        || !matches!(opt, "sgd" | "momentum");
    if !timm_rule {
        return Ok(default_lr(spec, global_batch));
    }
    let base = args.lr_base.unwrap_or(LR_BASE);
    let size = args.lr_base_size.map_or(LR_BASE_SIZE, |n| n as f64);
    if size <= 0.0 {
        return Err(error::usage("--lr-base-size must be positive"));
    }
    let scale = match args.lr_base_scale.as_deref() {
        None | Some("") if crate::train::optim::sqrt_lr_scaling(opt) => "sqrt",
        None | Some("") => "linear",
        Some(s @ ("sqrt" | "linear")) => s,
        Some(other) => {
            return Err(error::usage(format!(
                "--lr-base-scale {other}: linear or sqrt"
            )))
        }
    };
    let mut ratio = global_batch as f64 / size;
    if scale == "sqrt" {
        ratio = ratio.sqrt();
    }
    let lr = base * ratio;
    ui.info(format!(
        "Learning rate ({lr}) calculated from base learning rate ({base}) and effective \
         global batch size ({global_batch}) with {scale} scaling."
    ));
    Ok(lr)
}

/// The default peak LR: the registry's scaled linearly by batch size.
pub fn default_lr(spec: &ModelSpec, batch_size: usize) -> f64 {
    match (spec.metadata.lr, spec.metadata.batch_size) {
        (Some(lr), Some(b)) if b > 0 => lr * batch_size as f64 / b as f64,
        _ => LR_BASE * batch_size as f64 / LR_BASE_SIZE,
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The settings of a new run over `world` processes.
fn new_config(args: &TrainArgs, ctx: &Context, world: usize) -> Result<TrainConfig> {
    // clap requires both unless --config gives them (or --resume, not here).
    let missing = |what: &str| {
        error::usage(format!(
            "{what} is required: give it, or a --config file with its timm key"
        ))
    };
    let model = args
        .model
        .clone()
        .ok_or_else(|| missing("--model (timm's model)"))?;
    let spec = ctx.registry.get(&model)?;
    let data = args
        .data
        .clone()
        .ok_or_else(|| missing("--data (timm's data_dir)"))?;
    let batch_size = args.batch_size.unwrap_or(64);
    let opt = optimizer_name(args)?;
    let init = if args.pretrained || args.weights.is_some() {
        let path = store::resolve_weights(&ctx.cache, spec, args.weights.as_deref())?;
        absolute(&path).display().to_string()
    } else {
        "scratch".to_string()
    };
    let layer_scale_set = args.layer_decay_min_scale.is_some_and(|v| v != 0.0)
        || args.layer_decay_no_opt_scale.is_some_and(|v| v != 0.0);
    if args.layer_decay.is_none() && layer_scale_set {
        ctx.ui.warn(
            "--layer-decay-min-scale and --layer-decay-no-opt-scale act only with \
             --layer-decay (as in timm): ignored",
        );
    }
    let mut cfg = TrainConfig {
        model,
        data: absolute(&data),
        val_data: args.val_data.as_deref().map(absolute),
        val_split: args.val_split,
        num_classes: args.num_classes.unwrap_or(0),
        init,
        epochs: args.epochs.unwrap_or(10),
        batch_size,
        // timm scales by the global batch: every process's batch together.
        lr: resolve_lr(args, spec, batch_size * world, &opt, &ctx.ui)?,
        momentum: args.momentum.unwrap_or(0.9),
        nesterov: opt == "sgd",
        weight_decay: args.weight_decay.unwrap_or(1e-4),
        opt: opt.clone(),
        opt_eps: args.opt_eps,
        opt_betas: args.opt_betas.clone(),
        layer_decay: args.layer_decay,
        layer_decay_min_scale: args.layer_decay_min_scale.unwrap_or(0.0),
        layer_decay_no_opt_scale: args.layer_decay_no_opt_scale,
        sched: args.schedule.sched.unwrap_or(SchedKind::Cosine),
        warmup_epochs: args.schedule.warmup_epochs.unwrap_or(0),
        warmup_lr: args.schedule.warmup_lr.unwrap_or(1e-5),
        min_lr: args.schedule.min_lr.unwrap_or(0.0),
        decay_epochs: args.schedule.decay_epochs.unwrap_or(90.0),
        decay_rate: args.schedule.decay_rate.unwrap_or(0.1),
        // timm's train.py defaults (`--sched-on-updates` off).
        sched_on_updates: args.schedule.sched_on_updates,
        decay_milestones: args
            .schedule
            .decay_milestones
            .clone()
            .unwrap_or_else(|| vec![90, 180, 270]),
        warmup_prefix: args.schedule.warmup_prefix,
        cooldown_epochs: args.schedule.cooldown_epochs.unwrap_or(0),
        patience_epochs: args.schedule.patience_epochs.unwrap_or(10),
        lr_cycle_mul: args.schedule.lr_cycle_mul.unwrap_or(1.0),
        lr_cycle_decay: args.schedule.lr_cycle_decay.unwrap_or(0.5),
        lr_cycle_limit: args.schedule.lr_cycle_limit.unwrap_or(1),
        lr_k_decay: args.schedule.lr_k_decay.unwrap_or(1.0),
        lr_noise: args.schedule.lr_noise.clone(),
        lr_noise_pct: args.schedule.lr_noise_pct.unwrap_or(0.67),
        lr_noise_std: args.schedule.lr_noise_std.unwrap_or(1.0),
        label_smoothing: args.label_smoothing.unwrap_or(0.1),
        img_size: args.img_size.unwrap_or(spec.preprocess.image_size),
        crop_pct: args.crop_pct.unwrap_or(spec.preprocess.crop_pct),
        amp: args.amp.clone().unwrap_or_else(|| "f32".into()),
        channels_last: args.channels_last,
        device: args.device.clone().unwrap_or_else(|| "auto".into()),
        seed: args.seed.unwrap_or(42),
        workers: args.workers.unwrap_or(2),
        strict: args.strict,
        world_size: world,
        dist_bn: args.dist_bn.unwrap_or(DistBn::Reduce).name().into(),
        sync_bn: args.sync_bn,
        jsd_loss: args.splits.jsd_loss,
        aug_repeats: args.splits.aug_repeats.unwrap_or(0.0),
        ..TrainConfig::default()
    };
    args.augment.apply(&mut cfg);
    args.mixup.apply(&mut cfg);
    args.ema.apply(&mut cfg)?;
    args.reg.apply(&mut cfg);
    Ok(cfg)
}

/// Records `--{name} {given}` in `fixed` when it was given and differs from
/// what the checkpoint holds (compared as values: `0` and `0.0` are equal).
/// `--opt` (or `--nesterov`, its alias for `sgd`), lower-cased and checked.
fn optimizer_name(args: &TrainArgs) -> Result<String> {
    let name = match (&args.opt, args.nesterov) {
        (Some(o), true) if o.to_lowercase() != "sgd" && o.to_lowercase() != "nesterov" => {
            return Err(error::usage(format!(
                "--nesterov is --opt sgd; it cannot go with --opt {o}"
            )))
        }
        (Some(o), _) => o.to_lowercase(),
        (None, true) => "sgd".into(),
        (None, false) => "momentum".into(),
    };
    let name = if name == "nesterov" {
        "sgd".into()
    } else {
        name
    };
    if !crate::train::optim::NAMES.contains(&name.as_str()) {
        return Err(error::usage(format!(
            "--opt {name}: not an optimizer dpn has (one of {})",
            crate::train::optim::NAMES.join(", ")
        )));
    }
    Ok(name)
}

fn differs<T: PartialEq + std::fmt::Display>(
    fixed: &mut Vec<String>,
    name: &str,
    given: Option<T>,
    kept: T,
) {
    if let Some(g) = given.filter(|g| *g != kept) {
        fixed.push(format!("--{name} {g} (the checkpoint has {kept})"));
    }
}

/// An optional setting in a `--resume` message: its value, or "none".
#[derive(PartialEq)]
struct Opt(Option<f64>);

impl Opt {
    fn some(v: f64) -> Opt {
        Opt(Some(v))
    }
}

impl std::fmt::Display for Opt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("none"),
        }
    }
}

/// The checkpoint's settings, with the few that may change taken from the
/// command line; any other setting given must equal the checkpoint's.
fn resumed_config(args: &TrainArgs, saved: &TrainConfig) -> Result<TrainConfig> {
    let mut cfg = saved.clone();
    if let Some(m) = &args.model {
        if *m != saved.model {
            return Err(error::bad_input(format!(
                "the checkpoint to resume is of model {}, not {m}",
                saved.model
            )));
        }
    }
    if args.pretrained || args.weights.is_some() {
        return Err(error::usage(
            "--resume continues from its checkpoint's weights; drop --pretrained/--weights",
        ));
    }
    if let Some(d) = &args.data {
        cfg.data = absolute(d);
    }
    if let Some(d) = &args.val_data {
        cfg.val_data = Some(absolute(d));
    }
    if let Some(e) = args.epochs {
        cfg.epochs = e;
    }
    if let Some(w) = args.workers {
        cfg.workers = w;
    }
    if let Some(d) = &args.device {
        cfg.device = d.clone();
    }
    cfg.strict = args.strict || saved.strict;
    let mut fixed: Vec<String> = Vec::new();
    differs(
        &mut fixed,
        "val-split",
        args.val_split,
        saved.val_split.unwrap_or(0.0),
    );
    differs(
        &mut fixed,
        "num-classes",
        args.num_classes,
        saved.num_classes,
    );
    differs(&mut fixed, "batch-size", args.batch_size, saved.batch_size);
    fixed_schedule(args, saved, &mut fixed);
    args.reg.fixed(saved, &mut fixed);
    fixed_augment(args, saved, &mut fixed);
    fixed_optimizer(args, saved, &mut fixed)?;
    if args.augment.scale.is_some() && pair(&args.augment.scale, saved.scale) != saved.scale {
        fixed.push("--scale".into());
    }
    if args.augment.ratio.is_some() && pair(&args.augment.ratio, saved.ratio) != saved.ratio {
        fixed.push("--ratio".into());
    }
    args.ema.resume(&mut cfg, &mut fixed);
    if !fixed.is_empty() {
        return Err(error::usage(format!(
            "--resume keeps the checkpoint's settings; cannot change {}",
            fixed.join(", ")
        )));
    }
    Ok(cfg)
}

/// The schedule settings of a `--resume` that differ from the checkpoint's.
fn fixed_schedule(args: &TrainArgs, saved: &TrainConfig, fixed: &mut Vec<String>) {
    differs(fixed, "lr", args.lr, saved.lr);
    differs(fixed, "momentum", args.momentum, saved.momentum);
    differs(fixed, "weight-decay", args.weight_decay, saved.weight_decay);
    differs(fixed, "sched", args.schedule.sched, saved.sched);
    differs(
        fixed,
        "warmup-epochs",
        args.schedule.warmup_epochs,
        saved.warmup_epochs,
    );
    differs(fixed, "warmup-lr", args.schedule.warmup_lr, saved.warmup_lr);
    differs(fixed, "min-lr", args.schedule.min_lr, saved.min_lr);
    differs(
        fixed,
        "decay-epochs",
        args.schedule.decay_epochs,
        saved.decay_epochs,
    );
    differs(
        fixed,
        "decay-rate",
        args.schedule.decay_rate,
        saved.decay_rate,
    );
    differs(
        fixed,
        "decay-milestones",
        args.schedule.decay_milestones.as_deref().map(list),
        list(&saved.decay_milestones),
    );
    differs(
        fixed,
        "cooldown-epochs",
        args.schedule.cooldown_epochs,
        saved.cooldown_epochs,
    );
    differs(
        fixed,
        "patience-epochs",
        args.schedule.patience_epochs,
        saved.patience_epochs,
    );
    differs(
        fixed,
        "lr-cycle-mul",
        args.schedule.lr_cycle_mul,
        saved.lr_cycle_mul,
    );
    differs(
        fixed,
        "lr-cycle-decay",
        args.schedule.lr_cycle_decay,
        saved.lr_cycle_decay,
    );
    differs(
        fixed,
        "lr-cycle-limit",
        args.schedule.lr_cycle_limit,
        saved.lr_cycle_limit,
    );
    differs(
        fixed,
        "lr-k-decay",
        args.schedule.lr_k_decay,
        saved.lr_k_decay,
    );
    differs(
        fixed,
        "lr-noise",
        args.schedule.lr_noise.as_deref().map(list),
        saved.lr_noise.as_deref().map_or("none".into(), list),
    );
    differs(
        fixed,
        "lr-noise-pct",
        args.schedule.lr_noise_pct,
        saved.lr_noise_pct,
    );
    differs(
        fixed,
        "lr-noise-std",
        args.schedule.lr_noise_std,
        saved.lr_noise_std,
    );
    if args.schedule.sched_on_updates && !saved.sched_on_updates {
        fixed.push("--sched-on-updates (the checkpoint steps the schedule per epoch)".into());
    }
    if args.schedule.warmup_prefix && !saved.warmup_prefix {
        fixed.push("--warmup-prefix (the checkpoint counts the warmup in --epochs)".into());
    }
    differs(
        fixed,
        "label-smoothing",
        args.label_smoothing,
        saved.label_smoothing,
    );
}

/// The data and augmentation settings of a `--resume` that differ from the checkpoint's.
fn fixed_augment(args: &TrainArgs, saved: &TrainConfig, fixed: &mut Vec<String>) {
    differs(fixed, "img-size", args.img_size, saved.img_size);
    differs(fixed, "hflip", args.augment.hflip, saved.hflip);
    differs(fixed, "crop-pct", args.crop_pct, saved.crop_pct);
    differs(fixed, "amp", args.amp.clone(), saved.amp.clone());
    differs(fixed, "seed", args.seed, saved.seed);
    differs(
        fixed,
        "dist-bn",
        args.dist_bn.map(|d| d.name().to_string()),
        saved.dist_bn.clone(),
    );
    differs(fixed, "reprob", args.augment.reprob, saved.reprob);
    differs(
        fixed,
        "remode",
        args.augment.remode.as_deref().map(str::to_ascii_lowercase),
        saved.remode.clone(),
    );
    differs(fixed, "recount", args.augment.recount, saved.recount);
    differs(fixed, "vflip", args.augment.vflip, saved.vflip);
    differs(
        fixed,
        "grayscale-prob",
        args.augment.grayscale_prob,
        saved.grayscale_prob,
    );
    differs(
        fixed,
        "color-jitter",
        args.augment.color_jitter,
        saved.color_jitter,
    );
    if let Some(p) = args
        .augment
        .color_jitter_prob
        .filter(|p| Some(*p) != saved.color_jitter_prob)
    {
        fixed.push(format!(
            "--color-jitter-prob {p} (the checkpoint has {})",
            saved
                .color_jitter_prob
                .map_or("none".to_string(), |v| v.to_string())
        ));
    }
    if args.augment.resplit && !saved.resplit {
        fixed.push("--resplit (the checkpoint ran without it)".into());
    }
    if let Some(aa) = args
        .augment
        .aa
        .as_ref()
        .filter(|a| Some(*a) != saved.aa.as_ref())
    {
        fixed.push(format!(
            "--aa {aa} (the checkpoint has {})",
            saved.aa.as_deref().unwrap_or("none")
        ));
    }
    if let Some(ti) = args
        .augment
        .train_interpolation
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        if Some(&ti) != saved.train_interpolation.as_ref() {
            fixed.push(format!(
                "--train-interpolation {ti} (the checkpoint has {})",
                saved
                    .train_interpolation
                    .as_deref()
                    .unwrap_or("the model's eval interpolation")
            ));
        }
    }
    fixed_mixup(args, saved, fixed);
}

/// The mixup, cutmix and split settings of a `--resume` that differ from the checkpoint's.
fn fixed_mixup(args: &TrainArgs, saved: &TrainConfig, fixed: &mut Vec<String>) {
    let mx = &args.mixup;
    differs(fixed, "mixup", mx.mixup, saved.mixup);
    differs(fixed, "cutmix", mx.cutmix, saved.cutmix);
    if let Some((lo, hi)) = mx.minmax().filter(|m| Some(*m) != saved.cutmix_minmax) {
        fixed.push(match saved.cutmix_minmax {
            Some((a, b)) => format!("--cutmix-minmax {lo} {hi} (the checkpoint has {a} {b})"),
            None => format!("--cutmix-minmax {lo} {hi} (the checkpoint has none)"),
        });
    }
    differs(fixed, "mixup-prob", mx.mixup_prob, saved.mixup_prob);
    differs(
        fixed,
        "mixup-switch-prob",
        mx.mixup_switch_prob,
        saved.mixup_switch_prob,
    );
    differs(
        fixed,
        "mixup-mode",
        mx.mixup_mode.clone(),
        saved.mixup_mode.clone(),
    );
    differs(
        fixed,
        "mixup-off-epoch",
        mx.mixup_off_epoch,
        saved.mixup_off_epoch,
    );
    differs(
        fixed,
        "gaussian-blur-prob",
        args.augment.gaussian_blur_prob,
        saved.gaussian_blur_prob,
    );
    differs(
        fixed,
        "aug-splits",
        args.augment.aug_splits,
        saved.aug_splits,
    );
    differs(
        fixed,
        "aug-repeats",
        args.splits.aug_repeats,
        saved.aug_repeats,
    );
    if args.splits.jsd_loss && !saved.jsd_loss {
        fixed.push("--jsd-loss (the checkpoint ran without it)".into());
    }
}

/// The optimizer and layout settings of a `--resume` that differ from the checkpoint's.
fn fixed_optimizer(args: &TrainArgs, saved: &TrainConfig, fixed: &mut Vec<String>) -> Result<()> {
    if args.opt.is_some() || args.nesterov {
        let given = optimizer_name(args)?;
        if given != saved.optimizer() {
            fixed.push(format!(
                "--opt {given} (the checkpoint has {})",
                saved.optimizer()
            ));
        }
    }
    differs(
        fixed,
        "opt-eps",
        args.opt_eps.map(Opt::some),
        Opt(saved.opt_eps),
    );
    if let Some(b) = args
        .opt_betas
        .as_ref()
        .filter(|b| Some(*b) != saved.opt_betas.as_ref())
    {
        let kept = saved
            .opt_betas
            .as_ref()
            .map_or("none".into(), |k| format!("{k:?}"));
        fixed.push(format!("--opt-betas {b:?} (the checkpoint has {kept})"));
    }
    differs(
        fixed,
        "layer-decay",
        args.layer_decay.map(Opt::some),
        Opt(saved.layer_decay),
    );
    differs(
        fixed,
        "layer-decay-min-scale",
        args.layer_decay_min_scale,
        saved.layer_decay_min_scale,
    );
    differs(
        fixed,
        "layer-decay-no-opt-scale",
        args.layer_decay_no_opt_scale.map(Opt::some),
        Opt(saved.layer_decay_no_opt_scale),
    );
    if args.sync_bn && !saved.sync_bn {
        fixed.push("--sync-bn (the checkpoint ran without it)".into());
    }
    if args.channels_last && !saved.channels_last {
        fixed.push("--channels-last (the checkpoint ran NCHW)".into());
    }
    Ok(())
}

/// A list flag's values as given on the command line (commas).
fn list<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

/// The schedule flags, where timm's schedulers would fail, loop or divide
/// by zero (timm/scheduler/*.py).
fn check_schedule(cfg: &TrainConfig) -> Result<()> {
    let bad = |m: String| Err(error::usage(m));
    let finite_min = |name: &str, v: f64, min: f64, strict: bool| -> Result<()> {
        if !v.is_finite() || v < min || (strict && v == min) {
            let op = if strict { ">" } else { ">=" };
            return Err(error::usage(format!("--{name} {v} must be {op} {min}")));
        }
        Ok(())
    };
    finite_min("warmup-lr", cfg.warmup_lr, 0.0, false)?;
    finite_min("min-lr", cfg.min_lr, 0.0, false)?;
    finite_min("decay-epochs", cfg.decay_epochs, 0.0, true)?;
    finite_min("decay-rate", cfg.decay_rate, 0.0, false)?;
    finite_min("lr-cycle-mul", cfg.lr_cycle_mul, 0.0, true)?;
    finite_min("lr-cycle-decay", cfg.lr_cycle_decay, 0.0, false)?;
    finite_min("lr-k-decay", cfg.lr_k_decay, 0.0, true)?;
    finite_min("lr-noise-std", cfg.lr_noise_std, 0.0, false)?;
    // timm redraws until |noise| < pct: a tiny bound would draw for ever.
    finite_min("lr-noise-pct", cfg.lr_noise_pct, 1e-3, false)?;
    if cfg.lr_cycle_limit == 0 {
        return bad("--lr-cycle-limit must be at least 1".into());
    }
    if cfg.decay_milestones.windows(2).any(|w| w[0] > w[1]) {
        return bad(format!(
            "--decay-milestones {} must be in ascending order",
            list(&cfg.decay_milestones)
        ));
    }
    if let Some(n) = &cfg.lr_noise {
        if n.is_empty() || n.len() > 2 || n.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return bad(format!(
                "--lr-noise {} must be one or two fractions of --epochs, each >= 0",
                list(n)
            ));
        }
    }
    if cfg.sched == SchedKind::Plateau {
        if cfg.sched_on_updates {
            return bad(
                "--sched plateau steps at epoch ends on the validation's --eval-metric; drop \
                 --sched-on-updates"
                    .into(),
            );
        }
        if cfg.decay_rate >= 1.0 {
            return bad(format!(
                "--decay-rate {} must be below 1 for --sched plateau",
                cfg.decay_rate
            ));
        }
        if cfg.val_data.is_none() && cfg.val_split.is_none_or(|f| f == 0.0) {
            return bad(
                "--sched plateau decays on the validation's --eval-metric: add --val-data or --val-split"
                    .into(),
            );
        }
    }
    Ok(())
}

fn check_config(cfg: &TrainConfig) -> Result<()> {
    let bad = |m: String| Err(error::usage(m));
    if cfg.batch_size < 2 {
        return bad(format!(
            "--batch-size {} is too small: BatchNorm needs at least 2 images per batch",
            cfg.batch_size
        ));
    }
    if cfg.epochs == 0 {
        return bad("--epochs must be at least 1".into());
    }
    let max_classes = crate::arch::limits::MAX_NUM_CLASSES;
    if cfg.num_classes > max_classes {
        return bad(format!(
            "--num-classes {} is more than the {max_classes} classes dpn accepts",
            cfg.num_classes
        ));
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return bad(format!("--lr {} must be positive", cfg.lr));
    }
    if !(0.0..1.0).contains(&cfg.momentum) {
        return bad(format!("--momentum {} must be in [0, 1)", cfg.momentum));
    }
    if cfg.weight_decay.is_nan() || cfg.weight_decay < 0.0 {
        return bad(format!("--weight-decay {} must be >= 0", cfg.weight_decay));
    }
    if let Some(d) = cfg.layer_decay {
        if !(d.is_finite() && d > 0.0) {
            return bad(format!("--layer-decay {d} must be positive"));
        }
    }
    let s = cfg.layer_decay_min_scale;
    if !(s.is_finite() && s >= 0.0) {
        return bad(format!("--layer-decay-min-scale {s} must be >= 0"));
    }
    if let Some(s) = cfg.layer_decay_no_opt_scale {
        if !(s.is_finite() && s >= 0.0) {
            return bad(format!("--layer-decay-no-opt-scale {s} must be >= 0"));
        }
        // The classifier's layer has the largest scale, max(min scale, 1).
        let top = cfg.layer_decay_min_scale.max(1.0);
        if cfg.layer_decay.is_some() && s > top {
            return bad(format!(
                "--layer-decay-no-opt-scale {s} would freeze every layer (the top one's LR \
                 scale is {top}): give a value at most {top}"
            ));
        }
    }
    if !(0.0..1.0).contains(&cfg.label_smoothing) {
        return bad(format!(
            "--label-smoothing {} must be in [0, 1)",
            cfg.label_smoothing
        ));
    }
    crate::train::clip::ClipMode::parse(cfg.clip_mode())
        .map_err(|e| error::usage(e.to_string()))?;
    if cfg.grad_accum_steps == 0 {
        return bad("--grad-accum-steps must be at least 1".into());
    }
    if !(0.0..1.0).contains(&cfg.drop) {
        return bad(format!("--drop {} must be in [0, 1)", cfg.drop));
    }
    if let Some(v) = cfg.clip_grad {
        if !(v.is_finite() && v > 0.0) {
            return bad(format!("--clip-grad {v} must be positive"));
        }
    }
    if let Some(w) = cfg.bce_pos_weight {
        if !(w.is_finite() && w > 0.0) {
            return bad(format!("--bce-pos-weight {w} must be positive"));
        }
    }
    if cfg.bce_target_thresh.is_some_and(|t| !t.is_finite()) {
        return bad("--bce-target-thresh must be a finite number".into());
    }
    if let Some(f) = cfg.val_split {
        if !(0.0..1.0).contains(&f) {
            return bad(format!("--val-split {f} must be in [0, 1)"));
        }
    }
    crate::arch::cost::check_image_size(cfg.img_size)?;
    if !(cfg.crop_pct > 0.0 && cfg.crop_pct <= 1.0) {
        return bad(format!("--crop-pct {} must be in (0, 1]", cfg.crop_pct));
    }
    let _: crate::model::infer::Precision = cfg.amp.parse()?;
    check_schedule(cfg)?;
    super::augment_flags::check(cfg, cfg.batch_size)?;
    if cfg.jsd_loss && cfg.aug_splits < 2 {
        return bad(
            "--jsd-loss compares the --aug-splits views: add --aug-splits 2 or more".into(),
        );
    }
    if !(cfg.aug_repeats == 0.0 || (cfg.aug_repeats >= 1.0 && cfg.aug_repeats.is_finite())) {
        return bad(format!(
            "--aug-repeats {} must be 0 (off) or at least 1",
            cfg.aug_repeats
        ));
    }
    Ok(())
}

fn default_output(model: &str) -> PathBuf {
    let stamp: String = time::now_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect();
    PathBuf::from("output/train").join(format!("{model}-{stamp}"))
}

/// The run folder a `--resume PATH` continues: `--output`, else PATH when
/// it is a run folder, else the folder around the checkpoint PATH names.
fn resume_output(path: &Path, output: Option<&Path>) -> Result<PathBuf> {
    if let Some(o) = output {
        return Ok(o.to_path_buf());
    }
    let is_run = path.join(checkpoint::CHECKPOINTS_DIR).is_dir()
        || path.join(checkpoint::LAST).symlink_metadata().is_ok()
        || path.join(checkpoint::RUN_FILE).is_file();
    if is_run && !path.join(checkpoint::STATE_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    let dir = checkpoint::resolve(path)?;
    match absolute(&dir).parent() {
        Some(p)
            if p.file_name()
                .is_some_and(|n| n == checkpoint::CHECKPOINTS_DIR) =>
        {
            Ok(p.parent().unwrap_or(Path::new(".")).to_path_buf())
        }
        _ => Err(error::usage(format!(
            "{} is not inside a dpn train output folder; pass --output DIR",
            dir.display()
        ))),
    }
}

/// The settings every rank of a distributed run must share: all of
/// `cfg` but what differs by design (the rank's device, its loader threads,
/// the paths of the data and starting weights, whose contents the trainer
/// compares), and where a resumed run continues.
fn settings_fingerprint(cfg: &TrainConfig, resume: Option<&checkpoint::Loaded>) -> Fingerprint {
    let mut f = Fingerprint::new();
    f.add_fields(cfg, &["data", "val_data", "device", "workers", "init"])
        .add(
            "the starting weights",
            if cfg.init == "scratch" {
                "none (from scratch)"
            } else {
                "a file"
            },
        );
    if let Some(r) = resume {
        f.add(
            "the checkpoint resumed",
            format!("epoch {}, step {}", r.state.epoch, r.state.step_in_epoch),
        );
    }
    f
}

/// Tells the user what [`checkpoint::recover`] repaired in `output`.
fn recover(output: &Path, ui: &Ui) -> Result<()> {
    for note in checkpoint::recover(output)? {
        ui.warn(note);
    }
    Ok(())
}

/// What to train and where: the settings, the run folder and the
/// checkpoint to continue from. Rank 0 alone takes the run folder's lock,
/// repairs it and records the settings; the other ranks read what it left.
fn prepare(
    args: &TrainArgs,
    ctx: &Context,
    ui: &Ui,
    group: &Option<Rc<Group>>,
) -> Result<(
    TrainConfig,
    PathBuf,
    Option<checkpoint::Loaded>,
    Option<RunLock>,
)> {
    let world = group.as_ref().map_or(1, |g| g.world());
    let leader = group.as_ref().is_none_or(|g| g.is_leader());
    let fresh = match &args.resume {
        Some(_) => None,
        None => {
            let cfg = new_config(args, ctx, world).and_then(|cfg| {
                // Before the folder is made: a refused run leaves nothing.
                check_config(&cfg)?;
                Ok(cfg)
            });
            if let Some(g) = group {
                // Every rank's settings, compared before any rank touches the folder.
                let own = cfg.as_ref().map(|c| settings_fingerprint(c, None));
                if let Err(e) = g.agree_on(own.as_ref().map_err(|e| *e)) {
                    cfg?;
                    return Err(e);
                }
            }
            Some(cfg?)
        }
    };
    let output = match (&args.resume, &args.output, &fresh) {
        (Some(path), o, _) => resume_output(path, o.as_deref())?,
        (None, Some(o), _) => o.clone(),
        (None, None, Some(cfg)) => {
            let mine = default_output(&cfg.model);
            match group {
                // Rank 0's: the name holds the time, which the ranks differ on.
                Some(g) => {
                    let all = g.all_gather_bytes(mine.to_string_lossy().as_bytes())?;
                    PathBuf::from(String::from_utf8_lossy(&all[0]).into_owned())
                }
                None => mine,
            }
        }
        (None, None, None) => unreachable!("a new run has its settings"),
    };
    let claimed = if leader {
        (|| {
            let lock = RunLock::acquire(&output)?;
            recover(&output, ui)?;
            if fresh.is_some() && output.join(checkpoint::LAST).exists() {
                return Err(error::usage(format!(
                    "{} already holds a training run; continue it with --resume {0} or choose another --output",
                    output.display()
                )));
            }
            Ok(Some(lock))
        })()
    } else {
        Ok(None)
    };
    let lock = agree(group, claimed)?;
    let (mut cfg, resume) = match (&args.resume, fresh) {
        (_, Some(cfg)) => (cfg, None),
        (Some(path), None) => agree(group, resumed(args, path, &output, ui))?,
        (None, None) => unreachable!("a new run has its settings"),
    };
    if let (Some(g), Some(_)) = (group, &args.resume) {
        let own = settings_fingerprint(&cfg, resume.as_ref());
        g.agree_on(Ok(&own))?;
    }
    if args.resume.is_some() {
        check_config(&cfg)?;
        if cfg.world_size != world {
            ui.warn(format!(
                "the run was trained on {} processes, this one runs on {world}: the data order \
                 changes from here on, and the global batch is now {} images",
                cfg.world_size,
                cfg.batch_size * world
            ));
            cfg.world_size = world;
        }
    }
    let saved = if leader && args.resume.is_none() {
        checkpoint::save_run_config(&output, &cfg)
    } else {
        Ok(())
    };
    agree(group, saved)?;
    Ok((cfg, output, resume, lock))
}

/// The settings and checkpoint that `--resume PATH` continues.
fn resumed(
    args: &TrainArgs,
    path: &Path,
    output: &Path,
    ui: &Ui,
) -> Result<(TrainConfig, Option<checkpoint::Loaded>)> {
    let scratch = absolute(path) == absolute(output)
        && output.join(checkpoint::LAST).symlink_metadata().is_err();
    match checkpoint::load_run_config(output)?.filter(|_| scratch) {
        Some(saved) => {
            // Killed before its first checkpoint: nothing to continue.
            let cfg = resumed_config(args, &saved)?;
            ui.warn(format!(
                "{} holds no complete checkpoint (the run stopped before its first); \
                 starting it again from scratch with its recorded settings",
                output.display()
            ));
            Ok((cfg, None))
        }
        None => {
            let dir = checkpoint::resolve(path)?;
            let loaded = checkpoint::load(&dir)?;
            let cfg = resumed_config(args, &loaded.state.config)?;
            ui.info(format!(
                "resuming {} from {} (epoch {}, step {})",
                cfg.model,
                absolute(&dir).display(),
                loaded.state.epoch,
                loaded.state.step_in_epoch
            ));
            Ok((cfg, Some(loaded)))
        }
    }
}

/// The process group when a launcher started this process (a world of one
/// only with an explicit `--dist-backend`), over the backend that
/// `--dist-backend` and this rank's device choose.
fn join(args: &TrainArgs, ctx: &Context) -> Result<Option<Rc<Group>>> {
    let launch = match args.dist_backend {
        Some(_) => dist::Launch::from_env_any()?,
        None => dist::Launch::from_env()?,
    };
    let Some(launch) = launch else {
        if args.dist_backend.is_some() {
            ctx.ui.warn(
                "--dist-backend has no effect: no launcher (torchrun or srun) started this process",
            );
        }
        return Ok(None);
    };
    let device = launch.device(args.device.as_deref().unwrap_or("auto"))?;
    let backend = match args.dist_backend.unwrap_or(DistBackend::Auto) {
        DistBackend::Auto => dist::Backend::for_device(device),
        DistBackend::Gloo => dist::Backend::Gloo,
        DistBackend::Nccl if device == tch::Device::Cpu => {
            return Err(error::usage(format!(
                "rank {}: --dist-backend nccl needs a CUDA device, and this rank runs on the \
                 CPU; use --dist-backend gloo, or --device cuda",
                launch.rank
            )))
        }
        DistBackend::Nccl => dist::Backend::Nccl,
    };
    if backend == dist::Backend::Nccl && !dist::has_nccl() {
        return Err(error::usage(format!(
            "rank {}: this dpn was built without NCCL (build.rs found no CUDA headers); \
             rebuild it after scripts/setup.sh, or pass --dist-backend gloo",
            launch.rank
        )));
    }
    let timeout = Duration::from_secs(args.dist_timeout.max(1));
    dist::join(&launch, timeout, Some(backend)).map(Some)
}

pub fn run(args: TrainArgs, ctx: &Context) -> Result<()> {
    let group = join(&args, ctx)?;
    let leader = group.as_ref().is_none_or(|g| g.is_leader());
    // Rank 0 speaks for the run; the others only report their errors.
    let ui = if leader { ctx.ui } else { ctx.ui.silent() };
    if let Some(g) = &group {
        ui.info(format!(
            "distributed: {} process{}, rank 0 writes the run ({}, --dist-timeout {} s)",
            g.world(),
            if g.world() == 1 { "" } else { "es" },
            g.backend().name(),
            args.dist_timeout
        ));
    }
    let (cfg, output, resume, _lock) = prepare(&args, ctx, &ui, &group)?;
    // The loader uses no more than the cap; say so once, here.
    super::common::workers(cfg.workers, &ui);

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once (exit code 130).
        signal_hook::flag::register_conditional_shutdown(
            sig,
            error::Exit::Interrupted.code(),
            stop.clone(),
        )
        .context("installing signal handlers")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    ui.info(format!("writing to {}", output.display()));
    let outcome = trainer::train(
        cfg,
        &output,
        resume,
        &Env {
            registry: &ctx.registry,
            ui: &ui,
            stop,
            group: group.clone(),
        },
    )?;
    if !leader {
        return Ok(());
    }
    ui.info(format!(
        "last checkpoint: {}{}",
        outcome.last.display(),
        outcome
            .best
            .as_ref()
            .map(|b| format!(", best: {}", b.display()))
            .unwrap_or_default()
    ));
    crate::train::logs::metrics_table(&outcome.history).print(args.format)
}
