"""fvcore's MAC counts for timm's DPNs, the reference `dpn profile` must equal.

Usage: profile_fvcore.py SIZE MODEL... ; prints one JSON object
{model: {"conv": n, "batch_norm": n, "adaptive_avg_pool2d": n, "total": n}}.
"""
import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import logging
import sys
import warnings

import timm
import torch
from fvcore.nn import FlopCountAnalysis

logging.disable(logging.WARNING)
warnings.filterwarnings("ignore")

size = int(sys.argv[1])
out = {}
for name in sys.argv[2:]:
    model = timm.create_model(name, pretrained=False).eval()
    with torch.no_grad():
        fca = FlopCountAnalysis(model, torch.zeros(1, 3, size, size))
        fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        ops = fca.by_operator()
    out[name] = {k: int(v) for k, v in ops.items()}
    out[name]["total"] = int(fca.total())
print(json.dumps(out))
