"""Reference files for tests/convert.rs.

make OUTDIR MODEL...: for each model, timm's network with random weights and
randomized BatchNorm statistics; writes OUTDIR/MODEL/zip.pth (torch >= 1.6
format), legacy.pth (pre-1.6 format, as the 2017 DPN weights), and io.safetensors
holding a fixed input `x` and timm's eval-mode `logits`.

check FILE MODEL IO [FILE MODEL IO ...]: loads each FILE (a dpn-converted
safetensors) into timm with strict=True and prints {FILE: max |logits - IO's
logits|} as JSON.

bad OUTDIR: hostile or broken inputs for the error tests.
"""
import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import os
import sys

import timm
import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(2)


def make(outdir, models):
    for i, name in enumerate(models):
        torch.manual_seed(1000 + i)
        model = timm.create_model(name, pretrained=False).eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                    m.num_batches_tracked.fill_(7)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            logits = model(x)
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        sd = model.state_dict()
        torch.save(sd, os.path.join(d, "zip.pth"))
        torch.save(sd, os.path.join(d, "legacy.pth"), _use_new_zipfile_serialization=False)
        save_file({"x": x.contiguous(), "logits": logits.contiguous()}, os.path.join(d, "io.safetensors"))


def check(triples):
    out = {}
    for path, name, io in zip(triples[0::3], triples[1::3], triples[2::3]):
        model = timm.create_model(name, pretrained=False).eval()
        model.load_state_dict(load_file(path), strict=True)
        ref = load_file(io)
        with torch.no_grad():
            logits = model(ref["x"])
        out[path] = float((logits - ref["logits"]).abs().max())
    print(json.dumps(out))


class Evil:
    """Unpickling this runs a shell command: what a loader must refuse."""

    def __reduce__(self):
        return (os.system, ("echo pwned > PWNED",))


def bad(outdir):
    os.makedirs(outdir, exist_ok=True)
    sd = timm.create_model("dpn48b", pretrained=False).state_dict()
    torch.save({"state_dict": sd, "payload": Evil()}, os.path.join(outdir, "evil.pth"))
    wrong = dict(sd)
    wrong["features.conv1_1.conv.weight"] = torch.zeros(10, 3, 5, 5)
    torch.save(wrong, os.path.join(outdir, "wrong_shape.pth"))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "check":
        check(sys.argv[2:])
    else:
        bad(sys.argv[2])
