"""timm's side of tests/train_mixup.rs: run timm's own Mixup on dpn's draws.

usage: mixup_reference.py CASES_JSON TENSORS_SAFETENSORS

CASES_JSON (written by the Rust test) holds settings (mode, alphas, minmax, prob,
switch prob, label smoothing, classes, whether mixing is enabled) and, per update,
the draws dpn made (augment::mixup::Draws, serialized). TENSORS holds for case c,
update u: c{c}_u{u}_x (the batch), _y (int64 labels), _mixed and _targets (dpn's
output).

For each update, timm.data.mixup.Mixup (built with the case's settings, correct_lam
True as train.py builds it, mixup_enabled set as dpn's epoch had it) is called on a
copy of the batch with timm.data.mixup's `np` replaced by a module whose `random`
replays dpn's draws: np.random.rand, np.random.beta and np.random.randint each return
dpn's next values for that function (arrays where timm asks for a size, with the size
and alphas checked, randint values checked to lie in timm's [low, high)), and every
draw must be used. timm's mixed batch and targets must equal dpn's byte for byte
(same float32 operations in the same order: timm's float32 lambdas per element,
float64 per batch). dpn's loss must equal timm's SoftTargetCrossEntropy on the same logits
and timm's targets byte for byte.

Prints one JSON line: how often each path (unmixed, mixup, cutmix) was taken per mode,
the boxes clipped by the image border, and the Beta draws' Kolmogorov-Smirnov p-values.
Exits 1 with a message on the first mismatch or failed statistic.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check(("torch", "timm", "numpy"))

import json
import math
import sys

import numpy as np
import torch
from safetensors.torch import load_file
from scipy import stats

import timm.data.mixup as mixup_mod
from timm.data.mixup import Mixup
from timm.loss import SoftTargetCrossEntropy


def fail(msg):
    sys.exit(f"mixup_reference.py: {msg}")


class Replay:
    """Stands in for numpy.random inside timm.data.mixup."""

    def __init__(self, rand, beta, randint, where):
        self.rand_q, self.beta_q, self.randint_q = rand, beta, randint
        self.where = where
        self.beta_alphas = []

    def _pop(self, q, call):
        if not q:
            fail(f"{self.where}: timm calls np.random.{call} after dpn's draws ran out")
        return q.pop(0)

    def rand(self, *size):
        v = self._pop(self.rand_q, "rand")
        if not size:
            if isinstance(v, list):
                fail(f"{self.where}: timm asks rand() for one value, dpn drew {len(v)}")
            return float(v)
        if not isinstance(v, list) or len(v) != size[0]:
            fail(f"{self.where}: timm asks rand({size[0]}), dpn drew {v!r}")
        return np.array(v, dtype=np.float64)

    def beta(self, a, b, size=None):
        alpha, v = self._pop(self.beta_q, "beta")
        if a != b or a != alpha:
            fail(f"{self.where}: timm asks beta({a}, {b}), dpn drew Beta({alpha}, {alpha})")
        self.beta_alphas.append((alpha, v))
        if size is None:
            if isinstance(v, list):
                fail(f"{self.where}: timm asks one beta value, dpn drew {len(v)}")
            return float(v)
        if not isinstance(v, list) or len(v) != size:
            fail(f"{self.where}: timm asks beta(size={size}), dpn drew {v!r}")
        return np.array(v, dtype=np.float64)

    def randint(self, low, high=None, size=None):
        if high is None or size is not None:
            fail(f"{self.where}: unexpected randint({low}, {high}, size={size})")
        v = self._pop(self.randint_q, "randint")
        if not (low <= v < high):
            fail(f"{self.where}: dpn's {v} is outside timm's randint({low}, {high})")
        return int(v)

    def left(self):
        return len(self.rand_q) + len(self.beta_q) + len(self.randint_q)


class NpShim:
    """numpy, except that `random` is the replay."""

    def __init__(self, replay):
        self.random = replay

    def __getattr__(self, name):
        return getattr(np, name)


def box_values(b):
    if b is None:
        return []
    if b["kind"] == "centre":
        return [b["cy"], b["cx"]]
    return [b["cut_h"], b["cut_w"], b["yl"], b["xl"]]


def queues(case, d):
    """dpn's draws as what each np.random function returns, in call order."""
    cutmix_alpha = 1.0 if case["cutmix_minmax"] is not None else case["cutmix_alpha"]
    if d["kind"] == "off":
        return [], [], []
    if d["kind"] == "batch":
        rand = [d["apply"]] + ([d["switch"]] if d["switch"] is not None else [])
        beta = []
        if d["beta"] is not None:
            # Which alpha timm asks for is its own decision; the replay checks it
            # against the one dpn drew with.
            switch = d["switch"]
            if switch is not None:
                alpha = cutmix_alpha if switch < case["switch_prob"] else case["mixup_alpha"]
            else:
                alpha = case["mixup_alpha"] if case["mixup_alpha"] > 0 else cutmix_alpha
            beta = [(alpha, d["beta"])]
        return rand, beta, box_values(d["bbox"])
    rand = ([d["switch"]] if d["switch"] is not None else []) + [d["apply"]]
    beta = []
    if d["beta_cutmix"] is not None:
        beta.append((cutmix_alpha, d["beta_cutmix"]))
    if d["beta_mixup"] is not None:
        beta.append((case["mixup_alpha"], d["beta_mixup"]))
    randint = [v for b in d["boxes"] for v in box_values(b)]
    return rand, beta, randint


