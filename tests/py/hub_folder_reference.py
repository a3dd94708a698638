"""timm's side of tests/class_names.rs: load a dpn train checkpoint folder as a timm hub model.

usage: hub_folder_reference.py FOLDER OUT_JSON IMAGE...

Loads FOLDER (config.json + model.safetensors, as dpn train writes each checkpoint) the way
timm 1.0 loads a local Hugging Face-style model folder:
timm.create_model("local-dir:FOLDER", pretrained=True). The preprocessing is timm's eval
transform from the data config that the folder's config.json gives the model
(resolve_data_config + create_transform), the class names its label_names. Writes OUT_JSON:
{"architecture", "num_classes", "label_names", "data_config", "images": {IMAGE: [probabilities]}}.
"""

import json
import sys

import torch
from PIL import Image

import timm
from timm.data import create_transform, resolve_data_config


def main():
    folder, out, *images = sys.argv[1:]
    torch.set_num_threads(2)
    model = timm.create_model("local-dir:" + folder, pretrained=True)
    model.eval()
    cfg = resolve_data_config({}, model=model)
    tf = create_transform(**cfg, is_training=False)
    result = {
        "architecture": model.pretrained_cfg["architecture"],
        "num_classes": model.num_classes,
        "label_names": list(model.pretrained_cfg.get("label_names") or []),
        "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "images": {},
    }
    with torch.no_grad():
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in images])
        probs = model(x).softmax(-1)
    for p, row in zip(images, probs):
        result["images"][p] = row.tolist()
    with open(out, "w") as f:
        json.dump(result, f)
    print(f"timm: {folder} as {result['architecture']}, {len(images)} images", file=sys.stderr)


if __name__ == "__main__":
    main()
