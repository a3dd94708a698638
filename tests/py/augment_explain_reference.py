"""Replays `dpn augment --explain` through torchvision's and timm's own
functions and checks the bytes of dpn's PNGs (tests/augment_cli.rs).

usage: augment_explain_reference.py STEPS.jsonl
Prints one line per checked image; exits 1 on the first difference.
"""
import json
import random
import sys

import numpy as np
import torchvision.transforms.functional as F
from PIL import Image
from timm.data.auto_augment import NAME_TO_OP
from torchvision.transforms import InterpolationMode

FILTERS = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC,
           "nearest": InterpolationMode.NEAREST}


def layer(img, rec):
    if not rec["applied"]:
        return img
    kw = dict(rec["kwargs"])
    kw["fillcolor"] = tuple(kw["fillcolor"])
    if "blur_u" in rec:
        # GaussianBlurRand draws its radius inside the op with
        # random.uniform (a + (b - a) * u): replay dpn's u.
        saved = random.uniform
        random.uniform = lambda a, b: a + (b - a) * rec["blur_u"]
        try:
            return NAME_TO_OP[rec["op"]](img, *rec["args"], **kw)
        finally:
            random.uniform = saved
    return NAME_TO_OP[rec["op"]](img, *rec["args"], **kw)


def main():
    checked = 0
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r["mixup"] is not None or any(o["op"] == "RandomErasing" for o in r["ops"]):
            continue
        img = Image.open(r["source"]).convert("RGB")
        c, s = r["crop"], r["img_size"]
        img = F.resized_crop(img, c["top"], c["left"], c["height"], c["width"], [s, s],
                             FILTERS[r["interpolation"]])
        if r["hflip"]:
            img = F.hflip(img)
        if r["vflip"]:
            img = F.vflip(img)
        for op in r["ops"]:
            # torchvision's transforms first: timm's NAME_TO_OP also has a
            # "GaussianBlur" (a RandAugment op, another function).
            if op["op"] == "ColorJitter":
                # torchvision's ColorJitter: the adjustments in the drawn order.
                for step in op["steps"]:
                    img = getattr(F, step["op"])(img, step["factor"])
            elif op["op"] == "RandomGrayscale":
                if op["applied"]:
                    img = F.rgb_to_grayscale(img, num_output_channels=3)
            elif op["op"] == "GaussianBlur":
                if op["applied"]:
                    s_ = op["sigma"]
                    img = F.gaussian_blur(img, [op["kernel_size"]] * 2, [s_, s_])
            elif op["op"] in NAME_TO_OP:
                img = layer(img, op)
            else:
                raise SystemExit(f"no replay for {op['op']}")
        want = np.asarray(img)
        got = np.asarray(Image.open(r["file"]).convert("RGB"))
        if not np.array_equal(want, got):
            d = np.abs(want.astype(int) - got.astype(int))
            raise SystemExit(f"{r['file']}: {int((d > 0).sum())} bytes differ (max {d.max()})")
        checked += 1
        print(f"{r['file']}: equal ({sum(bool(o.get('applied', False)) for o in r['ops'])} ops)")
    if checked == 0:
        raise SystemExit("nothing to check")


main()
