"""Where a DPN's convolution time goes on this CPU, and whether another form would be faster.

A probe for issue #15, not a benchmark of dpn: it times every convolution of MODEL at BATCH
(shapes taken from timm's forward pass, random weights, f32, 2 threads) on its own, and
reports three things:

  by kind    each kind of convolution (kernel, groups, stride) summed, NCHW and NHWC
  1x1 gemm   the stride-1 1x1 convolutions as conv2d against the same product as addmm
             (MKL's sgemm on the NHWC rows), with the GFLOP/s each reaches
  merged     each stage's grouped 3x3 convolution with its groups merged 2, 4, 8 ... at a
             time into a block-diagonal weight (more FLOPs, wider groups: the result is
             the same to rounding), to see whether oneDNN's narrow groups are the cost

  .venv/bin/python bench/conv_probe.py MODEL BATCH

Each figure is the fastest of 7 runs after 2 warm-up runs.
"""
import collections
import sys
import time

import timm
import torch

torch.set_num_threads(2)
name, batch = sys.argv[1], int(sys.argv[2])
cl = torch.channels_last
m = timm.create_model(name, pretrained=False).eval()

seen = []
hooks = [mod.register_forward_hook(lambda mod, i, o: seen.append((mod, tuple(i[0].shape))))
         for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)]
with torch.no_grad():
    m(torch.randn(batch, 3, 224, 224))
for h in hooks:
    h.remove()


def fastest(f, runs=7):
    f(), f()
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def conv(x, w, mod, groups=None):
    return lambda: torch.conv2d(x, w, None, mod.stride, mod.padding, 1, groups or mod.groups)


def merged(w, groups, k):
    """The weight of `groups` groups as groups // k groups, block-diagonal inside each."""
    c, cg = w.shape[0], w.shape[1]
    out = torch.zeros(c, cg * k, *w.shape[2:])
    per = c // groups
    for g in range(groups):
        j = g % k
        out[g * per:(g + 1) * per, j * cg:(j + 1) * cg] = w[g * per:(g + 1) * per]
    return out


kinds = collections.defaultdict(lambda: [0.0, 0.0, 0])
gemm = [0.0, 0.0, 0]
grouped = {}
with torch.no_grad():
    for mod, shape in seen:
        x = torch.randn(shape)
        xl, wl = x.contiguous(memory_format=cl), mod.weight.contiguous(memory_format=cl)
        k = f"{mod.kernel_size[0]}x{mod.kernel_size[1]} groups {mod.groups}" + (
            f" stride {mod.stride[0]}" if mod.stride[0] > 1 else "")
        kinds[k][0] += fastest(conv(x, mod.weight, mod))
        kinds[k][1] += fastest(conv(xl, wl, mod))
        kinds[k][2] += 1
        n, c, h, w = shape
        cout = mod.weight.shape[0]
        if mod.kernel_size == (1, 1) and mod.stride == (1, 1) and mod.groups == 1:
            rows = xl.permute(0, 2, 3, 1).reshape(-1, c)
            wt = mod.weight.view(cout, c).t().contiguous()
            gemm[0] += fastest(conv(xl, wl, mod))
            gemm[1] += fastest(lambda: torch.mm(rows, wt))
            gemm[2] += 2 * n * h * w * c * cout
        if mod.groups > 1 and mod.stride == (1, 1) and (c, h) not in grouped:
            ref = conv(xl, wl, mod)()
            row = []
            factor = 1
            while mod.groups % factor == 0 and factor <= 16:
                wm = merged(mod.weight, mod.groups, factor).contiguous(memory_format=cl)
                f = conv(xl, wm, mod, mod.groups // factor)
                assert (f() - ref).abs().max() <= 1e-4 * ref.abs().max()
                row.append(f"groups {mod.groups // factor}: {fastest(f) * 1e3:.1f}")
                factor *= 2
            grouped[(c, h)] = f"{c} channels at {h}x{h}: " + ", ".join(row) + " ms"

total = [sum(v[0] for v in kinds.values()), sum(v[1] for v in kinds.values())]
print(f"{name} batch {batch}: convolutions {total[0] * 1e3:.0f} ms NCHW, {total[1] * 1e3:.0f} ms NHWC")
for k, (a, b, count) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
    print(f"  {k:24s} x{count:3d}  NCHW {a * 1e3:7.1f} ms  NHWC {b * 1e3:7.1f} ms")
print(f"1x1 stride 1 as conv2d {gemm[0] * 1e3:.0f} ms ({gemm[2] / gemm[0] / 1e9:.0f} GFLOP/s), "
      f"as mm {gemm[1] * 1e3:.0f} ms ({gemm[2] / gemm[1] / 1e9:.0f} GFLOP/s)")
print("grouped 3x3, groups merged (NHWC):")
for line in grouped.values():
    print("  " + line)
