//! timm's `args.yaml` both ways (issue 27): `dpn train --config FILE` reads
//! the YAML that timm's `train.py -c` reads and writes, and every run writes
//! its own `args.yaml`, in timm's keys, so that `train.py -c args.yaml` runs
//! the same recipe.
//!
//! The keys are `train.py`'s argparse names; `timm_train_args.yaml` beside
//! this file holds each with the default `train.py` gives it (data, written
//! from timm's train.py). [`ACTIONS`] says what dpn does with each: applied as
//! a `dpn train` flag with timm's meaning, accepted at its "off" value for a
//! feature dpn lacks, accepted at any value because it does not change what
//! is computed (logging, loaders, compilers), or read with other keys (data
//! paths, AMP, input size, output folder). Anything else is refused by name.
//!
//! With `--config`, a key the file leaves out takes timm's default, not
//! dpn's: the file means what it means to `train.py`. Only the machine,
//! the folders and the model (`device`, `workers`, `output`, `model`) keep
//! dpn's defaults when absent, since timm's (`cuda`, 4 workers, `resnet50`)
//! describe another machine or model, not the recipe.
//! Command-line flags override the file (timm's `parser.set_defaults` order).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::config::TrainConfig;

/// timm's `train.py` keys and defaults, in its order.
const DEFAULTS: &str = include_str!("timm_train_args.yaml");

