"""Checks an args.yaml that `dpn train` wrote against timm's train.py keys.

usage: timm_args_check.py WRITTEN RECIPE DEFAULTS OVERRIDDEN

WRITTEN is the run's args.yaml, RECIPE the --config file it ran with,
DEFAULTS src/train/timm_train_args.yaml (train.py's keys and defaults, as
data), OVERRIDDEN a comma list of keys the test's command line replaced.
Read with PyYAML's safe_load, as train.py reads it: every train.py key is
there (plus dpn_* keys only), each value has the type train.py's argparse
gives it, the recipe's values came through and the keys the recipe left out
hold train.py's defaults (where dpn implements them). Prints "ok".
"""
import math
import sys

import yaml

written_path, recipe_path, defaults_path, overridden = sys.argv[1:5]
written = yaml.safe_load(open(written_path))
recipe = yaml.safe_load(open(recipe_path))
defaults = yaml.safe_load(open(defaults_path))
overridden = set(filter(None, overridden.split(",")))

missing = set(defaults) - set(written)
assert not missing, f"train.py keys missing: {sorted(missing)}"
extra = {k for k in set(written) - set(defaults) if not k.startswith("dpn_")}
assert not extra, f"keys train.py does not have: {sorted(extra)}"

# train.py's argparse types where its default does not say (None defaults).
FLOAT = {"lr", "opt_eps", "clip_grad", "layer_decay", "crop_pct", "bce_target_thresh",
         "bce_pos_weight", "color_jitter_prob", "grayscale_prob", "gaussian_blur_prob",
         "min_lr", "decay_epochs", "aug_repeats", "hflip", "vflip", "reprob", "mixup", "cutmix",
         "mixup_prob", "mixup_switch_prob", "smoothing", "drop", "model_ema_decay",
         "warmup_lr", "momentum", "weight_decay", "lr_base", "lr_noise_pct", "lr_noise_std",
         "lr_cycle_mul", "lr_cycle_decay", "lr_k_decay", "decay_rate", "color_jitter"}
INT = {"num_classes", "img_size", "batch_size", "grad_accum_steps", "lr_base_size",
       "lr_cycle_limit", "epochs", "warmup_epochs", "cooldown_epochs", "patience_epochs",
       "aug_splits", "recount", "mixup_off_epoch", "seed", "checkpoint_hist", "workers"}
for k, v in written.items():
    if v is None:
        continue
    if k in FLOAT:
        assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{k}: {v!r} is not a number"
    elif k in INT:
        assert isinstance(v, int) and not isinstance(v, bool), f"{k}: {v!r} is not an int"
    elif isinstance(defaults.get(k), bool):
        assert isinstance(v, bool), f"{k}: {v!r} is not a bool"
    elif isinstance(defaults.get(k), str):
        assert isinstance(v, str), f"{k}: {v!r} is not a string"


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# What the recipe says, dpn ran (the written file is made from run.json's
# settings, so this is file -> options -> run -> file).
APPLIED_AS = {"amp": None, "workers": None}  # checked by the caller's overrides
for k, v in recipe.items():
    if k in overridden or k in APPLIED_AS:
        continue
    assert same(written[k], v), f"{k}: recipe {v!r}, ran with {written[k]!r}"

# What the recipe leaves out takes train.py's default, where dpn has it.
TIMM_DEFAULTS_DPN_HAS = ["momentum", "smoothing", "color_jitter", "hflip", "vflip", "mixup",
                         "cutmix", "recount", "train_interpolation", "checkpoint_hist",
                         "model_ema_decay", "lr_noise_pct", "patience_epochs", "decay_milestones",
                         "scale", "ratio", "eval_metric", "mixup_mode", "drop", "min_lr",
                         "warmup_lr", "decay_rate", "decay_epochs", "opt", "sched", "warmup_epochs",
                         "weight_decay", "epochs", "batch_size", "seed", "dist_bn", "clip_mode"]
for k in TIMM_DEFAULTS_DPN_HAS:
    if k in recipe or k in overridden:
        continue
    assert same(written[k], defaults[k]), f"{k}: timm's default {defaults[k]!r}, ran with {written[k]!r}"
print("ok")
