"""Replays `dpn augment --explain` through torchvision's and timm's own
functions and checks the bytes of dpn's PNGs (tests/augment_cli.rs).

usage: augment_explain_reference.py STEPS.jsonl[@MODE[:MIN,MAX]]... [--model NAME]

MODE: the --mixup-mode the steps were made with (batch, pair, elem;
default batch); MIN,MAX: their --cutmix-minmax.

Each record is replayed as timm's training transform runs it:

- the crop, flips, RandAugment / AutoAugment ops (timm's NAME_TO_OP) and
  colour jitter, grayscale, blur (torchvision's functions) with dpn's
  recorded arguments;
- AugMix through timm's own `AugMixAugment.__call__` (its np.float32 mixing,
  or `_calc_blended_weights` / `_apply_blended` when blended) with numpy's
  draws (`dirichlet`, `beta`, `randint`, `choice`) answered by the recorded
  weights, blend and chains;
- ToTensor and Normalize with the model's mean and std, then timm's own
  `RandomErasing` with Python's `random` answered so that it places the
  recorded boxes, and `_get_pixels` returning the recorded fill (`rand`),
  timm's zeros (`const`), or timm's own normal values (`pixel`);
- per version (the images given form the batch), timm's own `Mixup` on the
  stacked batch, numpy's draws answered so that it uses the recorded lambda
  or box;
- the picture as dpn's `picture()` (src/commands/augment.rs) makes it: the
  replayed 8-bit pixel where the floats are still the normalized ones, else
  `(x * std + mean) * 255` in float32, rounded half away from zero, clamped.

Everything must equal dpn's PNG byte for byte, except the inside of a
`pixel` erasing box: those values are N(0, 1) draws of dpn's own generator,
not torch's, so their statistics are checked instead (see pixel_stats).

Prints one line per checked image (`FILE: equal (...)`), then a line per
channel of the pixel-erasing statistics (`pixel erasing: ...`); exits 1 on
the first difference.
"""
import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check(("torch", "timm", "numpy", "pillow", "torchvision"))

import contextlib
import functools
import json
import math
import random
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from scipy import stats

import timm
import timm.data.random_erasing as re_mod
from timm.data.auto_augment import NAME_TO_OP, AugMixAugment
from timm.data.mixup import Mixup
from timm.data.random_erasing import RandomErasing
from torchvision.transforms import InterpolationMode

FILTERS = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC,
           "nearest": InterpolationMode.NEAREST}


def fail(msg):
    raise SystemExit(f"augment_explain_reference.py: {msg}")


