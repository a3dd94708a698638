"""Writes a copy of a safetensors weights file with one defect, for the tests
of how dpn treats weights with NaN/infinite values or negative BatchNorm
variances (tests/predict_eval.rs). The metadata (model name) is kept.

Usage: edit_weights.py SRC DST nan|inf|negvar|big
  nan     one NaN in the first convolution's weight
  inf     +inf in one classifier bias
  negvar  two negative running variances in the first BatchNorm
  big     one classifier weight of 1e6: finite in f32, infinite in f16
"""
import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import sys

from safetensors import safe_open
from safetensors.torch import load_file, save_file

src, dst, kind = sys.argv[1:4]
with safe_open(src, "pt") as f:
    metadata = f.metadata()
t = load_file(src)
if kind == "nan":
    t["features.conv1_1.conv.weight"][0, 0, 0, 0] = float("nan")
elif kind == "inf":
    t["classifier.bias"][3] = float("inf")
elif kind == "negvar":
    t["features.conv1_1.bn.running_var"][:2] = -1.0
elif kind == "big":
    t["classifier.weight"][0, 0, 0, 0] = 1e6
else:
    sys.exit(f"unknown edit {kind}")
save_file(t, dst, metadata=metadata)
