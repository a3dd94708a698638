"""Reference training steps with timm and torch.optim.SGD for tests/train_math.rs.

usage: train_reference.py OUT_DIR

For each configuration below writes OUT_DIR/<name>.safetensors holding
  sd.<key>         timm's dpn48b state dict before training (BatchNorm randomized)
  input.<i>        the batch of step i (random, [8, 3, 64, 64]), target.<i> its labels

Training a deep network on random data is chaotic: in timm alone, perturbing the weights
by 1e-7 changes the third step's loss by 1e-3 to 1e-2. So the ten-step runs are in f64
(rounding differences of 1e-16 stay far below the tolerances after the amplification),
and one f32 step ("cosine_f32") checks the f32 path.
  lr               f64 [steps]: the learning rate each step used (param_groups[*]['lr'])
  sched            f64 [80]: the scheduler's value for updates 0..79 (_get_lr per update)
  loss             f64 [steps]: the loss of each step
  after1.<key>     the state dict after the first step
  final.<key>      the state dict after the last step
  buf.<name>       SGD's momentum buffer of every parameter after the last step
and the configuration as JSON in the metadata entry `config`.

The loop is timm's train_one_epoch: forward in train mode, loss, zero_grad, backward,
optimizer.step(), then lr_scheduler.step_update(num_updates). The optimizer is
timm.optim.create_optimizer_v2 (weight decay off for BatchNorm and biases), the
scheduler timm.scheduler.create_scheduler_v2 with step_on_epochs=False.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import timm
from timm.loss import LabelSmoothingCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2

CONFIGS = {
    "cosine": dict(
        sched="cosine", lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=False,
        label_smoothing=0.1, epochs=4, warmup_epochs=1, updates_per_epoch=3,
        warmup_lr=1e-3, min_lr=1e-4, decay_epochs=1, decay_rate=0.1, steps=10, dtype="f64",
    ),
    "step": dict(
        sched="step", lr=0.08, momentum=0.9, weight_decay=1e-4, nesterov=True,
        label_smoothing=0.0, epochs=4, warmup_epochs=0, updates_per_epoch=3,
        warmup_lr=1e-5, min_lr=0.0, decay_epochs=1, decay_rate=0.5, steps=10, dtype="f64",
    ),
    # "cosine" in f32, one step.
    "cosine_f32": dict(
        sched="cosine", lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=False,
        label_smoothing=0.1, epochs=4, warmup_epochs=1, updates_per_epoch=3,
        warmup_lr=1e-3, min_lr=1e-4, decay_epochs=1, decay_rate=0.1, steps=1, dtype="f32",
    ),
}


def randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for i, m in enumerate(model.modules()):
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(i)


def sd(model, prefix):
    return {prefix + k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def run(name, c, out_dir):
    torch.manual_seed(0)
    model = timm.create_model("dpn48b", pretrained=False, num_classes=10)
    randomize_bn(model, 1)
    dtype = torch.float64 if c["dtype"] == "f64" else torch.float32
    model = model.to(dtype)
    out = sd(model, "sd.")
    opt = create_optimizer_v2(
        model, opt="nesterov" if c["nesterov"] else "momentum", lr=c["lr"],
        weight_decay=c["weight_decay"], momentum=c["momentum"],
    )
    sched, _ = create_scheduler_v2(
        opt, sched="step" if c["sched"] == "constant" else c["sched"],
        num_epochs=c["epochs"], warmup_epochs=c["warmup_epochs"], warmup_lr=c["warmup_lr"],
        min_lr=c["min_lr"], decay_epochs=c["decay_epochs"],
        decay_rate=1.0 if c["sched"] == "constant" else c["decay_rate"],
        step_on_epochs=False, updates_per_epoch=c["updates_per_epoch"],
    )
    out["sched"] = torch.tensor([sched._get_lr(u)[0] for u in range(80)], dtype=torch.float64)
    if c["label_smoothing"] > 0:
        loss_fn = LabelSmoothingCrossEntropy(c["label_smoothing"])
    else:
        loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(2)
    lrs, losses = [], []
    model.train()
    for i in range(c["steps"]):
        x = torch.randn(8, 3, 64, 64, generator=g, dtype=torch.float64).to(dtype)
        y = torch.randint(0, 10, (8,), generator=g)
        out[f"input.{i}"] = x
        out[f"target.{i}"] = y
        lrs.append(opt.param_groups[0]["lr"])
        assert all(pg["lr"] == lrs[-1] for pg in opt.param_groups)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step_update(num_updates=i + 1)
        losses.append(loss.item())
        if i == 0:
            out.update(sd(model, "after1."))
    out.update(sd(model, "final."))
    names = {id(p): n for n, p in model.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            buf = opt.state[p].get("momentum_buffer")
            if buf is not None:
                out["buf." + names[id(p)]] = buf.detach().clone().contiguous()
    out["lr"] = torch.tensor(lrs, dtype=torch.float64)
    out["loss"] = torch.tensor(losses, dtype=torch.float64)
    groups = [sorted(names[id(p)] for p in pg["params"]) for pg in opt.param_groups]
    meta = {"config": json.dumps(c), "groups": json.dumps(groups)}
    path = os.path.join(out_dir, name + ".safetensors")
    save_file(out, path + ".partial", metadata=meta)
    os.replace(path + ".partial", path)


def main():
    torch.set_num_threads(int(os.environ.get("DPN_TEST_THREADS", "2")))
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, c in CONFIGS.items():
        run(name, c, out_dir)
    print("done", flush=True)


if __name__ == "__main__":
    main()
