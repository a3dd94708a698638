"""CUDA parity for bench/gpu.sh: dpn predict on the GPU against timm on the GPU.

make DIR N: N random-noise PNGs, a dpn92 with random weights whose classifier is
made discriminative (rows are the centred embeddings of the first images), its
state dict (DIR/weights.pth), and timm's fp32 embeddings and fp32/bf16-autocast
top-1 on CUDA (DIR/timm.json, DIR/timm_features.npy).
check DIR: compares dpn's outputs (DIR/dpn_f32.csv, DIR/dpn_f32.npy,
DIR/dpn_bf16.csv) with timm's and prints a JSON summary.
"""
import csv
import json
import os
import sys

import numpy as np
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config


def make(d, n):
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(d, "images"), exist_ok=True)
    paths = []
    for i in range(n):
        p = os.path.join(d, "images", f"{i:05d}.png")
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    torch.manual_seed(0)
    model = timm.create_model("dpn92", pretrained=False).eval().cuda()
    t = create_transform(**resolve_data_config({}, model=model))
    xs = torch.stack([t(Image.open(p).convert("RGB")) for p in paths]).cuda()
    with torch.no_grad():
        f = torch.cat([model.forward_head(model.forward_features(x), pre_logits=True) for x in xs.split(64)])
        v = f[:1000] - f.mean(0)
        model.classifier.weight[: len(v), :, 0, 0] = 20 * v / v.norm(dim=1, keepdim=True)
        model.classifier.bias.zero_()
        top32 = torch.cat([model(x).argmax(-1) for x in xs.split(64)])
        with torch.autocast("cuda", dtype=torch.bfloat16):
            top16 = torch.cat([model(x).argmax(-1) for x in xs.split(64)])
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, os.path.join(d, "weights.pth"))
    np.save(os.path.join(d, "timm_features.npy"), f.float().cpu().numpy())
    json.dump({"paths": paths, "top1_f32": top32.tolist(), "top1_bf16": top16.tolist()}, open(os.path.join(d, "timm.json"), "w"))


def top1(path):
    return {r["path"]: int(r["class_index"]) for r in csv.DictReader(open(path)) if r["rank"] == "1"}


def check(d, prefix="dpn"):
    """Checks PREFIX_f32.csv, PREFIX_bf16.csv and PREFIX_f32.npy (dpn's exact run is
    "dpn", the folded network's "dpn_folded")."""
    ref = json.load(open(os.path.join(d, "timm.json")))
    f32, b16 = top1(os.path.join(d, f"{prefix}_f32.csv")), top1(os.path.join(d, f"{prefix}_bf16.csv"))
    feats = np.load(os.path.join(d, f"{prefix}_f32.npy"))
    order = [json.loads(l) for l in open(os.path.join(d, f"{prefix}_f32.npy.paths.jsonl"))]
    want = np.load(os.path.join(d, "timm_features.npy"))[[ref["paths"].index(p) for p in order]]
    n = len(ref["paths"])
    out = {
        "network": prefix,
        "images": n,
        "features_max_abs_diff_f32": float(np.abs(feats - want).max()),
        "top1_agree_f32": sum(f32[p] == t for p, t in zip(ref["paths"], ref["top1_f32"])) / n,
        "top1_agree_bf16_vs_timm_autocast": sum(b16[p] == t for p, t in zip(ref["paths"], ref["top1_bf16"])) / n,
    }
    out["pass"] = out["features_max_abs_diff_f32"] <= 1e-3 and out["top1_agree_bf16_vs_timm_autocast"] >= 0.99
    print(json.dumps(out))


if __name__ == "__main__":
    make(sys.argv[2], int(sys.argv[3])) if sys.argv[1] == "make" else check(*sys.argv[2:4])
