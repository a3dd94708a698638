"""A small real .pth for tests/fetch.rs, written with torch.save.

    fetch_make_pth.py OUT.pth

A state dict with DPN-like key names (float32 weights, an int64
num_batches_tracked), about 1.6 MB, so that a download can be cut half-way.
Seeded: the same bytes every run of one torch version.
"""

import collections
import sys

import torch


def main():
    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict()
    sd["features.conv1_1.conv.weight"] = torch.randn(10, 3, 3, 3, generator=g)
    for k in ("weight", "bias", "running_mean"):
        sd[f"features.conv1_1.bn.{k}"] = torch.randn(10, generator=g)
    sd["features.conv1_1.bn.running_var"] = torch.rand(10, generator=g) + 0.5
    sd["features.conv1_1.bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    sd["classifier.weight"] = torch.randn(1000, 400, 1, 1, generator=g)
    sd["classifier.bias"] = torch.randn(1000, generator=g)
    torch.save(sd, out)


if __name__ == "__main__":
    main()
