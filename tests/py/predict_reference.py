"""Reference for tests/predict_eval.rs: timm's own pipeline on real photographs.

make OUTDIR: writes
  weights.pth        dpn68b with random weights, randomized BatchNorm statistics and a
                     classifier scaled up so that classes are well separated (a random
                     network's probabilities are otherwise near-uniform ties);
  images/*.png|jpg   scikit-image sample photographs (colour, grayscale, odd sizes) as PNG
                     and as JPEG (quality 90);
  folder/<synset>/   the PNGs arranged under ImageNet synset folders (evaluate);
  reference.json     per image timm's top-5 (index, probability) through timm's eval
                     transform (Pillow + torchvision), the folder's top-1/top-5, and timm's
                     data config (input_size, interpolation, mean, std, crop_pct).

Usage: predict_reference.py make OUTDIR CLASSES_TSV
"""
import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import os
import shutil
import sys

import numpy as np
import skimage.data as data
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

torch.set_num_threads(2)
CLASS_STEP = 97


def photos():
    hubble = data.hubble_deep_field()
    return {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
        "camera": data.camera(),
        "coins": data.coins(),
        "hubble_odd": hubble[:333, :517],
        "astronaut_tall": data.astronaut()[:500, 100:321],
    }


def separate_classes(model, feats):
    """Class CLASS_STEP*j gets the centred, normalized embedding `feats[j]` of
    photograph j (the rest of the classifier scaled down), so that each
    photograph's top-1 is its own class by a margin rounding cannot flip."""
    with torch.no_grad():
        mean = feats.mean(0)
        w = model.classifier.weight
        w.mul_(0.1)
        for j, f in enumerate(feats):
            v = f - mean
            w[CLASS_STEP * j, :, 0, 0] = 40.0 * v / v.norm()


def main(out):
    torch.manual_seed(0)
    model = timm.create_model("dpn68b", pretrained=False).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    config = resolve_data_config({}, model=model)
    transform = create_transform(**config)
    # A random network maps every photograph to nearly the same output. Make
    # it discriminate: class CLASS_STEP*j gets the (centred, normalized)
    # embedding of photograph j, so each photograph's top-1 is its own class
    # and the margins depend on how alike the photographs are.
    arrays = photos()
    with torch.no_grad():
        feats = torch.stack([
            model.forward_head(model.forward_features(transform(Image.fromarray(a).convert("RGB")).unsqueeze(0)),
                               pre_logits=True)[0]
            for a in arrays.values()
        ])
        separate_classes(model, feats)
        model.classifier.bias.zero_()
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))

    img_dir = os.path.join(out, "images")
    os.makedirs(img_dir, exist_ok=True)
    ref = {"images": {}, "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}}
    paths = []
    for name, arr in arrays.items():
        im = Image.fromarray(arr)
        for ext, kw in (("png", {}), ("jpg", {"quality": 90})):
            p = os.path.join(img_dir, f"{name}.{ext}")
            im.save(p, **kw)
            paths.append(p)
    synsets = [l.split("\t")[0] for l in open(sys.argv[3]).read().splitlines()]
    with torch.no_grad():
        for p in paths:
            x = transform(Image.open(p).convert("RGB")).unsqueeze(0)
            prob = model(x).softmax(-1)[0]
            top_p, top_i = prob.topk(5)
            ref["images"][p] = {"index": top_i.tolist(), "prob": top_p.tolist()}
    # The evaluate folder: PNGs under synset folders, labelled so that the
    # accuracy is not trivial: timm's top-1 for some, its 3rd choice (top-5
    # but not top-1) for others, an unlikely class for the rest.
    folder = os.path.join(out, "folder")
    c1 = c5 = n = 0
    for i, p in enumerate(sorted(x for x in paths if x.endswith(".png"))):
        top = ref["images"][p]["index"]
        label = [top[0], top[2], (top[0] + 500) % 1000][i % 3]
        d = os.path.join(folder, synsets[label])
        os.makedirs(d, exist_ok=True)
        shutil.copy(p, d)
        n += 1
        c1 += label == top[0]
        c5 += label in top
    ref["folder"] = {"images": n, "correct1": c1, "correct5": c5}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    main(sys.argv[2])
