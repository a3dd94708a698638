"""Reference for tests/train_color.rs: timm 1.0.29's own train transforms
(``transforms_imagenet_train``) for ``--vflip``, ``--color-jitter``,
``--color-jitter-prob`` and ``--grayscale-prob``, replayed on dpn's crops
with dpn's draws.

usage: color_reference.py --images OUT_DIR
       color_reference.py --replay CASES_JSON IMAGES_BIN OUT_DIR

--images writes scikit-image's astronaut and chelsea photographs as RGB8
(images.bin, manifest.json: name, w, h, offset). --replay takes, for each
case, dpn's crop after the horizontal flip (w x h RGB8 at offset in
IMAGES_BIN), the settings and the calls dpn's draws stand for; it builds
``transforms_imagenet_train(img_size, vflip=P, color_jitter=X,
color_jitter_prob=C, grayscale_prob=Q, separate=True)`` (X None when dpn
adds no jitter), takes timm's own RandomVerticalFlip from the primary
transforms and the secondary transforms as built (checked: [RandomApply of]
ColorJitter(X, X, X), RandomGrayscale(p=Q)), runs them with ``torch.rand``,
``torch.randperm`` and ``torch.empty(1).uniform_`` patched to return dpn's
draws in order (each call's kind and arguments asserted), and writes the RGB8
results to out.bin, with results.json giving each one's offset.
"""

import json
import sys
from pathlib import Path

from PIL import Image

if sys.argv[1] == "--images":
    from skimage import data as sd

    out = Path(sys.argv[2])
    blob, manifest = bytearray(), []
    for name, arr in [("astronaut", sd.astronaut()), ("chelsea", sd.chelsea())]:
        img = Image.fromarray(arr).convert("RGB")
        manifest.append({"name": name, "w": img.width, "h": img.height, "offset": len(blob)})
        blob += img.tobytes()
    (out / "images.bin").write_bytes(bytes(blob))
    (out / "manifest.json").write_text(json.dumps({"images": manifest}))
    sys.exit(0)

assert sys.argv[1] == "--replay", __doc__
import torch  # noqa: E402
from timm.data.transforms_factory import transforms_imagenet_train  # noqa: E402
from torchvision import transforms  # noqa: E402

cases = json.loads(Path(sys.argv[2]).read_text())
src = Path(sys.argv[3]).read_bytes()
out = Path(sys.argv[4])

queue = []
real_rand = torch.rand


real_empty = torch.empty


def pop(kind):
    assert queue, f"timm drew a {kind} that dpn did not"
    call = queue.pop(0)
    assert call[0] == kind, (call, kind)
    return call


def fake_rand(*args, **kwargs):
    assert args == (1,) and not kwargs, (args, kwargs)
    return torch.tensor([pop("rand")[1]], dtype=torch.float64)


def fake_randperm(*args, **kwargs):
    assert args == (4,) and not kwargs, (args, kwargs)
    return torch.tensor(pop("randperm")[1])


class FakeEmpty:
    def uniform_(self, lo, hi):
        _, elo, ehi, f = pop("uniform")
        assert (lo, hi) == (elo, ehi), ((lo, hi), (elo, ehi))
        return torch.tensor([f], dtype=torch.float32)


def fake_empty(*args, **kwargs):
    if args == (1,) and not kwargs:
        return FakeEmpty()
    return real_empty(*args, **kwargs)


torch.rand = fake_rand
torch.randperm = fake_randperm
torch.empty = fake_empty

blob, results = bytearray(), []
for c in cases:
    w, h, o = c["w"], c["h"], c["offset"]
    img = Image.frombytes("RGB", (w, h), src[o : o + w * h * 3])
    primary, secondary, final = transforms_imagenet_train(
        img_size=w,
        vflip=c["vflip"],
        grayscale_prob=c["grayscale_prob"],
        color_jitter=c["color_jitter"],
        color_jitter_prob=c["color_jitter_prob"],
        separate=True,
    )
    vf = [t for t in primary.transforms if isinstance(t, transforms.RandomVerticalFlip)]
    if c["vflip"] > 0:
        assert len(vf) == 1 and vf[0].p == c["vflip"], primary
    else:
        assert not vf, primary
    rest = list(secondary.transforms)
    x = c["color_jitter"]
    if x is not None:
        cj = rest.pop(0)
        if c["color_jitter_prob"] is not None:
            assert isinstance(cj, transforms.RandomApply) and cj.p == c["color_jitter_prob"], cj
            (cj,) = cj.transforms
        assert isinstance(cj, transforms.ColorJitter), cj
        want = [max(0.0, 1 - x), 1 + x]
        assert [list(cj.brightness), list(cj.contrast), list(cj.saturation)] == [want] * 3, cj
        assert cj.hue is None, cj
    if c["grayscale_prob"] > 0:
        g = rest.pop(0)
        assert isinstance(g, transforms.RandomGrayscale) and g.p == c["grayscale_prob"], g
    assert not rest, secondary
    queue[:] = [tuple(d) for d in c["draws"]]
    for t in vf + list(secondary.transforms):
        img = t(img)
    assert not queue, f"dpn drew {queue} that timm did not"
    assert img.mode == "RGB" and img.size == (w, h)
    results.append({"offset": len(blob)})
    blob += img.tobytes()

(out / "out.bin").write_bytes(bytes(blob))
(out / "results.json").write_text(json.dumps(results))
