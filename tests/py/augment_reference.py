"""Reference data for tests/augment_ops.rs: timm's AutoAugment/RandAugment ops
(timm.data.auto_augment.NAME_TO_OP, LEVEL_TO_ARG) on small images.

usage: augment_reference.py OUT_DIR

Writes, into OUT_DIR (which the caller creates):

  images.bin     the input images, u8 HWC RGB, one after the other
  expected.bin   every case's output, u8 HWC RGB, one after the other
  manifest.json  {images: [{name, w, h, offset}],
                  cases: [{image, op, magnitude, negate, resample, fill,
                           translate_const, arg, arg_kind, offset, error}]}

A case with a magnitude ran `arg = LEVEL_TO_ARG[op](magnitude, hparams)` with
`_randomly_negate`'s draw forced (negate: random.random() returns 0.75, else
0.25) and then `NAME_TO_OP[op](img, *arg, fillcolor=fill, resample=resample)`;
a case without one ran the op function on `arg` directly. arg_kind is "none",
"int" or "float" (Python's type of the argument); error is the exception's
message where timm raised (Pillow 13's posterize with 0 bits), else null and
the output is at `offset` in expected.bin (same size as the input).

usage: augment_reference.py --replay REF_DIR CASES_JSON OUT_DIR
       augment_reference.py --replay-auto REF_DIR CASES_JSON OUT_DIR
       augment_reference.py --replay-augmix REF_DIR CASES_JSON OUT_DIR

Replays dpn's RandAugment draws through timm's own rand_augment_transform and
RandAugment: CASES_JSON is [{config, translate_const, img_mean, interpolation,
image, layers: [{op, gate, magnitude, negate, resample, blur_u}]}] on REF_DIR's
images; np.random.choice returns the layers' ops and `random` returns the
recorded draws, each checked to be the call timm makes next. Writes
OUT_DIR/expected.bin and OUT_DIR/results.json: per case, timm's parsed config
(ops, num_layers, prob, magnitude, magnitude_std, magnitude_max, weights) and
the output's offset, or the error. --replay-auto does the same for
auto_augment_transform and AutoAugment: cases are {config, translate_const,
img_mean, interpolation, image, sub_policy, layers}, random.choice returns
the recorded sub-policy; results hold timm's policy ([name, prob, magnitude]
per op), magnitude_std and magnitude_max. --replay-augmix: augment_and_mix_transform
and AugMixAugment, cases {config, ..., weights, m, chains: [[layer]]}.

Images: scikit-image's astronaut (a photograph), camera (grey, converted 'L'
to 'RGB') and chelsea quantized to a 16-colour palette ('P', then 'RGB', as
dpn decodes palette files), each resized to 64x48 (not square, so that the
axes cannot be swapped unnoticed); a 12x12 square (Image.rotate's 90-degree
transposes), a flat 5x3 and a 2x3 image (SMOOTH copies images under 3x3).
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check(names=("timm", "pillow", "numpy", "scikit-image"))

import json
import os
import sys

import numpy as np
from PIL import Image
from skimage import data as sd
import timm.data.auto_augment as aa


BILINEAR = Image.Resampling.BILINEAR
BICUBIC = Image.Resampling.BICUBIC
RESAMPLE = {"bilinear": BILINEAR, "bicubic": BICUBIC}
# timm's _FILL and the ImageNet mean as transforms_factory rounds it.
FILLS = [(128, 128, 128), tuple(min(255, round(255 * x)) for x in (0.485, 0.456, 0.406))]
GEOMETRIC = {"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "TranslateXRel", "TranslateYRel"}
MAGNITUDES = [float(m) for m in range(11)] + [15.0]


class ForcedRandom:
    """Stands in for the `random` module inside auto_augment: `_randomly_negate`
    negates when random.random() > 0.5."""

    def __init__(self):
        self.value = 0.25
        self.u = 0.5

    def random(self):
        return self.value

    def uniform(self, a, b):
        # CPython's random.uniform, with the forced draw u.
        return a + (b - a) * self.u

    def choice(self, seq):
        raise AssertionError("resample must be given, not drawn")


FORCED = ForcedRandom()
aa.random = FORCED


class ScriptedRandom:
    """Stands in for the `random` module inside auto_augment during a replay:
    each call must be the next recorded one."""

    def __init__(self, calls):
        self.calls = list(calls)

    def _next(self, kind):
        assert self.calls, f"timm drew {kind} beyond the recorded draws"
        got, value = self.calls.pop(0)
        assert got == kind, f"timm drew {kind} where dpn recorded {got}"
        return value

    def random(self):
        return self._next("random")

    def gauss(self, mu, sigma):
        return self._next("gauss")

    def uniform(self, a, b):
        kind, value = self.calls[0] if self.calls else (None, None)
        if kind == "uniform_u":
            u = self._next("uniform_u")
            return a + (b - a) * u
        return self._next("uniform")

    def choice(self, seq):
        if self.calls and self.calls[0][0] == "policy":
            # AutoAugment's random.choice(self.policy).
            return seq[self._next("policy")]
        assert tuple(seq) == (BILINEAR, BICUBIC), seq
        return RESAMPLE[self._next("choice")]


def replay(ref_dir, cases_path, out_dir):
    with open(os.path.join(ref_dir, "manifest.json")) as f:
        manifest = json.load(f)
    raw = open(os.path.join(ref_dir, "images.bin"), "rb").read()
    imgs = {}
    for im in manifest["images"]:
        n = im["w"] * im["h"] * 3
        imgs[im["name"]] = Image.frombytes("RGB", (im["w"], im["h"]), raw[im["offset"] : im["offset"] + n])
    cases = json.load(open(cases_path))
    results = []
    out = open(os.path.join(out_dir, "expected.bin"), "wb")
    offset = 0
    real_choice = np.random.choice
    for case in cases:
        hparams = {"translate_const": case["translate_const"], "img_mean": tuple(case["img_mean"])}
        if case["interpolation"]:
            hparams["interpolation"] = RESAMPLE[case["interpolation"]]
        ra = aa.rand_augment_transform(case["config"], hparams)
        op0 = ra.ops[0]
        std = op0.magnitude_std
        parsed = {
            "ops": [op.name for op in ra.ops],
            "num_layers": ra.num_layers,
            "prob": op0.prob,
            "magnitude": op0.magnitude,
            "magnitude_std": "inf" if std == float("inf") else std,
            "magnitude_max": op0.magnitude_max,
            "weights": None if ra.choice_weights is None else [float(w) for w in ra.choice_weights],
        }
        layers = case["layers"]
        calls = []
        for layer in layers:
            if layer["gate"] is not None:
                calls.append(("random", layer["gate"]))
                if layer["gate"] > op0.prob:
                    continue
            if layer["magnitude"] is not None:
                calls.append(("uniform" if std == float("inf") else "gauss", layer["magnitude"]))
            if layer["negate"] is not None:
                calls.append(("random", 0.75 if layer["negate"] else 0.25))
            if layer["resample"] is not None:
                calls.append(("choice", layer["resample"]))
            if layer["blur_u"] is not None:
                calls.append(("uniform_u", layer["blur_u"]))
        scripted = ScriptedRandom(calls)
        aa.random = scripted

        def choice(ops, n, replace=True, p=None):
            assert n == len(layers) and replace == (ra.choice_weights is None)
            return [ops[layer["op"]] for layer in layers]

        np.random.choice = choice
        result = {"parsed": parsed, "offset": None, "error": None}
        try:
            img = ra(imgs[case["image"]])
        except ValueError as e:
            result["error"] = str(e)
        else:
            b = img.tobytes()
            result["offset"] = offset
            out.write(b)
            offset += len(b)
        finally:
            np.random.choice = real_choice
        if result["error"] is None:
            assert not scripted.calls, f"draws left unused: {scripted.calls}"
        results.append(result)
    out.close()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f)
    print("done", len(results))


def replay_auto(ref_dir, cases_path, out_dir):
    """dpn's AutoAugment draws through timm's auto_augment_transform and
    AutoAugment: random.choice returns the recorded sub-policy, then each op's
    recorded draws as for RandAugment."""
    with open(os.path.join(ref_dir, "manifest.json")) as f:
        manifest = json.load(f)
    raw = open(os.path.join(ref_dir, "images.bin"), "rb").read()
    imgs = {}
    for im in manifest["images"]:
        n = im["w"] * im["h"] * 3
        imgs[im["name"]] = Image.frombytes("RGB", (im["w"], im["h"]), raw[im["offset"] : im["offset"] + n])
    results = []
    out = open(os.path.join(out_dir, "expected.bin"), "wb")
    offset = 0
    for case in json.load(open(cases_path)):
        hparams = {"translate_const": case["translate_const"], "img_mean": tuple(case["img_mean"])}
        if case["interpolation"]:
            hparams["interpolation"] = RESAMPLE[case["interpolation"]]
        t = aa.auto_augment_transform(case["config"], hparams)
        parsed = {
            "policy": [[[op.name, op.prob, op.magnitude] for op in sp] for sp in t.policy],
            "magnitude_std": t.policy[0][0].magnitude_std,
            "magnitude_max": t.policy[0][0].magnitude_max,
        }
        sp = t.policy[case["sub_policy"]]
        calls = [("policy", case["sub_policy"])]
        for layer in case["layers"]:
            op = sp[layer["op"]]
            if layer["gate"] is not None:
                calls.append(("random", layer["gate"]))
                if layer["gate"] > op.prob:
                    continue
            if layer["magnitude"] is not None:
                calls.append(("gauss", layer["magnitude"]))
            if layer["negate"] is not None:
                calls.append(("random", 0.75 if layer["negate"] else 0.25))
            if layer["resample"] is not None:
                calls.append(("choice", layer["resample"]))
            if layer["blur_u"] is not None:
                calls.append(("uniform_u", layer["blur_u"]))
        scripted = ScriptedRandom(calls)
        aa.random = scripted
        result = {"parsed": parsed, "offset": None, "error": None}
        try:
            img = t(imgs[case["image"]])
        except ValueError as e:
            result["error"] = str(e)
        else:
            b = img.tobytes()
            result["offset"] = offset
            out.write(b)
            offset += len(b)
            assert not scripted.calls, f"draws left unused: {scripted.calls}"
        results.append(result)
    out.close()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f)
    print("done", len(results))


def replay_augmix(ref_dir, cases_path, out_dir):
    """dpn's AugMix draws through timm's augment_and_mix_transform and
    AugMixAugment (hparams with translate_pct 0.3, as transforms_factory sets
    them): np.random.dirichlet, beta, randint and choice return the recorded
    weights, blend, chain depths and ops; `random` each op's draws."""
    with open(os.path.join(ref_dir, "manifest.json")) as f:
        manifest = json.load(f)
    raw = open(os.path.join(ref_dir, "images.bin"), "rb").read()
    imgs = {}
    for im in manifest["images"]:
        n = im["w"] * im["h"] * 3
        imgs[im["name"]] = Image.frombytes("RGB", (im["w"], im["h"]), raw[im["offset"] : im["offset"] + n])
    results = []
    out = open(os.path.join(out_dir, "expected.bin"), "wb")
    offset = 0
    saved = (np.random.dirichlet, np.random.beta, np.random.randint, np.random.choice)
    for case in json.load(open(cases_path)):
        hparams = {
            "translate_const": case["translate_const"],
            "img_mean": tuple(case["img_mean"]),
            "translate_pct": 0.3,
        }
        if case["interpolation"]:
            hparams["interpolation"] = RESAMPLE[case["interpolation"]]
        t = aa.augment_and_mix_transform(case["config"], hparams)
        std = t.ops[0].magnitude_std
        parsed = {
            "ops": [op.name for op in t.ops],
            "magnitude": t.ops[0].magnitude,
            "prob": t.ops[0].prob,
            "width": t.width,
            "depth": t.depth,
            "alpha": t.alpha,
            "blended": t.blended,
            "magnitude_std": "inf" if std == float("inf") else std,
            "translate_pct": t.ops[0].hparams["translate_pct"],
        }
        chains = list(case["chains"])
        depths = [len(c) for c in chains]
        picks = [[t.ops[layer["op"]] for layer in c] for c in chains]
        calls = []
        for c in chains:
            for layer in c:
                if layer["magnitude"] is not None:
                    calls.append(("uniform" if std == float("inf") else "gauss", layer["magnitude"]))
                if layer["negate"] is not None:
                    calls.append(("random", 0.75 if layer["negate"] else 0.25))
                if layer["resample"] is not None:
                    calls.append(("choice", layer["resample"]))
                if layer["blur_u"] is not None:
                    calls.append(("uniform_u", layer["blur_u"]))
        scripted = ScriptedRandom(calls)
        aa.random = scripted

        def dirichlet(alphas):
            assert list(alphas) == [t.alpha] * t.width
            return np.array(case["weights"], dtype=np.float64)

        def beta(a, b):
            assert a == b == t.alpha
            return case["m"]

        def randint(lo, hi):
            assert (lo, hi) == (1, 4) and t.depth <= 0
            return depths_iter.pop(0)

        depths_iter = list(depths)

        def choice(ops, n, replace=True, p=None):
            chain = picks.pop(0)
            assert replace and n == len(chain)
            return chain

        np.random.dirichlet, np.random.beta, np.random.randint, np.random.choice = (dirichlet, beta, randint, choice)
        result = {"parsed": parsed, "offset": None, "error": None}
        try:
            img = t(imgs[case["image"]])
        except ValueError as e:
            result["error"] = str(e)
        else:
            b = img.tobytes()
            result["offset"] = offset
            out.write(b)
            offset += len(b)
            assert not scripted.calls, f"draws left unused: {scripted.calls}"
            assert not picks
        finally:
            np.random.dirichlet, np.random.beta, np.random.randint, np.random.choice = saved
        results.append(result)
    out.close()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f)
    print("done", len(results))


