"""Fixtures for tests/weights_io.rs, written with real torch.

    weights_make_fixtures.py make OUTDIR
        Writes into OUTDIR:
          zip.pth         torch.save of an OrderedDict (zip format): every dtype,
                          a 0-d and an empty tensor, a transposed (non-contiguous)
                          view, two tensors sharing one storage at different
                          offsets, a stride-0 expanded view, an nn.Parameter
          legacy.pth      the same object, _use_new_zipfile_serialization=False
          checkpoint.pth  {'epoch': 3, 'state_dict': {module.-prefixed ...},
                          'state_dict_ema': ..., 'args': Namespace, ...}
          checkpoint_legacy.pth  the same checkpoint, legacy format
          evil_zip.pth / evil_legacy.pth  pickles that would call os.system
          expected.json   {file: [[name, dtype, shape, hex bytes], ...]}
    weights_make_fixtures.py tiny OUTDIR
        Writes tiny_zip.pth and tiny_legacy.pth (checked-in fixtures and fuzz
        seeds; see tests/fixtures/weights/).
    weights_make_fixtures.py verify FILE.safetensors EXPECTED.json KEY
        Loads FILE with safetensors.torch.load_file and checks it against
        expected[KEY] (order-insensitive); prints OK.
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import argparse
import collections
import json
import os
import sys

import torch

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def raw(t):
    t = t.detach().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes().hex()


def describe(sd):
    return [[k, DTYPES[v.dtype], list(v.shape), raw(v)] for k, v in sd.items() if isinstance(v, torch.Tensor)]


def state_dict():
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f16"] = torch.randn(4, generator=g).half()
    sd["bf16"] = torch.randn(3, 2, generator=g).bfloat16()
    sd["f64"] = torch.randn(2, 2, generator=g).double()
    sd["i64"] = torch.tensor([-1, 2, 2**40, -(2**62)], dtype=torch.int64)
    sd["i32"] = torch.tensor([[-5, 7], [2**31 - 1, -(2**31)]], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd["u8"] = torch.arange(0, 250, 50, dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    sd["transposed"] = base.transpose(0, 2)  # non-contiguous view
    shared = torch.arange(10, dtype=torch.float32)
    sd["shared_a"] = shared[1:4]  # offset 1
    sd["shared_b"] = shared[5:].view(5, 1)  # offset 5, same storage
    sd["stepped"] = shared[::3]  # stride 3 into the same storage
    sd["expanded"] = torch.tensor([7.0]).expand(3, 2)  # stride 0
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    sd["num_batches_tracked"] = torch.tensor(17)
    return sd


def checkpoint():
    g = torch.Generator().manual_seed(1)
    inner = collections.OrderedDict()
    inner["module.conv.weight"] = torch.randn(2, 1, 3, 3, generator=g)
    inner["module.bn.num_batches_tracked"] = torch.tensor(5)
    inner["module.last_linear.weight"] = torch.randn(3, 4, generator=g)
    inner["module.last_linear.bias"] = torch.randn(3, generator=g).half()
    ema = collections.OrderedDict((k, v * 0) for k, v in inner.items())
    return {
        "epoch": 3,
        "arch": "dpn68",
        "best_acc": 0.75,
        "flags": (True, False, None),
        "history": [1, 2.5, "three", b"four", {"nested": [None]}],
        "big": 2**80,
        "args": argparse.Namespace(lr=0.1, model="dpn68", sizes=[1, 2]),
        "state_dict_ema": ema,
        "state_dict": inner,
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
    }


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned-by-weights-file",))


def make(out):
    os.makedirs(out, exist_ok=True)
    expected = {}
    sd = state_dict()
    torch.save(sd, os.path.join(out, "zip.pth"))
    torch.save(sd, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    expected["zip.pth"] = describe(sd)
    expected["legacy.pth"] = describe(sd)
    ck = checkpoint()
    torch.save(ck, os.path.join(out, "checkpoint.pth"))
    torch.save(ck, os.path.join(out, "checkpoint_legacy.pth"), _use_new_zipfile_serialization=False)
    expected["checkpoint.pth"] = describe(ck["state_dict"])
    expected["checkpoint_legacy.pth"] = describe(ck["state_dict"])
    torch.save({"w": torch.zeros(2), "x": Evil()}, os.path.join(out, "evil_zip.pth"))
    torch.save(
        {"w": torch.zeros(2), "x": Evil()},
        os.path.join(out, "evil_legacy.pth"),
        _use_new_zipfile_serialization=False,
    )
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


def tiny(out):
    os.makedirs(out, exist_ok=True)
    sd = collections.OrderedDict()
    sd["w"] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd["wt"] = sd["w"].t()
    sd["b"] = torch.tensor([1, -2], dtype=torch.int64)
    sd["h"] = torch.tensor([0.5, -1.0], dtype=torch.float16)
    torch.save(sd, os.path.join(out, "tiny_zip.pth"))
    torch.save(sd, os.path.join(out, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)


def verify(path, expected_path, key):
    from safetensors.torch import load_file

    got = load_file(path)
    want = json.load(open(expected_path))[key]
    assert len(got) == len(want), (sorted(got), [w[0] for w in want])
    for name, dtype, shape, hexdata in want:
        t = got[name]
        assert DTYPES[t.dtype] == dtype, (name, t.dtype, dtype)
        assert list(t.shape) == shape, (name, t.shape, shape)
        assert raw(t) == hexdata, name
    print("OK")


def main():
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "tiny":
        tiny(sys.argv[2])
    elif cmd == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