/// What dpn does with a timm key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    /// Applied as this `dpn train` option, with timm's meaning.
    Flag(&'static str),
    /// A timm switch (`store_true`): `true` gives this `dpn train` switch.
    Switch(&'static str),
    /// A feature dpn does not have: accepted at timm's default (or an
    /// equivalent "off" value in the list), refused otherwise, with why.
    Off(&'static str, &'static [&'static str]),
    /// Accepted at any value: it changes how timm runs, not what it computes.
    Ignored(&'static str),
    /// Read with other keys (data paths, AMP, input size, output folder).
    Custom,
}

use Act::*;

const DPN_HAS_NO_DROP_PATH: &str = "timm's DPN has no drop-path or drop-block";

/// Every `train.py` key (and a few that older timm versions wrote), with
/// dpn's answer. README's "timm's train.py arguments" table says the same.
pub const ACTIONS: &[(&str, Act)] = &[
    // Dataset.
    ("data", Custom),
    ("data_dir", Custom),
    (
        "dataset",
        Off(
            "dpn reads image folders (timm's default dataset)",
            &["folder", "image_folder"],
        ),
    ),
    ("train_split", Custom),
    ("val_split", Custom),
    (
        "train_num_samples",
        Off("only for timm's iterable datasets", &[]),
    ),
    (
        "val_num_samples",
        Off("only for timm's iterable datasets", &[]),
    ),
    (
        "dataset_download",
        Off("dpn reads image folders; nothing is downloaded", &[]),
    ),
    (
        "class_map",
        Off("dpn's classes are the sorted folder names", &[]),
    ),
    ("input_img_mode", Off("dpn trains on RGB images", &["RGB"])),
    (
        "input_key",
        Ignored("read by timm's Hugging Face datasets only"),
    ),
    (
        "target_key",
        Ignored("read by timm's Hugging Face datasets only"),
    ),
    (
        "dataset_trust_remote_code",
        Off("dpn reads image folders", &[]),
    ),
    // Model.
    ("model", Flag("model")),
    ("pretrained", Switch("pretrained")),
    (
        "pretrained_path",
        Off("use initial_checkpoint (dpn's --weights)", &[]),
    ),
    ("initial_checkpoint", Custom),
    ("resume", Custom),
    (
        "no_resume_opt",
        Off("dpn's --resume always restores the optimizer", &[]),
    ),
    ("num_classes", Flag("num-classes")),
    ("gp", Off("a DPN pools by average", &["avg"])),
    ("img_size", Custom),
    ("in_chans", Off("dpn trains on 3-channel images", &["3"])),
    ("input_size", Custom),
    ("crop_pct", Flag("crop-pct")),
    ("mean", Off("dpn normalizes with the model's mean", &[])),
    ("std", Off("dpn normalizes with the model's std", &[])),
    (
        "interpolation",
        Off("dpn validates with the model's interpolation", &[]),
    ),
    ("batch_size", Flag("batch-size")),
    (
        "validation_batch_size",
        Ignored("dpn validates with --batch-size; results do not depend on it"),
    ),
    ("channels_last", Switch("channels-last")),
    ("fuser", Ignored("a TorchScript setting")),
    ("grad_accum_steps", Flag("grad-accum-steps")),
    (
        "grad_checkpointing",
        Off("dpn keeps activations in memory", &[]),
    ),
    (
        "fast_norm",
        Ignored("a DPN has no LayerNorm or GroupNorm for it to change"),
    ),
    (
        "model_kwargs",
        Off("dpn builds the registry's architecture", &[]),
    ),
    (
        "head_init_scale",
        Off("dpn initializes the head as timm's default", &[]),
    ),
    (
        "head_init_bias",
        Off("dpn initializes the head as timm's default", &[]),
    ),
    (
        "torchcompile_mode",
        Ignored("a torch.compile setting; dpn runs libtorch directly"),
    ),
    ("torchscript", Ignored("dpn runs libtorch directly")),
    ("torchcompile", Ignored("dpn runs libtorch directly")),
    ("device", Custom),
    ("amp", Custom),
    ("amp_dtype", Custom),
    (
        "model_dtype",
        Off("dpn trains in float32 (with --amp, mixed)", &["float32"]),
    ),
    (
        "no_ddp_bb",
        Ignored("a DistributedDataParallel buffer setting"),
    ),
    ("synchronize_step", Ignored("a timing setting")),
    ("local_rank", Ignored("set by the launcher")),
    ("device_modules", Off("dpn runs on CPU or CUDA", &[])),
    // Optimizer.
    ("opt", Flag("opt")),
    ("opt_eps", Flag("opt-eps")),
    ("opt_betas", Flag("opt-betas")),
    ("momentum", Flag("momentum")),
    ("weight_decay", Flag("weight-decay")),
    ("clip_grad", Flag("clip-grad")),
    ("clip_mode", Flag("clip-mode")),
    ("layer_decay", Flag("layer-decay")),
    ("layer_decay_min_scale", Flag("layer-decay-min-scale")),
    ("layer_decay_no_opt_scale", Flag("layer-decay-no-opt-scale")),
    (
        "opt_kwargs",
        Off("dpn's optimizers take timm's defaults", &[]),
    ),
    // Schedule.
    ("sched", Flag("sched")),
    ("sched_on_updates", Switch("sched-on-updates")),
    ("lr", Flag("lr")),
    ("lr_base", Flag("lr-base")),
    ("lr_base_size", Flag("lr-base-size")),
    ("lr_base_scale", Flag("lr-base-scale")),
    ("lr_noise", Flag("lr-noise")),
    ("lr_noise_pct", Flag("lr-noise-pct")),
    ("lr_noise_std", Flag("lr-noise-std")),
    ("lr_cycle_mul", Flag("lr-cycle-mul")),
    ("lr_cycle_decay", Flag("lr-cycle-decay")),
    ("lr_cycle_limit", Flag("lr-cycle-limit")),
    ("lr_k_decay", Flag("lr-k-decay")),
    ("warmup_lr", Flag("warmup-lr")),
    ("min_lr", Flag("min-lr")),
    ("epochs", Flag("epochs")),
    (
        "epoch_repeats",
        Off("dpn's epoch is one pass (see aug_repeats)", &[]),
    ),
    (
        "start_epoch",
        Off("dpn's --resume continues at the checkpoint's epoch", &[]),
    ),
    ("decay_milestones", Flag("decay-milestones")),
    ("decay_epochs", Flag("decay-epochs")),
    ("warmup_epochs", Flag("warmup-epochs")),
    ("warmup_prefix", Switch("warmup-prefix")),
    ("cooldown_epochs", Flag("cooldown-epochs")),
    ("patience_epochs", Flag("patience-epochs")),
    ("decay_rate", Flag("decay-rate")),
    // Augmentation and regularization.
    (
        "no_aug",
        Off("dpn always augments its training images", &[]),
    ),
    (
        "train_crop_mode",
        Off("dpn crops as RandomResizedCrop", &["rrc"]),
    ),
    ("scale", Flag("scale")),
    ("ratio", Flag("ratio")),
    ("hflip", Flag("hflip")),
    ("vflip", Flag("vflip")),
    ("color_jitter", Flag("color-jitter")),
    ("color_jitter_prob", Flag("color-jitter-prob")),
    ("grayscale_prob", Flag("grayscale-prob")),
    ("gaussian_blur_prob", Flag("gaussian-blur-prob")),
    ("aa", Flag("aa")),
    ("aug_repeats", Flag("aug-repeats")),
    ("aug_splits", Flag("aug-splits")),
    ("jsd_loss", Switch("jsd-loss")),
    ("bce_loss", Switch("bce-loss")),
    ("bce_sum", Switch("bce-sum")),
    ("bce_target_thresh", Flag("bce-target-thresh")),
    ("bce_pos_weight", Flag("bce-pos-weight")),
    ("reprob", Flag("reprob")),
    ("remode", Flag("remode")),
    ("recount", Flag("recount")),
    ("resplit", Switch("resplit")),
    ("mixup", Flag("mixup")),
    ("cutmix", Flag("cutmix")),
    ("cutmix_minmax", Flag("cutmix-minmax")),
    ("mixup_prob", Flag("mixup-prob")),
    ("mixup_switch_prob", Flag("mixup-switch-prob")),
    ("mixup_mode", Flag("mixup-mode")),
    ("mixup_off_epoch", Flag("mixup-off-epoch")),
    ("smoothing", Flag("label-smoothing")),
    ("train_interpolation", Flag("train-interpolation")),
    ("drop", Flag("drop")),
    ("drop_connect", Off(DPN_HAS_NO_DROP_PATH, &["0", "0.0"])),
    ("drop_path", Off(DPN_HAS_NO_DROP_PATH, &["0", "0.0"])),
    ("drop_block", Off(DPN_HAS_NO_DROP_PATH, &["0", "0.0"])),
    (
        "bn_momentum",
        Off("dpn keeps BatchNorm's momentum (0.1)", &[]),
    ),
    (
        "bn_eps",
        Off("dpn keeps the model's BatchNorm eps (0.001)", &[]),
    ),
    ("sync_bn", Switch("sync-bn")),
    ("dist_bn", Custom),
    ("split_bn", Off("dpn has no split BatchNorm", &[])),
    // EMA.
    ("model_ema", Switch("model-ema")),
    ("model_ema_force_cpu", Switch("model-ema-force-cpu")),
    ("model_ema_decay", Flag("model-ema-decay")),
    ("model_ema_warmup", Switch("model-ema-warmup")),
    // Misc.
    ("seed", Flag("seed")),
    (
        "worker_seeding",
        Ignored("dpn's draws are keyed by image, not by loader worker"),
    ),
    ("log_interval", Ignored("logging")),
    ("val_interval", Off("dpn validates every epoch", &[])),
    (
        "recovery_interval",
        Off("dpn checkpoints at every epoch end and on a signal", &[]),
    ),
    ("checkpoint_hist", Flag("checkpoint-hist")),
    ("workers", Custom),
    ("save_images", Ignored("a debugging aid (see dpn augment)")),
    ("pin_mem", Ignored("a loader setting")),
    (
        "no_prefetcher",
        Ignored("a loader setting; dpn computes as timm without its prefetcher"),
    ),
    ("output", Custom),
    ("experiment", Custom),
    ("eval_metric", Flag("eval-metric")),
    (
        "tta",
        Off("dpn validates without test-time augmentation", &[]),
    ),
    ("use_multi_epochs_loader", Ignored("a loader setting")),
    (
        "log_wandb",
        Off("dpn logs to metrics.csv and steps.csv", &[]),
    ),
    ("wandb_project", Ignored("read with log_wandb only")),
    ("wandb_tags", Ignored("read with log_wandb only")),
    ("wandb_resume_id", Ignored("read with log_wandb only")),
    ("train_img_sizes", Off("dpn trains at one --img-size", &[])),
    (
        "train_batch_sizes",
        Off("dpn trains at one --batch-size", &[]),
    ),
    ("train_size_probs", Off("dpn trains at one --img-size", &[])),
    (
        "train_size_schedule",
        Ignored("read with train_img_sizes only"),
    ),
    (
        "train_size_schedule_spread",
        Ignored("read with train_img_sizes only"),
    ),
    (
        "train_size_random_mix",
        Ignored("read with train_img_sizes only"),
    ),
    (
        "train_batches_per_epoch",
        Off("dpn's epoch is one pass over the data", &[]),
    ),
    (
        "variable_batch_loss_scale",
        Ignored("read with train_batch_sizes only"),
    ),
    (
        "naflex_loader",
        Off("NaFlex is for vision transformers", &[]),
    ),
    (
        "naflex_train_seq_lens",
        Ignored("read with naflex_loader only"),
    ),
    (
        "naflex_max_seq_len",
        Ignored("read with naflex_loader only"),
    ),
    (
        "naflex_patch_sizes",
        Ignored("read with naflex_loader only"),
    ),
    (
        "naflex_patch_size_probs",
        Ignored("read with naflex_loader only"),
    ),
    ("naflex_loss_scale", Ignored("read with naflex_loader only")),
    (
        "naflex_patchify_channels_first",
        Ignored("read with naflex_loader only"),
    ),
    (
        "kd_model_name",
        Off("dpn has no knowledge distillation", &[]),
    ),
    ("kd_distill_type", Ignored("read with kd_model_name only")),
    ("kd_loss_type", Ignored("read with kd_model_name only")),
    (
        "distill_loss_weight",
        Ignored("read with kd_model_name only"),
    ),
    ("task_loss_weight", Ignored("read with kd_model_name only")),
    ("kd_temperature", Ignored("read with kd_model_name only")),
    (
        "kd_student_feature_dim",
        Ignored("read with kd_model_name only"),
    ),
    (
        "kd_teacher_feature_dim",
        Ignored("read with kd_model_name only"),
    ),
    (
        "kd_token_distill_type",
        Ignored("read with kd_model_name only"),
    ),
];

/// Keys that older `train.py` versions wrote to args.yaml (today's accepts
/// and ignores them): the "off" ones are accepted off, `jsd` is `jsd_loss`.
pub const LEGACY: &[(&str, Act)] = &[
    ("jsd", Switch("jsd-loss")),
    (
        "amp_impl",
        Ignored("older timm's AMP backend (native or apex)"),
    ),
    ("apex_amp", Off("older timm's NVIDIA Apex AMP", &[])),
    (
        "native_amp",
        Off("older timm's spelling of amp: use amp", &[]),
    ),
    ("aot_autograd", Off("older timm's AOT autograd", &[])),
    (
        "bn_tf",
        Off("older timm's TensorFlow BatchNorm defaults", &[]),
    ),
];

/// Keys that apply only when the file gives them (module docs): timm's
/// defaults name a machine (`cuda`, 4 workers) or a model (`resnet50`) that
/// is not the recipe's.
const ONLY_WHEN_GIVEN: &[&str] = &["model", "device", "workers"];

/// Keys dpn writes beside timm's for what timm cannot say (`train.py`
/// accepts and ignores them).
const DPN_VAL_SPLIT: &str = "dpn_val_split";

/// timm's keys with their defaults, in `train.py`'s order.
pub fn defaults() -> Vec<(String, Value)> {
    let map: Mapping = serde_yaml::from_str(DEFAULTS).expect("timm_train_args.yaml is valid");
    map.into_iter()
        .map(|(k, v)| (k.as_str().expect("string keys").to_string(), v))
        .collect()
}

fn action(key: &str) -> Option<Act> {
    ACTIONS
        .iter()
        .chain(LEGACY)
        .find(|(k, _)| *k == key)
        .map(|(_, a)| *a)
}

/// A `dpn train` option the file gives: its argument id and command-line words.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// The timm key it comes from (for error messages).
    pub key: String,
    /// `dpn train`'s argument id (the long name with `_` for `-`).
    pub id: String,
    pub words: Vec<OsString>,
}

/// What a config file asks of `dpn train`.
#[derive(Debug, Default)]
pub struct Expansion {
    pub flags: Vec<Derived>,
    /// Keys accepted without effect whose values differ from timm's default.
    pub unused: Vec<String>,
}

/// Reads `doc` (a parsed args.yaml) into `dpn train` options. `cli(id)`
/// is what the command line gave for the argument `id`, if anything: those
/// win over the file. Errors list every key dpn cannot honour, with why.
pub fn expand(doc: &Value, cli: &dyn Fn(&str) -> Option<String>) -> Result<Expansion, Vec<String>> {
    let Some(map) = doc.as_mapping() else {
        return Err(vec!["not a YAML mapping of timm's train.py keys".into()]);
    };
    let mut given: BTreeMap<String, Value> = BTreeMap::new();
    let mut problems = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            problems.push(format!("{k:?}: not a timm key"));
            continue;
        };
        if key.starts_with("dpn_") && key != DPN_VAL_SPLIT {
            problems.push(format!("{key}: not a key dpn writes"));
        } else if key != DPN_VAL_SPLIT && action(key).is_none() {
            problems.push(format!("{key}: not an argument of timm's train.py"));
        }
        given.insert(key.to_string(), v.clone());
    }
    let defaults = defaults();
    let value = |key: &str| -> Value {
        given
            .get(key)
            .cloned()
            .or_else(|| {
                defaults
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or(Value::Null)
    };
    let mut out = Expansion::default();
    for (key, act) in ACTIONS.iter().chain(LEGACY) {
        let legacy = LEGACY.iter().any(|(k, _)| k == key);
        if legacy && !given.contains_key(*key) {
            continue;
        }
        let v = value(key);
        let default = defaults
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| d.clone())
            .unwrap_or(Value::Null);
        match act {
            Flag(long) => {
                let id = long.replace('-', "_");
                let applies = given.contains_key(*key) || !ONLY_WHEN_GIVEN.contains(key);
                if applies && cli(&id).is_none() {
                    if let Some(words) = words(long, &v) {
                        out.flags.push(Derived {
                            key: key.to_string(),
                            id,
                            words,
                        });
                    }
                }
            }
            Switch(long) => {
                let id = long.replace('-', "_");
                if v.as_bool() == Some(true) && cli(&id).is_none() {
                    out.flags.push(Derived {
                        key: key.to_string(),
                        id,
                        words: vec![format!("--{long}").into()],
                    });
                } else if !v.is_null() && v.as_bool().is_none() {
                    problems.push(format!("{key}: {} is not true or false", show(&v)));
                }
            }
            Off(why, also) => {
                if !(off(&v, &default) || also.iter().any(|a| scalar(&v).as_deref() == Some(*a))) {
                    problems.push(format!("{key}: {} ({why})", show(&v)));
                }
            }
            Ignored(_) => {
                if given.contains_key(*key) && !same(&v, &default) {
                    out.unused.push(key.to_string());
                }
            }
            Custom => {}
        }
    }
    custom(&value, cli, &given, &mut out, &mut problems);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The keys read together: data paths, input size, AMP, device, workers,
/// the output folder, the starting weights, `dist_bn`.
fn custom(
    value: &dyn Fn(&str) -> Value,
    cli: &dyn Fn(&str) -> Option<String>,
    given: &BTreeMap<String, Value>,
    out: &mut Expansion,
    problems: &mut Vec<String>,
) {
    let mut push = |key: &str, id: &str, words: Vec<String>| {
        if cli(id).is_none() {
            out.flags.push(Derived {
                key: key.into(),
                id: id.into(),
                words: words.into_iter().map(OsString::from).collect(),
            });
        }
    };
    // timm: `if args.data and not args.data_dir: args.data_dir = args.data`,
    // then create_dataset(root=data_dir, split=...) looks for the split's
    // folder under it (`_search_split`).
    let root = scalar(&value("data_dir")).or_else(|| scalar(&value("data")));
    if let Some(root) = root {
        let root = PathBuf::from(root);
        let train = scalar(&value("train_split")).unwrap_or_default();
        push(
            "train_split",
            "data",
            vec!["--data".into(), path_word(&search_split(&root, &train))],
        );
        let val = scalar(&value("val_split")).unwrap_or_default();
        if !val.is_empty() && cli("val_split").is_none() {
            push(
                "val_split",
                "val_data",
                vec!["--val-data".into(), path_word(&search_split(&root, &val))],
            );
        }
    }
    if let Some(f) = scalar(&value(DPN_VAL_SPLIT)) {
        if cli("val_data").is_none() {
            push(DPN_VAL_SPLIT, "val_split", vec![format!("--val-split={f}")]);
        }
    }
    // timm: input_size (C, H, W) wins over img_size.
    match value("input_size") {
        Value::Null => {
            if let Some(n) = scalar(&value("img_size")) {
                push("img_size", "img_size", vec![format!("--img-size={n}")]);
            }
        }
        Value::Sequence(s)
            if s.len() == 3 && scalar(&s[0]).as_deref() == Some("3") && s[1] == s[2] =>
        {
            push(
                "input_size",
                "img_size",
                vec![format!("--img-size={}", scalar(&s[1]).unwrap_or_default())],
            );
        }
        v => problems.push(format!(
            "input_size: {} (dpn trains square 3-channel images: [3, N, N])",
            show(&v)
        )),
    }
    // timm: --amp with --amp-dtype float16 (its default) or bfloat16.
    if value("amp").as_bool() == Some(true) {
        match scalar(&value("amp_dtype")).as_deref() {
            Some("float16") | None => push("amp", "amp", vec!["--amp=f16".into()]),
            Some("bfloat16") => push("amp", "amp", vec!["--amp=bf16".into()]),
            Some(o) => problems.push(format!("amp_dtype: {o} (float16 or bfloat16)")),
        }
    }
    // The machine's keys apply only when the file gives them (module docs).
    for (key, id) in [("device", "device"), ("workers", "workers")] {
        if let Some(v) = given.get(key).and_then(scalar) {
            push(key, id, vec![format!("--{id}={v}")]);
        }
    }
    // timm: output_dir = (output or ./output/train) / (experiment or a name
    // of its own); dpn names an unnamed run as it always does.
    let output = scalar(&value("output")).unwrap_or_default();
    let experiment = scalar(&value("experiment")).unwrap_or_default();
    if !output.is_empty() || !experiment.is_empty() {
        let base = if output.is_empty() {
            PathBuf::from("output/train")
        } else {
            PathBuf::from(&output)
        };
        let name = if experiment.is_empty() {
            let model = cli("model")
                .or_else(|| scalar(&value("model")))
                .unwrap_or_default();
            run_name(&model)
        } else {
            experiment
        };
        push(
            "output",
            "output",
            vec!["--output".into(), path_word(&base.join(name))],
        );
    }
    if let Some(w) = scalar(&value("initial_checkpoint")) {
        push("initial_checkpoint", "weights", vec!["--weights".into(), w]);
    }
    if let Some(r) = scalar(&value("resume")) {
        push("resume", "resume", vec!["--resume".into(), r]);
    }
    match scalar(&value("dist_bn")).as_deref() {
        None => push("dist_bn", "dist_bn", vec!["--dist-bn=none".into()]),
        Some(b @ ("reduce" | "broadcast")) => {
            push("dist_bn", "dist_bn", vec![format!("--dist-bn={b}")])
        }
        Some(o) => problems.push(format!("dist_bn: {o} (reduce, broadcast or '')")),
    }
}

/// timm's `_search_split` (timm/data/dataset_factory.py): ROOT/SPLIT when
/// it exists (the part before any `[`), else the first existing synonym of
/// a train or validation split, else ROOT itself.
pub fn search_split(root: &Path, split: &str) -> PathBuf {
    if !root.is_dir() {
        return root.to_path_buf();
    }
    let name = split.split('[').next().unwrap_or("");
    let direct = root.join(name);
    if direct.exists() {
        return direct;
    }
    const TRAIN: &[&str] = &["train", "training"];
    const EVAL: &[&str] = &["val", "valid", "validation", "eval", "evaluation"];
    let synonyms = if TRAIN.contains(&name) {
        TRAIN
    } else if EVAL.contains(&name) {
        EVAL
    } else {
        return root.to_path_buf();
    };
    synonyms
        .iter()
        .map(|s| root.join(s))
        .find(|p| p.exists())
        .unwrap_or_else(|| root.to_path_buf())
}

/// A new run's folder name: the model and the UTC time (as `dpn train`
/// names `output/train/<model>-<time>`).
pub fn run_name(model: &str) -> String {
    let stamp: String = crate::sys::time::now_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect();
    format!("{model}-{stamp}")
}

fn path_word(p: &Path) -> String {
    p.display().to_string()
}

/// The command-line words of `--long` with the value `v`; none for timm's
/// "unset" (null, an empty string or list).
fn words(long: &str, v: &Value) -> Option<Vec<OsString>> {
    match v {
        Value::Sequence(items) => {
            if items.is_empty() {
                return None;
            }
            let mut w: Vec<OsString> = vec![format!("--{long}").into()];
            w.extend(
                items
                    .iter()
                    .map(|i| OsString::from(scalar(i).unwrap_or_default())),
            );
            Some(w)
        }
        // `--flag=VALUE` keeps a negative number a value, not an option.
        v => scalar(v).map(|s| vec![format!("--{long}={s}").into()]),
    }
}

/// A scalar as a command-line word; none for null and the empty string.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        v => serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim()
            .replace('\n', " "),
    }
}

/// Values equal as YAML reads them (`0` and `0.0` alike).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Sequence(x), Value::Sequence(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// Off: timm's default, or any "nothing" when the default is one (null,
/// false, 0, '', an empty list or mapping).
fn off(v: &Value, default: &Value) -> bool {
    let nothing = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        Value::Tagged(_) => false,
    };
    same(v, default) || (nothing(v) && nothing(default))
}

