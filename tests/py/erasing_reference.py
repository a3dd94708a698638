"""timm's side of tests/train_erasing.rs: run timm's own RandomErasing on dpn's draws.

usage: erasing_reference.py CASES_JSON

CASES_JSON (written by the Rust test) holds settings ({probability, mode, recount} and
dpn's resolved RandomErasing fields) and cases: a CHW float32 image, the calls to
Python's `random` that dpn's erasing made for it (random / uniform / randint, with
their arguments and results), dpn's boxes with their fill values, and dpn's output.

For each setting, timm's transforms_imagenet_train(re_prob, re_mode, re_count,
re_num_splits=2) must end in Normalize then RandomErasing with dpn's parameters. Then
that RandomErasing instance is called on each image with timm.data.random_erasing's
`random` replaced by a replay of dpn's draws: every call timm makes must be the next
recorded one, with the same arguments (so timm picks its boxes from the same numbers
by its own code), and every recorded draw must be used. `_get_pixels` returns timm's
own zeros in const mode and dpn's normal values (shaped as timm's: (C, 1, 1) for
rand, (C, h, w) for pixel) otherwise, after checking the patch size it is asked
for. timm's output must equal dpn's byte for byte. The fill values of rand and pixel
are then checked to be standard normal (mean, std, Kolmogorov-Smirnov).

Prints one JSON line: counts and the fill statistics. Exits 1 with a message on the
first mismatch.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check(("torch", "timm", "numpy"))

import json
import math
import sys

import numpy as np
import torch
from scipy import stats
from torchvision import transforms

import timm.data.random_erasing as re_mod
from timm.data.random_erasing import RandomErasing
from timm.data.transforms_factory import transforms_imagenet_train


def fail(msg):
    sys.exit(f"erasing_reference.py: {msg}")


class Replay:
    """Stands in for the `random` module inside timm.data.random_erasing."""

    def __init__(self, draws, where):
        self.draws = draws
        self.i = 0
        self.where = where

    def _next(self, call, args=()):
        if self.i >= len(self.draws):
            fail(f"{self.where}: timm calls {call}{args} after dpn's {len(self.draws)} draws")
        d = self.draws[self.i]
        self.i += 1
        if d["call"] != call:
            fail(f"{self.where}: draw {self.i - 1}: timm calls {call}{args}, dpn drew {d}")
        if call != "random" and (d["a"], d["b"]) != args:
            fail(f"{self.where}: draw {self.i - 1}: timm calls {call}{args}, dpn drew {d}")
        return d

    def random(self):
        return self._next("random")["value"]

    def uniform(self, a, b):
        # CPython's Random.uniform: a + (b - a) * self.random()
        return a + (b - a) * self._next("uniform", (a, b))["u"]

    def randint(self, a, b):
        v = self._next("randint", (a, b))["value"]
        if not (a <= v <= b):
            fail(f"{self.where}: randint({a}, {b}) = {v} is out of range")
        return v


def timm_erasing(s):
    """The RandomErasing that timm's train transform ends with for setting s."""
    tf = transforms_imagenet_train(
        img_size=32,
        re_prob=s["probability"],
        re_mode=s["mode"],
        re_count=s["recount"],
        re_num_splits=2,
    )
    steps = tf.transforms
    if not isinstance(steps[-1], RandomErasing) or not isinstance(steps[-2], transforms.Normalize):
        fail(f"timm's train transform does not end in Normalize, RandomErasing: {steps}")
    e = steps[-1]
    got = {
        "probability": e.probability,
        "mode": e.mode,
        "min_count": e.min_count,
        "max_count": e.max_count,
        "min_area": e.min_area,
        "max_area": e.max_area,
        "log_aspect": list(e.log_aspect_ratio),
    }
    for k, v in got.items():
        if s["dpn"][k] != v:
            fail(f"setting {s}: timm's {k} is {v!r}, dpn's {s['dpn'][k]!r}")
    return e


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    erasers = [timm_erasing(s) for s in spec["settings"]]
    orig_get_pixels = re_mod._get_pixels
    counts = {"cases": 0, "erased": 0, "boxes": 0, "draws": 0}
    fills = {"rand": [], "pixel": []}
    for n, case in enumerate(spec["cases"]):
        e = erasers[case["setting"]]
        c, h, w = case["chan"], case["h"], case["w"]
        where = f"case {n} ({c}x{h}x{w}, {spec['settings'][case['setting']]})"
        img = torch.tensor(case["input"], dtype=torch.float32).view(c, h, w)
        boxes = list(case["boxes"])
        used = []

        def get_pixels(per_pixel, rand_color, patch_size, dtype=torch.float32, device="cuda"):
            if not boxes:
                fail(f"{where}: timm fills a box dpn did not")
            b = boxes.pop(0)
            if tuple(patch_size) != (c, b["height"], b["width"]):
                fail(f"{where}: timm fills a {patch_size} box, dpn a {b}")
            used.append(b)
            if not per_pixel and not rand_color:
                return orig_get_pixels(per_pixel, rand_color, patch_size, dtype=dtype, device=device)
            shape = patch_size if per_pixel else (patch_size[0], 1, 1)
            v = torch.tensor(b["fill"], dtype=dtype, device=device)
            if v.numel() != math.prod(shape):
                fail(f"{where}: dpn's fill has {v.numel()} values, timm's shape is {shape}")
            return v.view(shape)

        replay = Replay(case["draws"], where)
        re_mod.random = replay
        re_mod._get_pixels = get_pixels
        try:
            out = e(img)
        finally:
            re_mod._get_pixels = orig_get_pixels
        if replay.i != len(case["draws"]):
            fail(f"{where}: timm used {replay.i} of dpn's {len(case['draws'])} draws")
        if boxes:
            fail(f"{where}: dpn filled {len(boxes)} boxes more than timm")
        want = torch.tensor(case["output"], dtype=torch.float32).view(c, h, w)
        if out.numpy().tobytes() != want.numpy().tobytes():
            diff = (out != want).nonzero()[:5].tolist()
            fail(f"{where}: timm's output differs from dpn's at {diff}")
        counts["cases"] += 1
        counts["erased"] += bool(used)
        counts["boxes"] += len(used)
        counts["draws"] += replay.i
        mode = spec["settings"][case["setting"]]["mode"]
        for b in used:
            if mode in fills:
                fills[mode].extend(b["fill"])
    result = dict(counts)
    for mode, values in fills.items():
        if not values:
            continue
        x = np.asarray(values, dtype=np.float64)
        ks = stats.kstest(x, "norm")
        result[mode] = {"n": len(x), "mean": x.mean(), "std": x.std(), "ks_p": ks.pvalue}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
