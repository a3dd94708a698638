"""A small real .pth for tests/fetch.rs, written with torch.save.

    fetch_make_pth.py OUT.pth

The state dict of timm's DPN in the tests' `tiny` architecture (small, 10
init features, k_r 64, groups 16, b, k_sec 1-2-2-1, inc_sec 8-16-16-32, SiLU,
10 classes; 1.3M parameters, about 5 MB) with randomized BatchNorm
statistics, so that a download can be cut half-way and the converted file
must load as a real model. Seeded: the same bytes every run of one torch version.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import sys

import torch
from timm.models.dpn import DPN


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    model = DPN(small=True, num_init_features=10, k_r=64, groups=16, b=True, k_sec=(1, 2, 2, 1),
                inc_sec=(8, 16, 16, 32), num_classes=10, act_layer="silu")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    main()
