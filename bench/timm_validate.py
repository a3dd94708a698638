"""timm's side of bench/evaluate.sh: a validate.py-style loop.

make DIR N: an ImageFolder of N JPEG photographs (512x512 crops of
scikit-image samples, quality 90) under ImageNet synset folders, and random
dpn68 weights (DIR/weights.pth) with randomized BatchNorm statistics.

run DIR MODEL BATCH WORKERS: torchvision ImageFolder + timm's eval transform +
DataLoader(num_workers=WORKERS), the model in eval mode under inference_mode;
prints {"images": n, "seconds": s, "images_per_s": r, "top1": ...} for the
whole pass (data loading included, as `dpn evaluate` reports it).
"""
import json
import os
import sys
import time

import numpy as np
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config


def make(out, n):
    import skimage.data as data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field()]
    synsets = ["n01440764", "n01443537", "n01484850", "n01491361"]
    rng = np.random.default_rng(0)
    for i in range(n):
        a = photos[i % len(photos)]
        h, w = a.shape[:2]
        y, x = rng.integers(0, max(1, h - 256)), rng.integers(0, max(1, w - 256))
        crop = Image.fromarray(a).crop((x, y, x + min(512, w - x), y + min(512, h - y))).resize((512, 512))
        d = os.path.join(out, "folder", synsets[i % len(synsets)])
        os.makedirs(d, exist_ok=True)
        crop.save(os.path.join(d, f"{i:05d}.jpg"), quality=90)
    torch.manual_seed(0)
    model = timm.create_model("dpn68", pretrained=False)
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))


def run(out, name, batch, workers):
    import torchvision

    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    model = timm.create_model(name, pretrained=False).eval()
    model.load_state_dict(torch.load(os.path.join(out, "weights.pth")))
    transform = create_transform(**resolve_data_config({}, model=model))
    ds = torchvision.datasets.ImageFolder(os.path.join(out, "folder"), transform=transform)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers, shuffle=False)
    t0 = time.perf_counter()
    n = correct = 0
    with torch.inference_mode():
        for x, y in loader:
            correct += (model(x).argmax(-1) == y).sum().item()
            n += len(y)
    s = time.perf_counter() - t0
    print(json.dumps({"images": n, "seconds": s, "images_per_s": n / s, "top1": 100 * correct / n,
                      "threads": torch.get_num_threads(), "workers": workers}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