def main():
    cases = json.load(open(sys.argv[1], encoding="utf-8"))
    t = load_file(sys.argv[2])
    paths = {m: {"unmixed": 0, "mixup": 0, "cutmix": 0} for m in ("batch", "pair", "elem")}
    clipped = [0]
    losses = [0]
    betas = {}
    switch_stats = []

    orig_rand_bbox = mixup_mod.rand_bbox

    def rand_bbox(img_shape, lam, margin=0.0, count=None):
        yl, yh, xl, xh = orig_rand_bbox(img_shape, lam, margin, count)
        img_h, img_w = img_shape[-2:]
        ratio = mixup_mod.np.sqrt(1 - lam)
        cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
        if yh - yl != cut_h or xh - xl != cut_w:
            clipped[0] += 1
        return yl, yh, xl, xh

    mixup_mod.rand_bbox = rand_bbox

    class Counting(Mixup):
        def _params_per_batch(self):
            lam, use_cutmix = super()._params_per_batch()
            self.taken.append("unmixed" if lam == 1.0 else ("cutmix" if use_cutmix else "mixup"))
            return lam, use_cutmix

        def _params_per_elem(self, batch_size):
            lam, use_cutmix = super()._params_per_elem(batch_size)
            for l, c in zip(lam, use_cutmix):
                self.taken.append("unmixed" if l == 1.0 else ("cutmix" if c else "mixup"))
            return lam, use_cutmix

    for ci, case in enumerate(cases):
        m = Counting(
            mixup_alpha=case["mixup_alpha"],
            cutmix_alpha=case["cutmix_alpha"],
            cutmix_minmax=case["cutmix_minmax"],
            prob=case["prob"],
            switch_prob=case["switch_prob"],
            mode=case["mode"],
            correct_lam=True,
            label_smoothing=case["label_smoothing"],
            num_classes=case["num_classes"],
        )
        m.mixup_enabled = case["enabled"]
        cutmix_batches = 0
        for u, d in enumerate(case["draws"]):
            where = f"case {ci} ({case['mode']}) update {u}"
            k = f"c{ci}_u{u}"
            replay = Replay(*queues(case, d), where)
            mixup_mod.np = NpShim(replay)
            m.taken = []
            try:
                x, target = m(t[f"{k}_x"].clone(), t[f"{k}_y"].clone())
            finally:
                mixup_mod.np = np
            if replay.left():
                fail(f"{where}: timm left {replay.left()} of dpn's draws unused")
            for p in m.taken:
                paths[case["mode"]][p] += 1
            cutmix_batches += case["mode"] == "batch" and m.taken == ["cutmix"]
            for alpha, v in replay.beta_alphas:
                betas.setdefault(alpha, []).extend(v if isinstance(v, list) else [v])
            for name, mine, theirs in (("batch", t[f"{k}_mixed"], x), ("targets", t[f"{k}_targets"], target)):
                if mine.dtype != theirs.dtype or mine.shape != theirs.shape:
                    fail(f"{where}: {name} {mine.dtype} {tuple(mine.shape)}, timm {theirs.dtype} {tuple(theirs.shape)}")
                if not torch.equal(mine, theirs):
                    diff = (mine.double() - theirs.double()).abs().max().item()
                    fail(f"{where}: dpn's mixed {name} differs from timm's (max {diff:.3g}); paths {m.taken}")
            if f"{k}_logits" in t:
                want = SoftTargetCrossEntropy()(t[f"{k}_logits"], target)
                if not torch.equal(t[f"{k}_loss"], want):
                    fail(f"{where}: dpn's loss {t[f'{k}_loss'].item()!r}, timm's SoftTargetCrossEntropy {want.item()!r}")
                losses[0] += 1
        n = len(case["draws"])
        if case["mode"] == "batch" and case["enabled"] and n >= 100:
            # Which path timm took on dpn's draws, over many: the rates asked for.
            mixed = n * case["prob"]
            both = case["mixup_alpha"] > 0 and case["cutmix_alpha"] > 0
            want = case["switch_prob"] if both else 0.0
            sd = math.sqrt(mixed * want * (1 - want)) or 1.0
            if abs(cutmix_batches - mixed * want) > 4 * sd:
                fail(f"case {ci}: {cutmix_batches} of {n} batches took cutmix, expected about {mixed * want:.0f}")
            switch_stats.append({"case": ci, "batches": n, "cutmix": cutmix_batches})

    ks = {}
    for alpha, vals in sorted(betas.items()):
        if len(vals) < 50:
            continue
        p = stats.kstest(vals, stats.beta(alpha, alpha).cdf).pvalue
        ks[str(alpha)] = {"n": len(vals), "p": p}
        if p < 1e-4:
            fail(f"dpn's Beta({alpha}, {alpha}) draws fail Kolmogorov-Smirnov (p {p:.2g}, {len(vals)} values)")
    print(json.dumps({"paths": paths, "clipped_boxes": clipped[0], "losses": losses[0], "beta_ks": ks, "switch": switch_stats}))


if __name__ == "__main__":
    main()
