"""avg_checkpoints.py's arithmetic (timm's script, not in its wheel) on the
given safetensors files: every tensor summed in f64, divided by the count,
clamped to f32's range, stored as f32 (tests/average.rs).

argv: OUT FILE...   writes OUT (safetensors), the mean as the script makes it.
"""
import sys

import torch
from safetensors.torch import load_file, save_file

out, files = sys.argv[1], sys.argv[2:]
avg, counts = {}, {}
for f in files:
    for k, v in load_file(f).items():
        if k not in avg:
            avg[k] = v.clone().to(dtype=torch.float64)
            counts[k] = 1
        else:
            avg[k] += v.to(dtype=torch.float64)
            counts[k] += 1
info = torch.finfo(torch.float32)
save_file({k: (v / counts[k]).clamp(info.min, info.max).to(torch.float32).contiguous()
           for k, v in avg.items()}, out)
