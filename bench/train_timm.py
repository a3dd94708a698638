"""timm's training loop, the one `dpn train` reproduces, timed: bench/train_speed.sh runs it
beside `dpn train` on the same ImageFolder.

usage: train_timm.py --data DIR --model dpn48b --img-size 32 --batch-size 64 --epochs 2
                     [--workers 2] [--device cpu|cuda] [--amp bf16|f16] [--channels-last]
                     [--aa CONFIG] [--reprob P] [--remode MODE] [--train-interpolation NAME]
                     [--opt NAME] [--lr LR] [--model-ema]

Data: torchvision ImageFolder + timm.data.create_transform(is_training=True) (RandomResizedCrop,
flip, colour jitter 0.4, normalize with the model's mean/std; --aa, --reprob, --remode and
--train-interpolation passed on as train.py passes them; with --aa, posterize to 0 bits
black as dpn does, bench/pillow_posterize.py), DataLoader(shuffle, drop_last). Optimizer:
timm.optim.create_optimizer_v2(--opt, default 'momentum', --lr 0.1, weight decay 1e-4 without
BN/bias), with --model-ema timm's ModelEmaV3 (decay 0.9998) updated after every step as train.py
updates it, loss:
cross-entropy with label smoothing 0.1, per-update cosine LR. Prints one JSON line with the
training images/s of the last epoch (loading included, as dpn's metrics.csv counts it).

Under torchrun (WORLD_SIZE > 1) it is timm's train.py under DDP: Gloo, DistributedSampler,
DistributedDataParallel; --batch-size is per process and rank 0 prints the images/s of all
processes together (bench/dist.sh).
"""

import os

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torchvision.datasets import ImageFolder

import timm
from timm.data import create_transform, resolve_data_config
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="dpn48b")
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", default=None)
    p.add_argument("--channels-last", action="store_true")
    # train.py's augmentation flags, for bench/train_speed.sh's RECIPE=ra.
    p.add_argument("--aa", default=None)
    p.add_argument("--reprob", type=float, default=0.0)
    p.add_argument("--remode", default="pixel")
    # Unset keeps the model's eval interpolation, which the plain recipe has
    # always measured.
    p.add_argument("--train-interpolation", default=None)
    p.add_argument("--opt", default="momentum")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--model-ema", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    ds = ImageFolder(a.data)
    model = timm.create_model(a.model, num_classes=len(ds.classes)).to(dev)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    cfg = resolve_data_config({}, model=model)
    cfg["input_size"] = (3, a.img_size, a.img_size)
    if a.train_interpolation:
        cfg["interpolation"] = a.train_interpolation
    if a.aa:
        import pillow_posterize

        pillow_posterize.install()
    ds.transform = create_transform(
        **cfg, is_training=True, auto_augment=a.aa, re_prob=a.reprob, re_mode=a.remode,
    )
    sampler = torch.utils.data.DistributedSampler(ds) if world > 1 else None
    loader = torch.utils.data.DataLoader(
        ds, batch_size=a.batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
        num_workers=a.workers,
        pin_memory=dev.type == "cuda", persistent_workers=a.workers > 0,
    )
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = create_optimizer_v2(model, opt=a.opt, lr=a.lr, weight_decay=1e-4, momentum=0.9)
    ema = timm.utils.ModelEmaV3(model, decay=0.9998) if a.model_ema else None
    sched, _ = create_scheduler_v2(
        opt, sched="cosine", num_epochs=a.epochs, warmup_epochs=0,
        step_on_epochs=False, updates_per_epoch=len(loader),
    )
    amp_dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(a.amp)
    scaler = torch.amp.GradScaler(enabled=amp_dtype == torch.float16)
    updates, ips = 0, 0.0
    model.train()
    for epoch in range(a.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        t0, n = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            if a.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = F.cross_entropy(net(x).float(), y, label_smoothing=0.1)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            updates += 1
            if ema is not None:
                ema.update(model, step=updates)
            sched.step_update(num_updates=updates)
            n += x.shape[0]
        loss.item()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        ips = n * world / (time.perf_counter() - t0)
    if world > 1:
        torch.distributed.destroy_process_group()
    if rank != 0:
        return
    print(json.dumps({"impl": "timm", "model": a.model, "img_size": a.img_size, "processes": world,
                      "batch_size": a.batch_size, "device": a.device, "amp": a.amp,
                      "channels_last": a.channels_last, "aa": a.aa, "reprob": a.reprob,
                      "remode": a.remode, "train_interpolation": a.train_interpolation,
                      "opt": a.opt, "model_ema": a.model_ema,
                      "images_per_s": ips}))


if __name__ == "__main__":
    main()
