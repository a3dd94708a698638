"""Reference for tests/train_color.rs: timm 1.0.29's own train transforms
(``transforms_imagenet_train``) for ``--vflip`` and ``--grayscale-prob``,
replayed on dpn's crops with dpn's draws.

usage: color_reference.py --images OUT_DIR
       color_reference.py --replay CASES_JSON IMAGES_BIN OUT_DIR

--images writes scikit-image's astronaut and chelsea photographs as RGB8
(images.bin, manifest.json: name, w, h, offset). --replay takes, for each
case, dpn's crop after the horizontal flip (w x h RGB8 at offset in
IMAGES_BIN), the probabilities and the uniforms dpn drew for them; it builds
``transforms_imagenet_train(img_size, vflip=P, grayscale_prob=Q,
color_jitter=None, separate=True)``, takes timm's own RandomVerticalFlip from
the primary transforms and the secondary transforms as built (asserted to be
exactly RandomGrayscale(p=Q) when Q > 0), runs them with ``torch.rand``
patched to return dpn's draws in order (each call asserted to be
``torch.rand(1)``), and writes the RGB8 results to out.bin, with
results.json giving each one's offset.
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


def fake_rand(*args, **kwargs):
    assert args == (1,) and not kwargs, (args, kwargs)
    assert queue, "timm drew more uniforms than dpn"
    return torch.tensor([queue.pop(0)], dtype=torch.float64)


torch.rand = fake_rand

blob, results = bytearray(), []
for c in cases:
    w, h, o = c["w"], c["h"], c["offset"]
    img = Image.frombytes("RGB", (w, h), src[o : o + w * h * 3])
    primary, secondary, final = transforms_imagenet_train(
        img_size=w,
        vflip=c["vflip"],
        grayscale_prob=c["grayscale_prob"],
        color_jitter=None,
        separate=True,
    )
    vf = [t for t in primary.transforms if isinstance(t, transforms.RandomVerticalFlip)]
    if c["vflip"] > 0:
        assert len(vf) == 1 and vf[0].p == c["vflip"], primary
    else:
        assert not vf, primary
    if c["grayscale_prob"] > 0:
        assert len(secondary.transforms) == 1, secondary
        g = secondary.transforms[0]
        assert isinstance(g, transforms.RandomGrayscale) and g.p == c["grayscale_prob"], g
    else:
        assert not secondary.transforms, secondary
    queue[:] = list(c["draws"])
    for t in vf + list(secondary.transforms):
        img = t(img)
    assert not queue, f"dpn drew {len(queue)} uniforms timm did not"
    assert img.mode == "RGB" and img.size == (w, h)
    results.append({"offset": len(blob)})
    blob += img.tobytes()

(out / "out.bin").write_bytes(bytes(blob))
(out / "results.json").write_text(json.dumps(results))