if sys.argv[1] == "--replay-augmix":
    replay_augmix(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(0)
if sys.argv[1] == "--replay":
    replay(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(0)
if sys.argv[1] == "--replay-auto":
    replay_auto(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(0)


def negates(op):
    """Whether op's level function draws _randomly_negate."""
    fn = aa.LEVEL_TO_ARG[op]
    if fn is None:
        return False
    FORCED.value = 0.25
    a = fn(5.0, {"translate_const": 21})
    FORCED.value = 0.75
    b = fn(5.0, {"translate_const": 21})
    return a != b


def small(img, size=(64, 48)):
    return img.resize(size, Image.Resampling.BICUBIC)


images = {}
images["astronaut"] = small(Image.fromarray(sd.astronaut()))
images["camera_grey"] = small(Image.fromarray(sd.camera())).convert("RGB")
images["chelsea_palette"] = (
    small(Image.fromarray(sd.chelsea())).quantize(colors=16).convert("RGB")
)
images["square"] = Image.fromarray(sd.astronaut()[100:112, 200:212])
images["flat"] = Image.new("RGB", (5, 3), (90, 140, 200))
images["tiny"] = Image.fromarray(sd.chelsea()[50:53, 100:102])

manifest = {"images": [], "cases": []}
offset = 0
OUT = sys.argv[1]
with open(os.path.join(OUT, "images.bin"), "wb") as f:
    for name, img in images.items():
        assert img.mode == "RGB"
        b = img.tobytes()
        manifest["images"].append({"name": name, "w": img.width, "h": img.height, "offset": offset})
        f.write(b)
        offset += len(b)

expected = open(os.path.join(OUT, "expected.bin"), "wb")
out_offset = 0


def run(image, op, arg, magnitude, negate, resample, fill, translate_const, blur_u=0.5):
    global out_offset
    img = images[image]
    FORCED.u = blur_u
    kwargs = {"fillcolor": fill, "resample": RESAMPLE[resample or "bicubic"]}
    case = {
        "image": image,
        "op": op,
        "magnitude": magnitude,
        "negate": negate,
        "resample": resample,
        "fill": list(fill),
        "translate_const": translate_const,
        "blur_u": blur_u,
        "arg": arg[0] if arg else None,
        "arg_kind": "none" if not arg else ("int" if isinstance(arg[0], int) else "float"),
        "offset": None,
        "error": None,
    }
    try:
        out = aa.NAME_TO_OP[op](img, *arg, **kwargs)
    except ValueError as e:
        case["error"] = str(e)
    else:
        assert out.mode == "RGB" and out.size == img.size, (op, out.mode, out.size)
        b = out.tobytes()
        case["offset"] = out_offset
        expected.write(b)
        out_offset += len(b)
    manifest["cases"].append(case)


def level_cases(image, ops, magnitudes, translate_const):
    for op in ops:
        geometric = op in GEOMETRIC
        for m in magnitudes:
            for negate in [False, True] if negates(op) else [False]:
                FORCED.value = 0.75 if negate else 0.25
                hparams = {"translate_const": translate_const, "img_mean": FILLS[0]}
                fn = aa.LEVEL_TO_ARG[op]
                arg = fn(m, hparams) if fn is not None else ()
                for resample in ["bilinear", "bicubic"] if geometric else [None]:
                    for fill in FILLS if geometric else [FILLS[0]]:
                        run(image, op, arg, m, negate, resample, fill, translate_const)


OPS = list(aa.NAME_TO_OP)
for image in ["astronaut", "camera_grey", "chelsea_palette"]:
    level_cases(image, OPS, MAGNITUDES, 21)
for image in ["flat", "tiny"]:
    level_cases(image, OPS, [0.0, 3.0, 10.0], 250)

# Direct arguments: Image.rotate's fast paths and angles beyond timm's range,
# every posterize bit count, thresholds at the ends.
for image in ["square", "astronaut"]:
    for deg in [90.0, 180.0, 270.0, -90.0, 360.0, 45.5, 0.0, -180.0, 1e-9]:
        for resample in ["bilinear", "bicubic"]:
            run(image, "Rotate", (deg,), None, False, resample, FILLS[1], 21)
for bits in range(-1, 10):
    run("astronaut", "Posterize", (bits,), None, False, None, FILLS[0], 21)
for thresh in [0, 1, 255, 256, 300]:
    run("astronaut", "Solarize", (thresh,), None, False, None, FILLS[0], 21)
    run("camera_grey", "SolarizeAdd", (thresh % 129,), None, False, None, FILLS[0], 21)
for factor in [-0.5, 0.0, 0.25, 1.0, 2.5, 3.0]:
    for op in ["Color", "Contrast", "Brightness", "Sharpness", "Desaturate"]:
        run("chelsea_palette", op, (factor,), None, False, None, FILLS[0], 21)
for radius in [0.0, 0.05, 0.1, 0.5, 1.0, 1.7, 2.0, 3.3, 8.0, 40.0]:
    for image in ["astronaut", "tiny", "square"]:
        run(image, "GaussianBlur", (radius,), None, False, None, FILLS[0], 21)
for u in [0.0, 0.3, 0.999]:
    for factor in [0.0, 0.5, 1.0]:
        run("camera_grey", "GaussianBlurRand", (factor,), None, False, None, FILLS[0], 21, u)
for shift in [-70.5, -3.25, 0.5, 63.99, 1000.0]:
    for op in ["TranslateX", "TranslateY"]:
        run("astronaut", op, (shift,), None, False, "bicubic", FILLS[0], 21)

expected.close()
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f)
print("done", len(manifest["cases"]))
