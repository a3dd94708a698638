"""Pillow + torchvision side of bench/data_decode.sh and bench/augment.sh.

usage: data_pillow.py --make DIR         write the benchmark JPEGs (512x512, quality 90)
       data_pillow.py [--model M] [--seconds S] FILE...
                                         decode + timm eval transform on one thread;
                                         prints one JSON line like examples/data_bench.rs
       data_pillow.py --train [--img-size N] [--aa CONFIG] [--reprob P] [--remode MODE]
                      [--train-interpolation NAME] [--model M] [--seconds S] FILE...
                                         decode + timm's training transform
                                         (create_transform(is_training=True), as train.py
                                         builds it from the same flags) on one thread
"""

import argparse
import json
import os
import time


def make(out):
    import numpy as np
    import skimage.data as sd
    from PIL import Image

    os.makedirs(out, exist_ok=True)
    square = lambda a: a[: min(a.shape[:2]), : min(a.shape[:2])]  # noqa: E731
    photos = {
        "astronaut": sd.astronaut(),
        "coffee": square(sd.coffee()),
        "chelsea": square(sd.chelsea()),
        "rocket": square(sd.rocket()),
        "hubble": sd.hubble_deep_field()[:512, :512],
        "ihc": sd.immunohistochemistry(),
    }
    for name, a in photos.items():
        im = Image.fromarray(np.ascontiguousarray(a))
        if im.size != (512, 512):
            im = im.resize((512, 512), Image.Resampling.BICUBIC)
        im.save(os.path.join(out, f"{name}.jpg"), quality=90)
        print(os.path.join(out, f"{name}.jpg"))


def bench(files, model, seconds, train=None):
    import random

    import timm
    import torch
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    torch.set_num_threads(1)
    if train is not None and train.aa:
        import pillow_posterize

        pillow_posterize.install()
    # Fixed draws, so that two runs time the same crops and ops.
    random.seed(0)
    torch.manual_seed(0)
    cfg = resolve_data_config({}, model=timm.create_model(model, pretrained=False))
    if train is None:
        tf = create_transform(**cfg)
    else:
        # train.py's create_loader call, less the loader: its defaults for
        # what the flags leave out (scale, ratio, hflip 0.5, color jitter
        # 0.4, which timm drops under a non-3a --aa).
        size = train.img_size or cfg["input_size"][-1]
        tf = create_transform(
            input_size=(3, size, size), is_training=True, auto_augment=train.aa,
            re_prob=train.reprob, re_mode=train.remode,
            interpolation=train.train_interpolation, mean=cfg["mean"], std=cfg["std"],
        )
        cfg["input_size"] = (3, size, size)
    for f in files:
        tf(Image.open(f))  # warm-up
    n, decode, total = 0, 0.0, 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for f in files:
            t0 = time.perf_counter()
            im = Image.open(f)
            im.load()
            t1 = time.perf_counter()
            x = tf(im)
            t2 = time.perf_counter()
            decode += t1 - t0
            total += t2 - t0
            n += 1
    del x
    print(json.dumps({
        "impl": "pillow+torchvision" if train is None else "timm",
        "transform": "eval" if train is None else "train", "model": model,
        "size": cfg["input_size"][-1], "images": n,
        "img_per_s": round(n / total, 1), "decode_ms": round(decode * 1e3 / n, 3),
        "transform_ms": round((total - decode) * 1e3 / n, 3),
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--make")
    p.add_argument("--model", default="dpn92")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--train", action="store_true")
    # Spelled and defaulted as timm's train.py (and so dpn train) spells them.
    p.add_argument("--img-size", type=int, default=None)
    p.add_argument("--aa", default=None)
    p.add_argument("--reprob", type=float, default=0.0)
    p.add_argument("--remode", default="pixel")
    p.add_argument("--train-interpolation", default="random")
    p.add_argument("files", nargs="*")
    a = p.parse_args()
    if a.make:
        make(a.make)
    else:
        bench(a.files, a.model, a.seconds, a if a.train else None)


if __name__ == "__main__":
    main()