/// The run's settings as timm's args.yaml: every `train.py` key, with the
/// value this run used where dpn implements it and timm's default (the
/// feature off) elsewhere. Keys sorted as `yaml.safe_dump` sorts them.
pub fn to_yaml(cfg: &TrainConfig, output: &Path) -> String {
    let mut m: BTreeMap<String, Value> = defaults().into_iter().collect();
    let mut set = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let f = |x: f64| Value::from(x);
    let u = |x: u64| Value::from(x);
    let s = |x: &str| Value::from(x.to_string());
    let opt_f = |x: Option<f64>| x.map_or(Value::Null, Value::from);
    let list_f = |x: &[f64]| Value::Sequence(x.iter().map(|v| Value::from(*v)).collect());
    // Data: the training folder as data_dir + train_split, the validation
    // folder beside it by name (or by absolute path: os.path.join keeps it).
    let data = &cfg.data;
    let parent = data.parent().unwrap_or(Path::new("/"));
    set("data", Value::Null);
    set("data_dir", s(&parent.display().to_string()));
    set("train_split", s(&name_of(data)));
    let val = match &cfg.val_data {
        Some(v) if v.parent() == Some(parent) => name_of(v),
        Some(v) => v.display().to_string(),
        None => String::new(),
    };
    set("val_split", s(&val));
    if let Some(frac) = cfg.val_split {
        set(DPN_VAL_SPLIT, f(frac));
    }
    set("model", s(&cfg.model));
    set("pretrained", Value::Bool(false));
    set(
        "initial_checkpoint",
        s(if cfg.init == "scratch" { "" } else { &cfg.init }),
    );
    set("num_classes", u(cfg.num_classes as u64));
    set("img_size", u(cfg.img_size as u64));
    set("crop_pct", f(cfg.crop_pct));
    set("batch_size", u(cfg.batch_size as u64));
    set("channels_last", Value::Bool(cfg.channels_last));
    set("grad_accum_steps", u(cfg.accum_steps() as u64));
    set("device", s(&resolved_device(&cfg.device)));
    set("amp", Value::Bool(cfg.amp != "f32"));
    set(
        "amp_dtype",
        s(if cfg.amp == "bf16" {
            "bfloat16"
        } else {
            "float16"
        }),
    );
    set("opt", s(cfg.optimizer()));
    set("opt_eps", opt_f(cfg.opt_eps));
    set(
        "opt_betas",
        cfg.opt_betas.as_deref().map_or(Value::Null, list_f),
    );
    set("momentum", f(cfg.momentum));
    set("weight_decay", f(cfg.weight_decay));
    set("clip_grad", opt_f(cfg.clip_grad));
    set("clip_mode", s(cfg.clip_mode()));
    set("layer_decay", opt_f(cfg.layer_decay));
    set("layer_decay_min_scale", f(cfg.layer_decay_min_scale));
    set(
        "layer_decay_no_opt_scale",
        opt_f(cfg.layer_decay_no_opt_scale),
    );
    // timm has no constant schedule: a step schedule that never decays is one.
    if cfg.sched == super::sched::SchedKind::Constant {
        set("sched", s("step"));
        set("decay_rate", f(1.0));
    } else {
        set("sched", s(&cfg.sched.to_string()));
        set("decay_rate", f(cfg.decay_rate));
    }
    set("sched_on_updates", Value::Bool(cfg.sched_on_updates));
    set("lr", f(cfg.lr));
    set(
        "lr_noise",
        cfg.lr_noise.as_deref().map_or(Value::Null, list_f),
    );
    set("lr_noise_pct", f(cfg.lr_noise_pct));
    set("lr_noise_std", f(cfg.lr_noise_std));
    set("lr_cycle_mul", f(cfg.lr_cycle_mul));
    set("lr_cycle_decay", f(cfg.lr_cycle_decay));
    set("lr_cycle_limit", u(cfg.lr_cycle_limit));
    set("lr_k_decay", f(cfg.lr_k_decay));
    set("warmup_lr", f(cfg.warmup_lr));
    set("min_lr", f(cfg.min_lr));
    set("epochs", u(cfg.epochs));
    set(
        "decay_milestones",
        Value::Sequence(cfg.decay_milestones.iter().map(|&e| u(e)).collect()),
    );
    set("decay_epochs", f(cfg.decay_epochs));
    set("warmup_epochs", u(cfg.warmup_epochs));
    set("warmup_prefix", Value::Bool(cfg.warmup_prefix));
    set("cooldown_epochs", u(cfg.cooldown_epochs));
    set("patience_epochs", u(cfg.patience_epochs));
    set("scale", list_f(&[cfg.scale.0, cfg.scale.1]));
    set("ratio", list_f(&[cfg.ratio.0, cfg.ratio.1]));
    set("hflip", f(cfg.hflip));
    set("vflip", f(cfg.vflip));
    set("color_jitter", f(cfg.color_jitter));
    set("color_jitter_prob", opt_f(cfg.color_jitter_prob));
    set("grayscale_prob", f(cfg.grayscale_prob));
    set("gaussian_blur_prob", f(cfg.gaussian_blur_prob));
    set("aa", cfg.aa.as_deref().map_or(Value::Null, s));
    set("aug_repeats", f(cfg.aug_repeats));
    set("aug_splits", u(cfg.aug_splits as u64));
    set("jsd_loss", Value::Bool(cfg.jsd_loss));
    set("bce_loss", Value::Bool(cfg.bce_loss));
    set("bce_sum", Value::Bool(cfg.bce_sum));
    set("bce_target_thresh", opt_f(cfg.bce_target_thresh));
    set("bce_pos_weight", opt_f(cfg.bce_pos_weight));
    set("reprob", f(cfg.reprob));
    set("remode", s(&cfg.remode));
    set("recount", u(cfg.recount as u64));
    set("resplit", Value::Bool(cfg.resplit));
    set("mixup", f(cfg.mixup));
    set("cutmix", f(cfg.cutmix));
    set(
        "cutmix_minmax",
        cfg.cutmix_minmax
            .map_or(Value::Null, |(a, b)| list_f(&[a, b])),
    );
    set("mixup_prob", f(cfg.mixup_prob));
    set("mixup_switch_prob", f(cfg.mixup_switch_prob));
    set("mixup_mode", s(&cfg.mixup_mode));
    set("mixup_off_epoch", u(cfg.mixup_off_epoch));
    set("smoothing", f(cfg.label_smoothing));
    set(
        "train_interpolation",
        s(cfg.train_interpolation.as_deref().unwrap_or("random")),
    );
    set("drop", f(cfg.drop));
    set("sync_bn", Value::Bool(cfg.sync_bn));
    set(
        "dist_bn",
        s(if cfg.dist_bn == "none" {
            ""
        } else {
            &cfg.dist_bn
        }),
    );
    set("model_ema", Value::Bool(cfg.model_ema));
    set("model_ema_force_cpu", Value::Bool(cfg.model_ema_force_cpu));
    set("model_ema_decay", f(cfg.model_ema_decay));
    set("model_ema_warmup", Value::Bool(cfg.model_ema_warmup));
    set("seed", u(cfg.seed));
    set("checkpoint_hist", u(cfg.checkpoint_hist as u64));
    set("workers", u(cfg.workers as u64));
    let out_parent = output
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    set("output", s(&out_parent));
    set("experiment", s(&name_of(output)));
    set("eval_metric", s(&cfg.eval_metric));
    let mut text = String::from(
        "# dpn train's settings in timm's train.py keys: `train.py -c args.yaml`\n\
         # (or `dpn train --config args.yaml`) runs the same recipe.\n",
    );
    for (k, v) in &m {
        match v {
            Value::Sequence(items) if !items.is_empty() => {
                text.push_str(&format!("{k}:\n"));
                for i in items {
                    text.push_str(&format!("- {}\n", yaml_scalar(i)));
                }
            }
            v => text.push_str(&format!("{k}: {}\n", yaml_scalar(v))),
        }
    }
    text
}

