"""torch DDP's training of timm's dpn48b on the batches a distributed `dpn train` used,
for tests/dist.rs.

usage:
  ddp_reference.py init OUT.safetensors
      timm's dpn48b (10 classes, seeded) as the starting weights of both runs.
  torchrun --nproc-per-node 2 ddp_reference.py train INIT DUMP_DIR STEPS_CSV OUT [--dist-bn reduce]
          [--model-ema DECAY] [--layer-decay DECAY NO_OPT_SCALE]
      Every rank trains timm's model wrapped in torch.nn.parallel.DistributedDataParallel
      (Gloo, default buckets, broadcast_buffers=True) on the batches dpn dumped for it
      (DUMP_DIR/rank{R}-update{U}.safetensors, written under DPN_TEST_DUMP_BATCHES), with
      timm's optimizer (create_optimizer_v2, opt="momentum") and loss
      (LabelSmoothingCrossEntropy), each update's learning rate read from dpn's steps.csv.
      At the end timm's train.py's distribute_bn (--dist-bn reduce: running statistics
      averaged over the ranks). In f64 when dpn's batches are (DPN_TEST_TRAIN_F64=1).
      Rank 0 writes OUT: the state dict (timm's names), and
      `loss` (f64 [updates]): each update's loss averaged over the ranks.
      With --model-ema, every rank also keeps timm's ModelEmaV3 (that decay, no warmup) of its
      own model, updated after each optimizer step with train.py's 1-based update count, and
      at the end distributes the EMA's BatchNorm statistics as train.py does before validating
      it; OUT then also holds the EMA's state dict as `ema.<name>`.
      With --layer-decay, the optimizer takes layer_decay and layer_decay_no_opt_scale (which
      freezes the layers below it); as in train.py the optimizer is made before the DDP wrap.

The recipe (momentum 0.9, weight decay 1e-4, label smoothing 0.1) is tests/dist.rs's.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import csv
import os
import sys

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

import timm
from timm.loss import LabelSmoothingCrossEntropy
from timm.optim import create_optimizer_v2
from timm.utils.model_ema import ModelEmaV3

MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
LABEL_SMOOTHING = 0.1


def save(tensors, path, metadata=None):
    save_file(tensors, path + ".partial", metadata=metadata)
    os.replace(path + ".partial", path)


def make_init(out):
    torch.manual_seed(0)
    model = timm.create_model("dpn48b", pretrained=False, num_classes=10)
    save({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, out)


def steps(path):
    """(update, lr) of every trained update in dpn's steps.csv."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [(int(r["update"]), float(r["lr"])) for r in rows if r["loss"] not in ("", "NaN", "nan")]


def train(init, dump, steps_csv, out, dist_bn, ema_decay=None, layer_decay=None):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    model = timm.create_model("dpn48b", pretrained=False, num_classes=10)
    model.load_state_dict(load_file(init))
    model.train()
    plan = steps(steps_csv)
    first = load_file(os.path.join(dump, f"rank{rank}-update{plan[0][0]}.safetensors"))
    if first["images"].dtype == torch.float64:
        model.double()  # dpn ran under DPN_TEST_TRAIN_F64=1
    # train.py makes the EMA before wrapping the model in DDP.
    # train.py makes the optimizer (which may freeze layers) before the DDP wrap.
    kwargs = {}
    if layer_decay is not None:
        kwargs = dict(layer_decay=layer_decay[0], layer_decay_no_opt_scale=layer_decay[1])
    opt = create_optimizer_v2(
        model, opt="momentum", lr=0.1, weight_decay=WEIGHT_DECAY, momentum=MOMENTUM, **kwargs
    )
    ema = ModelEmaV3(model, decay=ema_decay) if ema_decay is not None else None
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    loss_fn = LabelSmoothingCrossEntropy(LABEL_SMOOTHING)
    losses = []
    for update, lr in plan:
        batch = load_file(os.path.join(dump, f"rank{rank}-update{update}.safetensors"))
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)  # timm's schedulers apply it
        loss = loss_fn(ddp(batch["images"]), batch["labels"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update(model, step=len(losses) + 1)
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        losses.append(mean.item() / world)
    if dist_bn == "reduce":
        # timm.utils.distribute_bn(model, world, reduce=True), and the EMA's
        # (train.py, before validating it).
        for m in [model] + ([ema.module] if ema is not None else []):
            for name, buf in m.named_buffers():
                if "running_mean" in name or "running_var" in name:
                    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                    buf /= float(world)
    if rank == 0:
        tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        if ema is not None:
            for k, v in ema.module.state_dict().items():
                tensors["ema." + k] = v.detach().clone().contiguous()
        tensors["loss"] = torch.tensor(losses, dtype=torch.float64)
        save(tensors, out)
    # No closing barrier or destroy_process_group: torchrun waits for both
    # ranks anyway, and Gloo's teardown once left rank 0 waiting forever
    # after rank 1 had exited (a CI run hung here for 15 minutes).


def main():
    if sys.argv[1] == "init":
        make_init(sys.argv[2])
    elif sys.argv[1] == "train":
        dist_bn = "reduce"
        if "--dist-bn" in sys.argv:
            dist_bn = sys.argv[sys.argv.index("--dist-bn") + 1]
        ema_decay = None
        if "--model-ema" in sys.argv:
            ema_decay = float(sys.argv[sys.argv.index("--model-ema") + 1])
        layer_decay = None
        if "--layer-decay" in sys.argv:
            i = sys.argv.index("--layer-decay")
            layer_decay = (float(sys.argv[i + 1]), float(sys.argv[i + 2]))
        train(*sys.argv[2:6], dist_bn, ema_decay, layer_decay)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
