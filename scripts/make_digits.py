#!/usr/bin/env python3
"""Turn scikit-learn's handwritten digits into an ImageFolder train/val split.

usage: make_digits.py OUTDIR [--size 32] [--val-fraction 0.2] [--seed 0] [--limit N]

scikit-learn ships the 1,797 8x8 images of the UCI optical digits data set (16 gray levels)
in its package, so this needs no network. Each image is scaled to 0..255, upsampled to
SIZE x SIZE with Pillow's bicubic filter and saved as an RGB PNG:

    OUTDIR/train/<digit>/<index>.png    80% of each class
    OUTDIR/val/<digit>/<index>.png      20% of each class

<index> is the image's position in sklearn.datasets.load_digits(). The split is
sklearn's train_test_split(stratify=labels, random_state=SEED): the same on every run
(1,437 / 360 images with the defaults). --limit N keeps the first N images of the
data set before splitting (small fixtures for tests).
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None)
    a = p.parse_args()

    digits = load_digits()
    images, labels = digits.images, digits.target
    index = np.arange(len(labels))
    if a.limit:
        images, labels, index = images[: a.limit], labels[: a.limit], index[: a.limit]
    tr, va = train_test_split(
        index, test_size=a.val_fraction, stratify=labels, random_state=a.seed
    )
    counts = {}
    for split, idx in (("train", tr), ("val", va)):
        for i in sorted(idx):
            gray = np.clip(images[i] * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
            img = Image.fromarray(gray, mode="L").resize((a.size, a.size), Image.BICUBIC)
            d = os.path.join(a.outdir, split, str(labels[i]))
            os.makedirs(d, exist_ok=True)
            img.convert("RGB").save(os.path.join(d, f"{i:04d}.png"))
        counts[split] = len(idx)
    print(
        f"{a.outdir}: {counts['train']} training and {counts['val']} validation images, "
        f"{len(set(labels))} classes, {a.size}x{a.size} RGB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