/// One value as PyYAML's `safe_load` reads it back with its type. Written
/// here because serde_yaml prints 1e-6 as `1e-6`, which YAML 1.1 (PyYAML,
/// so timm's train.py) reads as a string: its floats need a dot and a
/// signed exponent (`1.0e-06`, as `yaml.safe_dump` writes them).
fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let d = format!("{x:?}");
            match d.split_once('e') {
                Some((mant, exp)) => {
                    let mant = if mant.contains('.') {
                        mant.to_string()
                    } else {
                        format!("{mant}.0")
                    };
                    let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |e| ("-", e));
                    format!("{mant}e{sign}{digits:0>2}")
                }
                None => d,
            }
        }
        Value::Number(n) => n.to_string(),
        Value::Sequence(s) if s.is_empty() => "[]".into(),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        v => serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// timm has no "auto": the device dpn's `auto` picks.
fn resolved_device(d: &str) -> String {
    if d == "auto" {
        if tch::Cuda::is_available() {
            "cuda"
        } else {
            "cpu"
        }
        .into()
    } else {
        d.into()
    }
}

/// docs/timm-train-args.md: every `train.py` key with timm's default and
/// dpn's answer, made from [`ACTIONS`] (a test keeps the file current).
pub fn markdown_table() -> String {
    let mut t = String::from(
        "# timm's train.py arguments in dpn\n\n\
         Every argument of timm's `train.py` (the keys of its `args.yaml`), its default \
         there, and what `dpn train` does with it: as an option of `dpn train`, the same \
         meaning; in a `--config` file, also the same meaning, and a key the file leaves \
         out takes timm's default (except `model`, `device`, `workers`, `output`). \
         \"Accepted off\" keys name a feature dpn does not have: the file may hold them at \
         timm's default (or the value listed), anything else is refused by name. \
         \"Not applied\" keys change how timm runs, not what it computes: accepted at any \
         value, listed on stderr when they differ from timm's default. \
         Generated from `src/train/timm_args.rs`.\n\n\
         | timm key | timm default | dpn |\n|---|---|---|\n",
    );
    let defaults = defaults();
    let rows = ACTIONS
        .iter()
        .map(|(k, a)| (k, a, false))
        .chain(LEGACY.iter().map(|(k, a)| (k, a, true)));
    for (key, act, legacy) in rows {
        let default = defaults
            .iter()
            .find(|(k, _)| k == key)
            .map_or("(older timm)".to_string(), |(_, v)| {
                format!("`{}`", yaml_scalar(v))
            });
        let answer = match act {
            Flag(long) => format!("`--{long}`"),
            Switch(long) => format!("`--{long}`"),
            Off(why, []) => format!("accepted off: {why}"),
            Off(why, also) => format!("accepted off or `{}`: {why}", also.join("`, `")),
            Ignored(why) => format!("not applied: {why}"),
            Custom => custom_doc(key).to_string(),
        };
        let key = if legacy {
            format!("`{key}` (older timm)")
        } else {
            format!("`{key}`")
        };
        t.push_str(&format!("| {key} | {default} | {answer} |\n"));
    }
    t.push_str(&format!(
        "| `{DPN_VAL_SPLIT}` | (dpn's own) | `--val-split`: the held-out fraction, which timm cannot say (train.py ignores the key) |\n"
    ));
    t
}

