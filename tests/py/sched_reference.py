"""timm's learning rates for tests/train_sched.rs, as train.py sets them.

Usage: sched_reference.py > out.json

For each case (train.py's flags in `args`, `upe` updates per epoch and, for
plateau, the eval metric of each epoch: top-1, or the loss with eval_metric='loss') this builds the scheduler as
train.py does, `create_scheduler_v2(optimizer, **scheduler_kwargs(args),
updates_per_epoch=upe)` (timm/scheduler/scheduler_factory.py), and runs
train.py's loop over the returned `num_epochs` plus one epoch: before each
update it records the optimizer's lr, after it calls
`lr_scheduler.step_update(num_updates=...)`, and after each epoch
`lr_scheduler.step(epoch + 1, latest_metric)`. dpn's "constant" is timm's
step schedule with decay rate 1.

Also `noise`: `Scheduler._calculate_noise(t)` (torch.Generator seeded
`noise_seed + t`, torch.randn until |n| < pct) for a range of seeds.

Writes JSON: {"cases": [{"name", "args", "upe", "metrics", "num_epochs",
"lrs"}], "noise": [{"seed", "pct", "values"}]}.
"""

import json
import sys
import types

import torch
from timm.scheduler import create_scheduler_v2
from timm.scheduler.scheduler_factory import scheduler_kwargs

# train.py's defaults for the schedule flags (timm 1.0), but a short run.
DEFAULTS = dict(
    sched="cosine", lr=0.1, epochs=10, decay_epochs=90.0, decay_milestones=[90, 180, 270],
    warmup_epochs=0, warmup_lr=1e-5, warmup_prefix=False, min_lr=0.0, cooldown_epochs=0,
    patience_epochs=10, decay_rate=0.1, lr_cycle_mul=1.0, lr_cycle_decay=0.5,
    lr_cycle_limit=1, lr_k_decay=1.0, lr_noise=None, lr_noise_pct=0.67, lr_noise_std=1.0,
    seed=42, sched_on_updates=False, eval_metric="top1",
)

PLATEAU_TOP1 = [10.0, 20.0, 30.0, 30.001, 29.0, 31.0, 31.0, 30.5, 30.0, 32.0, 32.0, 32.0,
                31.0, 30.0, 29.0, 40.0]


