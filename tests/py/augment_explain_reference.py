"""Replays `dpn augment --explain` through torchvision's and timm's own
functions and checks the bytes of dpn's PNGs (tests/augment_cli.rs).

usage: augment_explain_reference.py STEPS.jsonl
Prints one line per checked image; exits 1 on the first difference.
"""
import json
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
            if op["op"] in NAME_TO_OP:
                img = layer(img, op)
            else:
                raise SystemExit(f"no replay for {op['op']}")
        want = np.asarray(img)
        got = np.asarray(Image.open(r["file"]).convert("RGB"))
        if not np.array_equal(want, got):
            d = np.abs(want.astype(int) - got.astype(int))
            raise SystemExit(f"{r['file']}: {int((d > 0).sum())} bytes differ (max {d.max()})")
        checked += 1
        print(f"{r['file']}: equal ({sum(o.get('applied', False) for o in r['ops'])} ops)")
    if checked == 0:
        raise SystemExit("nothing to check")


main()
