"""timm's side of tests/train_digits.rs: load a dpn train checkpoint into timm and predict.

usage: train_timm_check.py MODEL WEIGHTS VAL_DIR IMG_SIZE CROP_PCT OUT_JSON

Creates timm's MODEL with the class count the weights hold, loads WEIGHTS (safetensors)
with strict=True, and classifies every image of the ImageFolder VAL_DIR with timm's eval
transform (timm.data.create_transform from the model's data config at IMG_SIZE and
CROP_PCT). Writes OUT_JSON: {"<path>": [logits...]} in torchvision's ImageFolder order,
plus "top1": accuracy in percent.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import sys

import torch
from safetensors.torch import load_file
from torchvision.datasets import ImageFolder

import timm
from timm.data import create_transform, resolve_data_config


def main():
    model_name, weights, val_dir, img_size, crop_pct, out = sys.argv[1:7]
    torch.set_num_threads(2)
    sd = load_file(weights)
    model = timm.create_model(model_name, pretrained=False, num_classes=sd["classifier.bias"].shape[0])
    model.load_state_dict(sd, strict=True)
    model.eval()
    cfg = resolve_data_config({}, model=model)
    cfg["input_size"] = (3, int(img_size), int(img_size))
    cfg["crop_pct"] = float(crop_pct)
    tf = create_transform(**cfg, is_training=False)
    ds = ImageFolder(val_dir, transform=tf)
    result, correct = {}, 0
    with torch.no_grad():
        for i in range(0, len(ds), 64):
            idx = list(range(i, min(i + 64, len(ds))))
            x = torch.stack([ds[j][0] for j in idx])
            logits = model(x)
            for j, row in zip(idx, logits):
                path, label = ds.samples[j]
                result[path] = row.tolist()
                correct += int(row.argmax().item() == label)
    result["top1"] = 100.0 * correct / len(ds)
    with open(out, "w") as f:
        json.dump(result, f)
    print(f"timm: {len(ds)} images, top-1 {result['top1']:.2f}%", file=sys.stderr)


if __name__ == "__main__":
    main()