@contextlib.contextmanager
def patched(obj, **attrs):
    """Replaces attributes of `obj` (a module) for the duration."""
    saved = {k: getattr(obj, k) for k in attrs}
    for k, v in attrs.items():
        setattr(obj, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(obj, k, v)


def layer(img, rec):
    if not rec["applied"]:
        return img
    kw = dict(rec["kwargs"])
    kw["fillcolor"] = tuple(kw["fillcolor"])
    if "blur_u" in rec:
        # GaussianBlurRand draws its radius inside the op with
        # random.uniform (a + (b - a) * u): replay dpn's u.
        with patched(random, uniform=lambda a, b: a + (b - a) * rec["blur_u"]):
            return NAME_TO_OP[rec["op"]](img, *rec["args"], **kw)
    return NAME_TO_OP[rec["op"]](img, *rec["args"], **kw)


def augmix(img, rec):
    """timm's AugMixAugment on `img`, numpy's draws answered from `rec`."""
    chains = [[functools.partial(layer, rec=op) for op in c] for c in rec["chains"]]
    ws = np.array(rec["ws"], dtype=np.float64)
    if ws.astype(np.float32).astype(np.float64).tolist() != rec["ws"]:
        fail(f"AugMix ws {rec['ws']} are not float32 values")
    at = {"chain": 0}

    def dirichlet(alpha):
        if len(alpha) != len(chains):
            fail(f"dirichlet over {len(alpha)} parts for {len(chains)} chains")
        return ws

    def beta(a, b):
        return rec["m"]

    def randint(lo, hi):
        # depth = np.random.randint(1, 4): the next chain's length.
        n = len(chains[at["chain"]])
        if (lo, hi) != (1, 4) or not 1 <= n <= 3:
            fail(f"randint({lo}, {hi}) for a chain of {n} ops")
        return n

    def choice(ops, depth, replace=True):
        chain = chains[at["chain"]]
        at["chain"] += 1
        if depth != len(chain) or not replace or any(o not in ops for o in chain):
            fail(f"choice of {depth} ops for a chain of {len(chain)}")
        return chain

    aug = AugMixAugment([op for c in chains for op in c], alpha=1.0, width=len(chains),
                        depth=-1, blended=rec["blended"])
    with patched(np.random, dirichlet=dirichlet, beta=beta, randint=randint, choice=choice):
        out = aug(img)
    if at["chain"] != len(chains):
        fail(f"timm ran {at['chain']} of {len(chains)} chains")
    return out


def replay_rgb(r):
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
        elif op["op"] == "AugMix":
            img = augmix(img, op)
        elif op["op"] == "RandomErasing":
            pass  # on the normalized tensor, below
        elif op["op"] in NAME_TO_OP:
            img = layer(img, op)
        else:
            fail(f"no replay for {op['op']}")
    return img


def erasing_draws(boxes, area_hw):
    """Python `random` results that make timm's `_erase` (count =
    len(boxes)) place exactly `boxes` on its first attempts: dpn's trace
    records the boxes, not the uniforms behind them. Any
    (target_area, aspect) inside timm's ranges whose rounded sides are the
    box's will do; finding none means dpn recorded a box timm cannot draw.

    The count is taken as the number of recorded boxes: a box whose 10
    attempts all failed is not in the trace (rare: it needs a side over the
    image's ten times running), and would then make the area range here a
    little wider than the one dpn drew from."""
    img_h, img_w = area_hw
    area, count = img_h * img_w, len(boxes)
    lo_a, hi_a = 0.02 * area / count, (1 / 3) * area / count
    lo_r, hi_r = math.log(0.3), math.log(1 / 0.3)
    out = []
    for b in boxes:
        h, w = b["height"], b["width"]
        pick = None
        steps = 41
        # sqrt(target_area * aspect) in [h - .5, h + .5) and likewise w:
        # try the middle first, then the rest of the rounding cell.
        grid = sorted(range(steps), key=lambda i: abs(i - steps // 2))
        for i in grid:
            for j in grid:
                sh = h - 0.5 + (i + 0.5) / steps
                sw = w - 0.5 + (j + 0.5) / steps
                ta, asp = sh * sw, sh / sw
                if lo_a <= ta <= hi_a and lo_r <= math.log(asp) <= hi_r:
                    pick = (ta * count / area, math.log(asp))
                    break
            if pick:
                break
        if pick is None:
            fail(f"timm's RandomErasing cannot draw a {h}x{w} box in {img_h}x{img_w}"
                 f" with {count} boxes")
        out.append(pick)
    return out


class ErasingReplay:
    """Stands in for Python's `random` inside timm.data.random_erasing:
    each call must be the next one timm's `_erase` makes for the recorded
    boxes, with the arguments it takes."""

    def __init__(self, boxes, hw):
        img_h, img_w = hw
        self.calls = [("random", None, 0.0)]  # <= probability: erase
        if len(boxes) > 1:
            self.calls.append(("randint", (1, len(boxes)), len(boxes)))  # the count
        for b, (u_area, u_aspect) in zip(boxes, erasing_draws(boxes, hw)):
            self.calls += [
                ("uniform", (0.02, 1 / 3), u_area),
                ("uniform", (math.log(0.3), math.log(1 / 0.3)), u_aspect),
                ("randint", (0, img_h - b["height"]), b["top"]),
                ("randint", (0, img_w - b["width"]), b["left"]),
            ]

    def _next(self, call, args):
        if not self.calls:
            fail(f"timm calls {call}{args} after the recorded boxes")
        want, want_args, value = self.calls.pop(0)
        if call != want or (want_args is not None and not np.allclose(args, want_args, rtol=0, atol=1e-12)):
            fail(f"timm calls {call}{args} where the replay has {want}{want_args}")
        return value

    def random(self):
        return self._next("random", ())

    def uniform(self, a, b):
        return self._next("uniform", (a, b))

    def randint(self, a, b):
        return self._next("randint", (a, b))


def erase(t, ops):
    """timm's RandomErasing on the CHW tensor `t` (in place), placing the
    recorded boxes with their recorded fills."""
    recs = [o for o in ops if o["op"] == "RandomErasing"]
    if not recs:
        return []
    modes = {o["mode"] for o in recs}
    if len(modes) != 1:
        fail(f"erasing modes {modes} in one image")
    mode = modes.pop()
    boxes = [o["box"] for o in recs]
    chan, h, w = t.shape
    re = RandomErasing(probability=1.0, mode=mode, max_count=len(boxes), device="cpu")
    fills = [o["fill"] for o in recs]
    asked = []
    timm_pixels = re_mod._get_pixels

    def get_pixels(per_pixel, rand_color, patch_size, dtype=torch.float32, device="cuda"):
        b = boxes[len(asked)]
        f = fills[len(asked)]
        asked.append(patch_size)
        if tuple(patch_size) != (chan, b["height"], b["width"]):
            fail(f"timm asks for a {patch_size} patch for box {b}")
        if rand_color:
            # dpn's normal values where timm draws torch's.
            return torch.tensor(f, dtype=dtype).view(chan, 1, 1)
        if f:  # const: [], pixel: null (too many values to record)
            fail(f"{mode} erasing with a recorded fill")
        return timm_pixels(per_pixel, rand_color, patch_size, dtype=dtype, device=device)

    rnd = ErasingReplay(boxes, (h, w))
    with patched(re_mod, random=rnd, _get_pixels=get_pixels):
        re(t)
    if len(asked) != len(boxes) or rnd.calls:
        fail(f"timm placed {len(asked)} of {len(boxes)} boxes")
    return recs


def cutmix_draws(box, size, lam32):
    """(beta, cy, cx) that make timm's rand_bbox give `box`: dpn's trace
    records the box and the corrected lambda, not the drawn lambda. Square
    images: one cut side for both axes. `lam32`: the lambda is a float32
    (elem/pair modes)."""
    H = W = size
    y0, y1 = box["top"], box["top"] + box["height"]
    x0, x1 = box["left"], box["left"] + box["width"]
    for cut in range(H, -1, -1):
        cys = [c for c in range(H) if max(c - cut // 2, 0) == y0 and min(c + (cut + 1) // 2, H) == y1]
        cxs = [c for c in range(W) if max(c - cut // 2, 0) == x0 and min(c + (cut + 1) // 2, W) == x1]
        if cys and cxs:
            lam = 1 - ((cut + 0.5) / H) ** 2
            if lam32:
                lam = float(np.float32(lam))
                ok = int(H * np.sqrt(np.float32(1) - np.float32(lam))) == cut
            else:
                ok = int(H * np.sqrt(1 - lam)) == cut
            if ok:
                return lam, cys[0], cxs[0]
    fail(f"timm's rand_bbox cannot give the box {box} in {H}x{W}")


def mix(x, recs, mode, minmax=None):
    """timm's Mixup (`mode`: batch, pair or elem; `minmax`: its
    cutmix_minmax) on the NCHW batch `x` in place, numpy's draws answered so
    that it mixes with the recorded lambdas and boxes. Both alphas on, so that timm draws the mixup/cutmix switch;
    prob 0.5, so that a rand() of 0 mixes and 0.75 does not."""
    n, _, h, w = x.shape
    m = [r["mixup"] for r in recs]
    for i, e in enumerate(m):
        if e is not None and e["partner"] != n - 1 - i:
            fail(f"image {i} mixed with {e['partner']}, timm's partner is {n - 1 - i}")
    # What timm draws per mixing decision: one for the batch, one per pair
    # (the first half; the second half's records must agree), one per image.
    if mode == "batch":
        drawn = m[:1]
        unpaired = [None if e is None else dict(e, partner=None) for e in m]
        if any(e != unpaired[0] for e in unpaired):
            fail(f"batch mode with different records: {m}")
    elif mode == "pair":
        drawn = m[:n // 2]
        if any(m[n - 1 - i] != (None if e is None else dict(e, partner=i)) for i, e in enumerate(drawn)):
            fail(f"pair mode with unpaired records: {m}")
    else:
        drawn = m
    lam32 = mode != "batch"  # _params_per_elem's lambdas are float32
    switch, apply, beta_cut, beta_mix, ints = [], [], [], [], []
    for e in drawn:
        cutmix = e is not None and e["mode"] == "cutmix"
        switch.append(0.0 if cutmix else 0.75)  # use_cutmix = rand < switch_prob
        apply.append(0.75 if e is None else 0.0)  # mixed when rand < prob
        if cutmix and minmax:
            # rand_bbox_minmax: the sides, then the corner (lambda unused).
            b = e["box"]
            lo, hi = int(h * minmax[0]), int(h * minmax[1])
            ints += [((lo, hi), b["height"]), ((lo, hi), b["width"]),
                     ((0, h - b["height"] + 1), b["top"]), ((0, w - b["width"] + 1), b["left"])]
            beta_cut.append(0.5)
            beta_mix.append(0.5)
        elif cutmix:
            b, cy, cx = cutmix_draws(e["box"], h, lam32)
            beta_cut.append(b)
            beta_mix.append(0.5)
            ints += [((0, h), cy), ((0, w), cx)]
        else:
            beta_cut.append(0.5)
            beta_mix.append(0.5 if e is None else e["lam"])
    if mode == "batch":
        e = drawn[0]
        rands = [apply[0]] if e is None else [apply[0], switch[0]]
        betas = [] if e is None else [beta_cut[0] if e["mode"] == "cutmix" else beta_mix[0]]
    else:
        rands = [np.array(switch), np.array(apply)]
        betas = [np.array(beta_cut), np.array(beta_mix)]
    calls = []

    def rand(*size):
        calls.append(f"rand{size}")
        if not rands or np.shape(rands[0]) != size:
            fail(f"timm's Mixup calls rand{size} after {calls}")
        return rands.pop(0)

    def beta(a, b, size=None):
        calls.append(f"beta(size={size})")
        if not betas or np.shape(betas[0]) != (() if size is None else (size,)):
            fail(f"timm's Mixup calls beta(size={size}) after {calls}")
        return betas.pop(0)

    def randint(lo, hi, size=None):
        calls.append("randint")
        if size is not None or not ints or ints[0][0] != (lo, hi) or not lo <= ints[0][1] < hi:
            fail(f"timm's Mixup calls randint({lo}, {hi}, size={size}) after {calls},"
                 f" the replay has {ints[:1]}")
        return ints.pop(0)[1]

    mixer = Mixup(mixup_alpha=1.0, cutmix_alpha=1.0, cutmix_minmax=minmax, prob=0.5,
                  switch_prob=0.5, mode=mode,
                  correct_lam=True, label_smoothing=0.0, num_classes=n)
    with patched(np.random, rand=rand, beta=beta, randint=randint):
        _, target = mixer(x, torch.arange(n))
    if rands or betas or ints:
        fail(f"timm's Mixup made the calls {calls} only")
    for i, e in enumerate(m):
        # The label weight of image i's own class: its lambda, as float32.
        lam = target[i, i].item()
        if lam != (1.0 if e is None else float(np.float32(e["lam"]))):
            fail(f"image {i}: timm's lambda {lam}, dpn records {e}")


def picture(rgb, own, x, mean, std):
    """dpn's picture(): `rgb` HWC uint8, `own` and `x` CHW float32."""
    changed = own.view(np.uint32) != x.view(np.uint32)
    v = (x * std[:, None, None] + mean[:, None, None]) * np.float32(255)
    # Rust's f32::round (half away from zero); negatives clamp to 0 anyway.
    v = np.clip(np.floor(v.astype(np.float64) + 0.5), 0, 255).astype(np.uint8)
    out = rgb.copy()
    hwc = np.transpose(changed, (1, 2, 0))
    out[hwc] = np.transpose(v, (1, 2, 0))[hwc]
    return out


def pixel_stats(values, mean, std):
    """Checks that the erased pixels of `pixel` mode, read back from the
    PNG as (p / 255 - mean) / std per channel, are N(0, 1) draws seen
    through picture(): rounded to 8 bits and clamped to [0, 255] (clamping
    cuts about 2 standard deviations on each side for dpn68's mean and std,
    so the sample std is visibly below 1). The exact mean and variance of
    that quantized, clamped normal are computed per channel, and the sample
    must be within 5 standard errors of them (the sample is thousands of
    pixels per channel: a standard error of about 0.01). Also a
    Kolmogorov-Smirnov test of the sample against the same discrete law."""
    lines = []
    for c in range(3):
        v = values[c]
        n = len(v)
        levels = np.arange(256)
        at = (levels / 255 - mean[c]) / std[c]
        edges = ((levels + 0.5) / 255 - mean[c]) / std[c]
        cdf = stats.norm.cdf(edges)
        cdf[-1] = 1.0
        p = np.diff(np.concatenate([[0.0], cdf]))
        mu = float((p * at).sum())
        var = float((p * (at - mu) ** 2).sum())
        m4 = float((p * (at - mu) ** 4).sum())
        se_mean = math.sqrt(var / n)
        se_var = math.sqrt((m4 - var ** 2) / n)
        got_mu, got_var = float(np.mean(v)), float(np.var(v))
        if abs(got_mu - mu) > 5 * se_mean or abs(got_var - var) > 5 * se_var:
            fail(f"pixel erasing, channel {c}: {n} values, mean {got_mu:.4f} (want {mu:.4f}"
                 f" +- {5 * se_mean:.4f}), var {got_var:.4f} (want {var:.4f} +- {5 * se_var:.4f})")
        # The sample's CDF at each level against the law's: the largest gap
        # within the KS 0.001 critical value (1.95 / sqrt(n)).
        sample = np.searchsorted(np.sort(v), at, side="right") / n
        gap = float(np.max(np.abs(sample - cdf)))
        if gap > 1.95 / math.sqrt(n):
            fail(f"pixel erasing, channel {c}: KS distance {gap:.4f} over {n} values")
        lines.append(f"ch{c} n={n} mean={got_mu:+.4f} (law {mu:+.4f}, raw N(0,1) 0)"
                     f" std={math.sqrt(got_var):.4f} (law {math.sqrt(var):.4f}) ks={gap:.4f}")
    return lines


def box_mask(shape, ops):
    """The `pixel` erasing boxes of one record, as an H x W mask."""
    mask = np.zeros(shape, dtype=bool)
    for o in ops:
        if o["op"] == "RandomErasing" and o["mode"] == "pixel":
            b = o["box"]
            mask[b["top"]:b["top"] + b["height"], b["left"]:b["left"] + b["width"]] = True
    return mask


def main():
    args = sys.argv[1:]
    model = "dpn68"
    if "--model" in args:
        i = args.index("--model")
        model = args[i + 1]
        del args[i:i + 2]
    cfg = timm.models.get_pretrained_cfg(model)
    mean = np.array(cfg.mean, dtype=np.float32)
    std = np.array(cfg.std, dtype=np.float32)
    torch.manual_seed(0)
    batches = {}
    for arg in args:
        steps, _, mode = arg.partition("@")
        mode, _, minmax = mode.partition(":")
        mode = (mode or "batch", tuple(float(v) for v in minmax.split(",")) if minmax else None)
        for line in open(steps):
            r = json.loads(line)
            batches.setdefault((steps, mode, r["version"]), []).append(r)
    checked = 0
    pixel_values = [[], [], []]
    for (_, (mode, minmax), _), recs in batches.items():
        rgbs, owns, xs = [], [], []
        for r in recs:
            rgb = replay_rgb(r)
            t = F.normalize(F.to_tensor(rgb), list(cfg.mean), list(cfg.std))
            own = t.clone()
            erase(t, r["ops"])
            rgbs.append(np.asarray(rgb))
            owns.append(own.numpy())
            xs.append(t)
        x = torch.stack(xs)
        if any(r["mixup"] is not None for r in recs) or mode != "batch":
            mix(x, recs, mode, list(minmax) if minmax else None)
        s = x.shape[-1]
        masks = [box_mask((s, s), r["ops"]) for r in recs]
        for i, r in enumerate(recs):
            want = picture(rgbs[i], owns[i], x[i].numpy(), mean, std)
            got = np.asarray(Image.open(r["file"]).convert("RGB"))
            mask = masks[i]
            pixel = bool(mask.any())
            if r["mixup"] is not None:
                # Blended or pasted: the partner's pixel boxes show here too,
                # and no box holds dpn's normal values alone.
                mask = mask | masks[r["mixup"]["partner"]]
            elif pixel:
                inside = got[mask].astype(np.float64)
                # The box is where recorded: nothing outside it changed (the
                # byte comparison below), nearly all its pixels are new, and
                # so is a pixel of each of its edge rows and columns.
                new = np.any(got != rgbs[i], axis=2)
                if new[mask].mean() < 0.8:
                    fail(f"{r['file']}: {1 - new[mask].mean():.0%} of the pixel boxes unchanged")
                for o in r["ops"]:
                    if o["op"] == "RandomErasing":
                        b = o["box"]
                        inner = new[b["top"]:b["top"] + b["height"], b["left"]:b["left"] + b["width"]]
                        if not all(e.any() for e in (inner[0], inner[-1], inner[:, 0], inner[:, -1])):
                            fail(f"{r['file']}: an edge of the pixel box {b} is unchanged")
                for c in range(3):
                    pixel_values[c].extend((inside[:, c] / 255 - mean[c]) / std[c])
            if not np.array_equal(want[~mask], got[~mask]):
                d = np.abs(want.astype(int) - got.astype(int))
                d[mask] = 0
                fail(f"{r['file']}: {int((d > 0).sum())} bytes differ (max {d.max()})")
            checked += 1
            ops = sum(bool(o.get("applied", True)) for o in r["ops"])
            print(f"{r['file']}: equal ({ops} ops"
                  f"{', ' + r['mixup']['mode'] if r['mixup'] is not None else ''}"
                  f"{', outside pixel boxes' if mask.any() else ''})")
    if pixel_values[0]:
        for line in pixel_stats([np.array(v) for v in pixel_values], mean, std):
            print(f"pixel erasing: {line}")
    if checked == 0:
        fail("nothing to check")


main()
