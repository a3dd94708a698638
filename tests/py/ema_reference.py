"""timm's ModelEmaV3 on dpn's own per-step weights (tests/train_ema.rs).

argv: DUMP_DIR DECAY WARMUP(0|1) EMA_DIR
DUMP_DIR holds step{N}.safetensors, the model weights after update N that
dpn averaged (DPN_TEST_DUMP_EMA_INPUTS). EMA_DIR is a checkpoint's ema/
folder. Prints JSON: the largest |timm - dpn| over the EMA's float entries,
whether integer entries are equal, and the largest logit difference between
timm.create_model('local-dir:EMA_DIR') (strict) and the reference EMA.
"""
import glob
import json
import os
import sys

import torch
import timm
from safetensors.torch import load_file
from timm.utils.model_ema import ModelEmaV3

dump, decay, warmup, ema_dir = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
steps = sorted(int(os.path.basename(p)[4:-12]) for p in glob.glob(os.path.join(dump, "step*.safetensors")))
assert steps == list(range(1, len(steps) + 1)), steps

loaded = timm.create_model("local-dir:" + ema_dir, pretrained=True)  # strict=True
model = timm.create_model("dpn48b", num_classes=loaded.num_classes)
ema = ModelEmaV3(model, decay=decay, use_warmup=warmup)
for n in steps:
    model.load_state_dict(load_file(os.path.join(dump, f"step{n}.safetensors")), strict=True)
    ema.update(model, step=n)

mine = load_file(os.path.join(ema_dir, "model.safetensors"))
ref = ema.module.state_dict()
assert list(mine) == list(ref) or set(mine) == set(ref), "keys differ"
max_diff, ints_equal = 0.0, True
for k, v in ref.items():
    if v.is_floating_point():
        max_diff = max(max_diff, (mine[k].double() - v.double()).abs().max().item())
    else:
        ints_equal &= bool(torch.equal(mine[k], v))

torch.manual_seed(0)
x = torch.randn(2, 3, 32, 32)
loaded.eval()
ema.module.eval()
with torch.no_grad():
    logit_diff = (loaded(x) - ema.module(x)).abs().max().item()
print(json.dumps({"steps": len(steps), "max_diff": max_diff, "ints_equal": ints_equal,
                  "logit_diff": logit_diff}))