def cases():
    c = []

    def add(name, upe=3, metrics=None, **kw):
        c.append(dict(name=name, upe=upe, metrics=metrics, args=kw))

    for on in (False, True):
        tag = "update" if on else "epoch"
        add(f"cosine-warmup-{tag}", sched="cosine", warmup_epochs=2, min_lr=1e-4,
            sched_on_updates=on)
        add(f"cosine-prefix-cooldown-{tag}", sched="cosine", warmup_epochs=2, warmup_prefix=True,
            cooldown_epochs=3, min_lr=1e-3, sched_on_updates=on)
        add(f"cosine-cycles-{tag}", sched="cosine", lr_cycle_limit=3, lr_cycle_decay=0.5,
            epochs=4, warmup_epochs=1, sched_on_updates=on)
        add(f"cosine-mul2-{tag}", sched="cosine", lr_cycle_mul=2.0, lr_cycle_limit=3,
            lr_cycle_decay=0.7, epochs=3, cooldown_epochs=2, sched_on_updates=on)
        add(f"cosine-mul1.5-k2-{tag}", sched="cosine", lr_cycle_mul=1.5, lr_cycle_limit=2,
            lr_k_decay=2.0, epochs=5, sched_on_updates=on)
        add(f"cosine-mul0.7-{tag}", sched="cosine", lr_cycle_mul=0.7, lr_cycle_limit=2, epochs=6,
            cooldown_epochs=1, sched_on_updates=on)
        add(f"poly-k-{tag}", sched="poly", decay_rate=2.0, lr_k_decay=0.5, min_lr=1e-3,
            warmup_epochs=1, cooldown_epochs=2, sched_on_updates=on)
        add(f"poly-cycles-{tag}", sched="poly", decay_rate=0.5, lr_cycle_limit=2,
            lr_cycle_mul=1.5, epochs=4, warmup_epochs=1, warmup_prefix=True, sched_on_updates=on)
        add(f"tanh-warmup-{tag}", sched="tanh", warmup_epochs=2, min_lr=1e-4, sched_on_updates=on)
        add(f"tanh-prefix-cycles-{tag}", sched="tanh", warmup_epochs=1, warmup_prefix=True,
            lr_cycle_limit=2, lr_cycle_decay=0.3, epochs=5, sched_on_updates=on)
        add(f"step-2.4-{tag}", sched="step", decay_epochs=2.4, decay_rate=0.5, warmup_epochs=1,
            sched_on_updates=on)
        add(f"step-0.5-{tag}", upe=5, sched="step", decay_epochs=0.5, decay_rate=0.7,
            epochs=4, sched_on_updates=on)
        add(f"step-prefix-{tag}", sched="step", decay_epochs=3.0, warmup_epochs=2,
            warmup_prefix=True, sched_on_updates=on)
        add(f"multistep-{tag}", sched="multistep", decay_milestones=[2, 5, 7], decay_rate=0.3,
            warmup_epochs=1, sched_on_updates=on)
        add(f"multistep-prefix-{tag}", sched="multistep", decay_milestones=[1, 4],
            warmup_epochs=2, warmup_prefix=True, sched_on_updates=on)
        add(f"constant-{tag}", sched="constant", warmup_epochs=3, warmup_lr=1e-3,
            sched_on_updates=on)
        add(f"noise-range-{tag}", sched="cosine", lr_noise=[0.3, 0.8], seed=42,
            warmup_epochs=1, sched_on_updates=on)
        add(f"noise-from-{tag}", sched="step", decay_epochs=2.4, lr_noise=[0.5], seed=7,
            lr_noise_pct=0.3, sched_on_updates=on)
        add(f"noise-all-seed-wrap-{tag}", sched="tanh", lr_noise=[0.0], seed=4294967290,
            lr_noise_pct=0.1, lr_noise_std=2.0, sched_on_updates=on)
        add(f"noise-multistep-{tag}", sched="multistep", decay_milestones=[3, 6],
            lr_noise=[0.2, 0.9], seed=0, warmup_epochs=2, sched_on_updates=on)
    n = len(PLATEAU_TOP1)
    add("plateau", sched="plateau", epochs=n, patience_epochs=1, decay_rate=0.5,
        metrics=PLATEAU_TOP1)
    add("plateau-warmup-min", sched="plateau", epochs=n, patience_epochs=0, decay_rate=0.3,
        warmup_epochs=3, min_lr=0.01, metrics=PLATEAU_TOP1)
    add("plateau-prefix-noise", sched="plateau", epochs=n, patience_epochs=2, decay_rate=0.1,
        warmup_epochs=2, warmup_prefix=True, lr_noise=[0.25, 0.75], seed=11,
        metrics=PLATEAU_TOP1 + [41.0, 41.0])
    add("plateau-missing", sched="plateau", epochs=6, patience_epochs=0, decay_rate=0.5,
        metrics=[50.0, None, 40.0, None, 40.0, 39.0])
    # --eval-metric loss: train.py's decreasing_metric, ReduceLROnPlateau(mode='min').
    add("plateau-loss", sched="plateau", epochs=n, patience_epochs=1, decay_rate=0.5,
        eval_metric="loss", warmup_epochs=1,
        metrics=[2.0, 1.5, 1.2, 1.19995, 1.3, 1.1, 1.1, 1.2, 1.0, 0.99995, 0.9, 0.9, 0.95,
                 1.0, 0.8, 0.7])
    return c


def run(case):
    a = dict(DEFAULTS)
    a.update(case["args"])
    ns = types.SimpleNamespace(**a)
    if a["sched"] == "constant":
        ns.sched, ns.decay_rate = "step", 1.0
    upe = case["upe"]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=a["lr"])
    sched, num_epochs = create_scheduler_v2(opt, **scheduler_kwargs(ns), updates_per_epoch=upe)
    metrics = case["metrics"]
    lrs = []
    num_updates = 0
    for epoch in range(num_epochs + 1):
        for _ in range(upe):
            lrs.append(opt.param_groups[0]["lr"])
            num_updates += 1
            sched.step_update(num_updates=num_updates, metric=1.0)
        m = metrics[epoch] if metrics is not None and epoch < len(metrics) else None
        sched.step(epoch + 1, m)
    return dict(case, args=a, num_epochs=num_epochs, lrs=lrs)


def noise():
    out = []
    for pct in (0.67, 0.05):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        s, _ = create_scheduler_v2(opt, sched="cosine", num_epochs=10, noise=[0.0],
                                   noise_pct=pct, noise_seed=0)
        out.append(dict(seed=0, pct=pct, values=[s._calculate_noise(t) for t in range(3000)]))
    return out


def main():
    json.dump(dict(cases=[run(c) for c in cases()], noise=noise()), sys.stdout)


if __name__ == "__main__":
    main()
