"""timm's optimizers on dpn's gradients (tests/train_optim.rs).

Usage: optim_reference.py DIR

DIR holds what the Rust test wrote: `grads.safetensors` (`p0.<name>`: the
starting parameters, `g<k>.<name>`: dpn's gradient sets, k = 0..), and per
case `<case>.json` (the optimizer settings, dpn's parameter groups) and
`<case>.safetensors` (dpn's parameters `p.<name>` and optimizer state
`s.<key>` after every gradient set was applied). For each case this builds
timm's DPN of the same shape, loads the starting parameters, makes the
optimizer with timm's `create_optimizer_v2` (so the class and the defaults
are timm's), feeds it the same gradients with the LR set per group as
timm's schedulers set it (`lr * lr_scale`), and prints one JSON object:
per case the largest relative difference of the parameters and of the
state (max |a - b| / max |b| per tensor), the counts of state tensors
compared, and whether the parameter groups are timm's.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file
from timm.models.dpn import DPN
from timm.optim import create_optimizer_v2


def rel(a, b):
    a = a.double()
    b = b.double()
    scale = b.abs().max().item() if b.numel() else 0.0
    diff = (a - b).abs().max().item() if b.numel() else 0.0
    if scale == 0.0:
        return diff
    return diff / scale


def name_unused_step(opt):
    return type(opt).__name__ in ("RMSprop", "RMSpropTF")


def main():
    out = sys.argv[1]
    data = load_file(os.path.join(out, "grads.safetensors"))
    with open(os.path.join(out, "cases.json")) as f:
        meta = json.load(f)
    arch = meta["arch"]
    steps = meta["steps"]
    result = {}
    for case in meta["cases"]:
        name = case["case"]
        torch.manual_seed(0)
        model = DPN(
            small=True,
            num_init_features=arch["init_features"],
            k_r=arch["k_r"],
            groups=arch["groups"],
            b=True,
            k_sec=tuple(arch["k_sec"]),
            inc_sec=tuple(arch["inc_sec"]),
            num_classes=arch["num_classes"],
        ).double()
        params = dict(model.named_parameters())
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(data["p0." + n])
        kwargs = dict(opt=case["opt"], lr=case["lr"], weight_decay=case["weight_decay"],
                      momentum=case["momentum"])
        if case.get("eps") is not None:
            kwargs["eps"] = case["eps"]
        if case.get("betas") is not None:
            kwargs["betas"] = tuple(case["betas"])
        if case.get("layer_decay") is not None:
            kwargs["layer_decay"] = case["layer_decay"]
            kwargs["layer_decay_min_scale"] = case["layer_decay_min_scale"]
            kwargs["layer_decay_no_opt_scale"] = case["layer_decay_no_opt_scale"]
        opt = create_optimizer_v2(model, **kwargs)
        # --layer-decay-no-opt-scale: timm freezes the layers below it.
        frozen_equal = sorted(n for n, p in params.items() if not p.requires_grad) == sorted(
            case["frozen"])
        by_id = {id(p): n for n, p in params.items()}
        # The groups: name -> (lr_scale, weight_decay), as timm made them.
        theirs = {}
        for g in opt.param_groups:
            for p in g["params"]:
                theirs[by_id[id(p)]] = [g.get("lr_scale", 1.0), g["weight_decay"]]
        with open(os.path.join(out, name + ".json")) as f:
            ours = json.load(f)["groups"]
        groups_equal = ours == theirs
        for k in range(steps):
            for g in opt.param_groups:
                g["lr"] = case["lr"] * g.get("lr_scale", 1.0)
            for n, p in params.items():
                p.grad = data["g%d.%s" % (k, n)].clone()
            opt.step()
        mine = load_file(os.path.join(out, name + ".safetensors"))
        p_rel = max(rel(mine["p." + n], p.detach()) for n, p in params.items())
        s_rel = 0.0
        compared = set()
        for n, p in params.items():
            for key, v in opt.state[p].items():
                if key == "RMS":
                    continue  # Adafactor's, read only with a relative step
                if torch.is_tensor(v) and v.dim() > 0:
                    ours_key = "s.%s.%s" % (key, n)
                else:
                    ours_key = "s." + key
                if ours_key not in mine and key == "step" and name_unused_step(opt):
                    continue  # torch's RMSprop counts steps it never reads
                if ours_key not in mine:
                    s_rel = 1e300
                    print("missing %s" % ours_key, file=sys.stderr)
                    continue
                tv = v if torch.is_tensor(v) else torch.tensor(float(v))
                s_rel = max(s_rel, rel(mine[ours_key], tv.reshape(mine[ours_key].shape)))
                compared.add(ours_key)
        for g in opt.param_groups:
            if "step" in g:  # Lamb's step is per group
                s_rel = max(s_rel, rel(mine["s.step"], g["step"].reshape(mine["s.step"].shape)))
                compared.add("s.step")
        result[name] = {
            "class": type(opt).__name__,
            "params": p_rel,
            "state": s_rel,
            "compared": len(compared),
            "ours": sum(1 for k in mine if k.startswith("s.")),
            "groups_equal": groups_equal,
            "frozen_equal": frozen_equal,
            "scales": sorted({v[0] for v in theirs.values()}),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
