"""Reference outputs of timm's DPNs for tests/model_parity.rs.

usage: model_reference.py OUT_DIR --eval dpn68,dpn92 --train dpn68b [--size 64] [--batch 2]
       model_reference.py OUT_DIR --serve [--size 64] [--batch 2]

With --serve the script reads requests `eval <model>` / `train <model>` from stdin, one a
line, answers each with `done <file>` or `error <message>` on stdout, and at the end of
stdin (when the test process exits) deletes OUT_DIR with whatever is left in it.

For every model named with --eval, writes OUT_DIR/<model>.eval.safetensors holding
  sd.<key>      the state dict (BatchNorm affine parameters and statistics randomized)
  input         a fixed random input batch
  logits        eval-mode logits
  features      eval-mode pooled pre-logit features
  logits_elu    eval-mode logits with conv5_bn_ac's activation replaced by ELU (timm < 1.0)
and for every model named with --train, OUT_DIR/<model>.train.safetensors holding
  sd.<key>      the state dict before the step (randomized as above)
  input, targets, logits, loss   one train-mode forward and its cross-entropy loss
  grad.<name>   the gradient of every parameter after backward
  after.<key>   every BatchNorm buffer after the forward (running stats, num_batches_tracked)
The metadata entry `keys` lists the state dict's keys in timm's order (JSON).
Each file is written to a temporary name, then renamed, and announced as `done <file>`.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import argparse
import json
import os
import shutil
import sys
import traceback
import zlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import timm


def randomize_bn(model, seed):
    """Non-trivial BatchNorm parameters and statistics, so that parity checks them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for i, m in enumerate(model.modules()):
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(100 + i)


def state(model):
    return {"sd." + k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def write(out_dir, name, tensors, model):
    path = os.path.join(out_dir, name)
    tmp = path + ".partial"
    # safetensors sorts tensors by name; the metadata keeps timm's key order.
    save_file(tensors, tmp, metadata={"keys": json.dumps(list(model.state_dict().keys()))})
    os.replace(tmp, path)
    return path


def build(name):
    seed = zlib.crc32(name.encode())
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False)
    randomize_bn(model, seed)
    return model, seed


def eval_reference(out_dir, name, size, batch):
    model, seed = build(name)
    model.eval()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, 3, size, size, generator=g)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_head(model.forward_features(x), pre_logits=True)
        # timm < 1.0 ended in ELU (fc_act); timm 1.0.x uses the model's act there.
        model.features.conv5_bn_ac.bn.act = torch.nn.ELU()
        logits_elu = model(x)
    out = state(model)
    out.update({
        "input": x,
        "logits": logits.contiguous(),
        "features": features.contiguous(),
        "logits_elu": logits_elu.contiguous(),
    })
    return write(out_dir, f"{name}.eval.safetensors", out, model)


def train_reference(out_dir, name, size, batch):
    model, seed = build(name)
    model.train()
    out = state(model)
    g = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(batch, 3, size, size, generator=g)
    targets = torch.randint(0, model.num_classes, (batch,), generator=g)
    logits = model(x)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    out.update({
        "input": x,
        "targets": targets,
        "logits": logits.detach().contiguous(),
        "loss": loss.detach().reshape(()),
    })
    for k, p in model.named_parameters():
        out["grad." + k] = p.grad.detach().clone().contiguous()
    for k, b in model.named_buffers():
        out["after." + k] = b.detach().clone().contiguous()
    return write(out_dir, f"{name}.train.safetensors", out, model)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--eval", default="")
    ap.add_argument("--train", default="")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    jobs = {"eval": eval_reference, "train": train_reference}
    if args.serve:
        try:
            for line in sys.stdin:
                parts = line.split()
                if not parts:
                    continue
                try:
                    kind, name = parts
                    path = jobs[kind](args.out_dir, name, args.size, args.batch)
                    print("done", path, flush=True)
                except Exception:
                    msg = traceback.format_exc().strip().replace("\n", " | ")
                    print("error", msg, flush=True)
        finally:
            shutil.rmtree(args.out_dir, ignore_errors=True)
        return 0
    for name in filter(None, args.eval.split(",")):
        print("done", eval_reference(args.out_dir, name, args.size, args.batch), flush=True)
    for name in filter(None, args.train.split(",")):
        print("done", train_reference(args.out_dir, name, args.size, args.batch), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
