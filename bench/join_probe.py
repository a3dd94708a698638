"""Whether one pass between blocks would make the folded network faster on this CPU.

A probe for issue #15, not a benchmark of dpn. Between two dual-path blocks the folded
network (src/model/fold.rs, docs/conventions.md "Folding") runs the residual `add`, two
`cat`s, the pre-activation scale and shift (one BatchNorm pass) and a ReLU: five passes over
the activations. bench/join_probe.cpp does them in one, and keeps the dense path as a list
of the blocks' output slices, never concatenated. This times, f32 or bf16, NHWC, 2 threads,
random weights:

  isolated   the five ops against the one pass on one block's shapes, caches cold
  network    fuse_probe.py's `plain` folded network (what dpn runs) against the same
             network with the one pass, one batch of each in turn, ROUNDS rounds, medians;
             and the time the one pass takes inside the network

  .venv/bin/python bench/join_probe.py MODEL BATCH f32|bf16 [ROUNDS]

Needs a C++ compiler and ninja (`.venv/bin/pip install ninja`); the extension is built into
a temporary folder on each run (about 30 s).
"""
import os
import runpy
import statistics
import sys
import tempfile
import time

import torch
from torch.utils.cpp_extension import load

here = os.path.dirname(os.path.abspath(__file__))
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]  # ninja
J = load("dpn_join_probe", [os.path.join(here, "join_probe.cpp")], extra_cflags=["-O3", "-fopenmp"],
         build_directory=tempfile.mkdtemp())
name, batch, dt = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 15
sys.argv = ["fuse_probe.py", name, batch, dt, "2", "plain"]
g = runpy.run_path(os.path.join(here, "fuse_probe.py"))
batch = int(batch)
torch.set_num_threads(2)


def scale_shift(bn):
    s = bn.weight.double() / (bn.running_var.double() + bn.eps).sqrt()
    return s.float(), (bn.bias.double() - bn.running_mean.double() * s).float()


stem, blocks, head = g["folded_parts"](g["plain_conv"], scale_shift)
spent, calls = [0.0], None


def join(*a):
    if calls is not None:
        calls.append(a)
    t0 = time.perf_counter()
    out = J.join(*a)
    spent[0] += time.perf_counter() - t0
    return out


def joined(x):
    x = torch.max_pool2d(stem(x), 3, 2, 1)
    r, add, chunks = None, None, [x]
    for d in blocks:
        segs = ([r] if r is not None else []) + chunks
        act, r2 = join(segs, add, *d["pre"], True)
        if add is not None:
            r, add = r2, None
            segs = [r] + chunks
        if "proj" in d:
            xs = d["proj"][1](join(segs, None, *d["proj"][0], True)[0])
            r, chunks = xs[:, :d["bw"]], [xs[:, d["bw"]:]]
        h = d["b"](d["a"](act))
        if "c" in d:
            h = d["c"](h)
            add, o2 = h[:, :d["bw"]], h[:, d["bw"]:]
        else:
            add, o2 = d["c1"](h), d["c2"](h)
        chunks = chunks + [o2]
    out, _ = join([r] + chunks, add, *head, True)
    return torch.nn.functional.adaptive_avg_pool2d(out, 1)


with torch.no_grad():
    # Isolated: the first join with a residual add (a stage-1 block's shapes), its own inputs.
    calls = []
    joined(g["inp"])
    segs, o1, s, t, _ = next(a for a in calls if a[1] is not None)
    calls = None
    r, dense, o2 = segs[0], segs[1:-1], segs[-1]
    c = s.shape[0]
    z, o = torch.zeros(c), torch.ones(c)
    junk = torch.randn(32 << 20)

    def five():
        r2 = r + o1
        xi = torch.cat([r2, torch.cat(dense + [o2], 1)], 1)
        return torch.batch_norm(xi, s, t, z, o, False, 0.0, 0.0, True).relu_()

    def one():
        return J.join(segs, o1, s, t, True)[0]

    def cold(fn, n=30):
        fn()
        ts = []
        for _ in range(n):
            junk.mul_(1.0)  # 128 MiB through the caches
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts) * 1e3

    diff = (five().float() - one().float()).abs().max().item()
    print(f"isolated, {list(r.shape[:1]) + [c] + list(r.shape[2:])} {dt}: five ops {cold(five):.2f} ms, "
          f"one pass {cold(one):.2f} ms (max |diff| {diff:.1e})")

    forms = {"plain": g["forms"]["plain"], "one pass": joined}
    inp = g["inp"]
    d = (forms["plain"](inp).float() - joined(inp).float()).abs().max().item()
    times = {k: [] for k in forms}
    for fn in forms.values():
        fn(inp), fn(inp)
    spent[0] = 0.0
    for _ in range(rounds):
        for k, fn in forms.items():
            t0 = time.perf_counter()
            fn(inp)
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"network, {name} batch {batch} {dt}, {rounds} rounds (features max |diff| {d:.1e}):")
    for k, v in med.items():
        print(f"  {k}: median {batch / v:.1f} img/s ({med['plain'] / v:.2f}x plain)")
    print(f"  the one pass inside the network: {spent[0] / rounds * 1e3:.1f} ms of {med['one pass'] * 1e3:.0f} ms a batch")