fn custom_doc(key: &str) -> &'static str {
    match key {
        "data" | "data_dir" => "the dataset root (`data_dir`, else `data`, as train.py): `--data` is its `train_split` folder, `--val-data` its `val_split` folder, found as timm's `_search_split` finds them",
        "train_split" => "`--data` = `data_dir`/`train_split` (or a train synonym, or `data_dir` itself)",
        "val_split" => "`--val-data` = `data_dir`/`val_split` (or a validation synonym, or `data_dir` itself); empty: no validation",
        "initial_checkpoint" => "`--weights` (empty: none)",
        "resume" => "`--resume` (empty: none)",
        "img_size" => "`--img-size` (when `input_size` is null)",
        "input_size" => "`[3, N, N]`: `--img-size N`; other shapes refused",
        "device" => "`--device`, when the file gives it (timm's `cuda` is not the recipe's)",
        "amp" => "`--amp f16`, or `--amp bf16` with `amp_dtype: bfloat16`",
        "amp_dtype" => "read with `amp`: float16 or bfloat16",
        "dist_bn" => "`--dist-bn` (empty: `none`)",
        "workers" => "`--workers`, when the file gives it",
        "output" | "experiment" => "`--output` = `output`/`experiment` (`output/train` and dpn's run name where empty)",
        _ => "read with other keys",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/timm-train-args.md is the table; `DPN_UPDATE_GENERATED=1` rewrites it.
    #[test]
    fn the_docs_table_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/timm-train-args.md");
        let want = markdown_table();
        if std::env::var_os("DPN_UPDATE_GENERATED").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/timm-train-args.md is stale: run with DPN_UPDATE_GENERATED=1"
        );
    }

    #[test]
    fn every_timm_key_has_an_answer_and_no_other() {
        let keys: Vec<String> = defaults().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), 172);
        for k in &keys {
            assert!(ACTIONS.iter().any(|(a, _)| a == k), "{k} has no action");
        }
        for (a, _) in ACTIONS {
            assert!(keys.iter().any(|k| k == a), "{a} is not a train.py key");
        }
    }

    #[test]
    fn cli_wins_and_absent_keys_take_timms_defaults() {
        let doc: Value = serde_yaml::from_str("model: dpn48b\nopt: adamw\nlr: 0.01\n").unwrap();
        let e = expand(&doc, &|id| (id == "lr").then(|| "0.5".into())).unwrap();
        let find = |id: &str| e.flags.iter().find(|d| d.id == id).map(|d| d.words.clone());
        assert_eq!(find("opt"), Some(vec!["--opt=adamw".into()]));
        assert_eq!(find("lr"), None, "the command line's --lr wins");
        // timm's defaults where the file is silent.
        assert_eq!(
            find("weight_decay"),
            Some(vec!["--weight-decay=0.00002".into()])
        );
        assert_eq!(
            find("warmup_epochs"),
            Some(vec!["--warmup-epochs=5".into()])
        );
        assert_eq!(find("epochs"), Some(vec!["--epochs=300".into()]));
        assert_eq!(
            find("decay_milestones"),
            Some(vec![
                "--decay-milestones".into(),
                "90".into(),
                "180".into(),
                "270".into()
            ])
        );
        assert_eq!(find("device"), None, "the machine's keys only when given");
        assert_eq!(find("dist_bn"), Some(vec!["--dist-bn=reduce".into()]));
    }

    #[test]
    fn refuses_every_key_it_cannot_honour_by_name() {
        let doc: Value = serde_yaml::from_str(
            "drop_path: 0.1\nbogus: 1\ngp: avg\ndrop_block: null\nin_chans: 1\njsd: false\n",
        )
        .unwrap();
        let err = expand(&doc, &|_| None).unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err[0].starts_with("bogus: not an argument"), "{err:?}");
        assert!(err
            .iter()
            .any(|e| e.starts_with("drop_path: 0.1 (timm's DPN has no drop-path")));
        assert!(err.iter().any(|e| e.starts_with("in_chans: 1")));
    }

    #[test]
    fn unused_keys_are_reported_when_changed() {
        let doc: Value = serde_yaml::from_str("log_interval: 10\npin_mem: false\n").unwrap();
        let e = expand(&doc, &|_| None).unwrap();
        assert_eq!(e.unused, vec!["log_interval".to_string()]);
    }

    #[test]
    fn floats_are_written_as_pyyaml_reads_them() {
        let f = |x: f64| yaml_scalar(&Value::from(x));
        assert_eq!(f(1e-6), "1.0e-06");
        assert_eq!(f(2.5e-5), "2.5e-05");
        assert_eq!(f(1e20), "1.0e+20");
        assert_eq!(f(0.016), "0.016");
        assert_eq!(f(1.0), "1.0");
        assert_eq!(yaml_scalar(&Value::from("1e-6")), "'1e-6'");
        assert_eq!(yaml_scalar(&Value::from("")), "''");
    }

    #[test]
    fn search_split_follows_timm() {
        let dir = std::env::temp_dir().join(format!("dpn-split-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("training")).unwrap();
        std::fs::create_dir_all(dir.join("valid")).unwrap();
        assert_eq!(search_split(&dir, "train"), dir.join("training"));
        assert_eq!(search_split(&dir, "validation"), dir.join("valid"));
        assert_eq!(search_split(&dir, "valid[:50%]"), dir.join("valid"));
        assert_eq!(search_split(&dir, "other"), dir);
        assert_eq!(search_split(&dir, ""), dir.join(""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
