"""How much oneDNN's fused convolution + ReLU and prepacked weights would gain on this CPU.

A probe for issue #15, not a benchmark of dpn: it rebuilds dpn's folded inference network
(src/model/fold.rs, docs/conventions.md "Folding") in Python from timm's modules, in three
forms, and times them interleaved in one process against timm's own bf16/f32 model:

  plain      conv2d with the folded bias, then relu_ (what `dpn` runs today)
  fused      mkldnn::_convolution_pointwise(attr="relu"), weights as they are
  fusedpack  the same, weights prepacked once by mkldnn::_reorder_convolution_weight
  pack       prepacked weights, attr="none", then torch's relu_ (keeps NaN)
  buf        plain, with each stage's concatenations written into one preallocated buffer
  packbuf    pack and buf together

  .venv/bin/python bench/fuse_probe.py MODEL BATCH f32|bf16 [ROUNDS] [FORM,FORM...]

Each round times one batch of every form in turn; a form's figure is its fastest batch over
ROUNDS (default 20), and its median beside it, so a slow moment on a shared machine hurts no
form alone. NHWC, 224 px, 2 threads, random weights.
Note: oneDNN's fused ReLU maps NaN to 0 (torch's relu keeps it), the reason dpn does not
fuse yet (docs/conventions.md, "Folding").
"""
import statistics
import sys
import time

import timm
import torch

torch.set_num_threads(2)
name, batch = sys.argv[1], int(sys.argv[2])
dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[sys.argv[3]]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 20
cl = torch.channels_last
shape = [batch, 3, 224, 224]
m = timm.create_model(name, pretrained=False).eval()

# Each convolution's input size, for prepacking.
sizes, names = {}, {mod: n for n, mod in m.named_modules()}
hooks = [mod.register_forward_hook(lambda mod, i, o: sizes.__setitem__(names[mod], list(i[0].shape)))
         for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)]
with torch.no_grad():
    m(torch.randn(shape))
for h in hooks:
    h.remove()


def fold(conv, bn):
    s = bn.weight.double() / (bn.running_var.double() + bn.eps).sqrt()
    t = bn.bias.double() - bn.running_mean.double() * s
    return (conv.weight.double() * s.view(-1, 1, 1, 1)).to(dtype).contiguous(memory_format=cl), t.to(dtype)


def bn_relu(bn):
    s = bn.weight / (bn.running_var + bn.eps).sqrt()
    t = bn.bias - bn.running_mean * s
    zeros, ones = torch.zeros_like(s), torch.ones_like(s)
    return lambda x: torch.batch_norm(x, s, t, zeros, ones, False, 0.0, 0.0, True).relu_()


def plain_conv(w, b, c, relu):
    """conv2d with the folded bias, then relu_: the `plain` form, what `dpn` runs."""
    def f(x):
        y = torch.conv2d(x, w, b, c.stride[0], c.padding[0], 1, c.groups)
        return y.relu_() if relu else y
    return f


def folded_parts(conv, pre):
    """The folded network's stem, blocks and head from timm's modules: `conv(w, b, module,
    relu)` makes each convolution, `pre(bn)` each pre-activation BatchNorm + ReLU."""
    def plain(c):
        return conv(c.weight.to(dtype).contiguous(memory_format=cl), None, c, False)

    f = m.features
    stem = conv(*fold(f.conv1_1.conv, f.conv1_1.bn), f.conv1_1.conv, True)
    blocks = []
    for blk in f.children():
        if type(blk).__name__ != "DualPathBlock":
            continue
        d = {"bw": blk.num_1x1_c, "inc": blk.inc, "pre": pre(blk.c1x1_a.bn)}
        p = blk.c1x1_w_s1 if blk.c1x1_w_s1 is not None else blk.c1x1_w_s2
        if p is not None:
            d["proj"] = (pre(p.bn), plain(p.conv))
        d["a"] = conv(*fold(blk.c1x1_a.conv, blk.c3x3_b.bn), blk.c1x1_a.conv, True)
        # The b variants' c1x1_c is BatchNorm + activation alone, feeding c1x1_c1 and c1x1_c2.
        d["b"] = conv(*fold(blk.c3x3_b.conv, blk.c1x1_c.bn), blk.c3x3_b.conv, True)
        if blk.b:
            d["c1"], d["c2"] = plain(blk.c1x1_c1), plain(blk.c1x1_c2)
        else:
            d["c"] = plain(blk.c1x1_c.conv)
        blocks.append(d)
    return stem, blocks, pre(f.conv5_bn_ac.bn)


def build(form):
    def conv(w, b, c, relu):
        stride, pad, groups = c.stride[0], c.padding[0], c.groups
        if form in ("plain", "buf"):
            return plain_conv(w, b, c, relu)
        ww = w
        if form in ("fusedpack", "pack", "packbuf"):
            ww = torch.ops.mkldnn._reorder_convolution_weight(w, [pad, pad], [stride, stride], [1, 1], groups, sizes[names[c]])
        if form.startswith("fused"):
            attr = "relu" if relu else "none"
            return lambda x: torch.ops.mkldnn._convolution_pointwise(x, ww, b, [pad, pad], [stride, stride], [1, 1], groups, attr, [], None)

        def g(x):
            y = torch.ops.mkldnn._convolution_pointwise(x, ww, b, [pad, pad], [stride, stride], [1, 1], groups, "none", [], None)
            return y.relu_() if relu else y
        return g

    stem, blocks, head = folded_parts(conv, bn_relu)

    def forward_buf(x):
        x = torch.max_pool2d(stem(x), 3, 2, 1)
        buf, width, joined = None, 0, x
        for i, d in enumerate(blocks):
            x_in = joined
            if "proj" in d:
                xs = d["proj"][1](d["proj"][0](x_in))
                bw = d["bw"]
                dense = xs[:, bw:]
                # Width at the end of this stage: this block's and the following normal blocks' increments.
                total = bw + dense.shape[1] + d["inc"]
                for e in blocks[i + 1:]:
                    if "proj" in e:
                        break
                    total += e["inc"]
                n, _, hh, ww = xs.shape
                buf = torch.empty([n, total, hh, ww], dtype=xs.dtype).contiguous(memory_format=cl)
                buf[:, bw:bw + dense.shape[1]].copy_(dense)
                width = bw + dense.shape[1]
                r = xs[:, :bw]
            else:
                bw = d["bw"]
                r = buf[:, :bw]
            h = d["b"](d["a"](d["pre"](x_in)))
            if "c" in d:
                h = d["c"](h)
                o1, o2 = h[:, :bw], h[:, bw:]
            else:
                o1, o2 = d["c1"](h), d["c2"](h)
            torch.add(r, o1, out=buf[:, :bw])
            buf[:, width:width + o2.shape[1]].copy_(o2)
            width += o2.shape[1]
            joined = buf[:, :width]
        return torch.nn.functional.adaptive_avg_pool2d(head(joined), 1)

    if form.endswith("buf"):
        return forward_buf

    def forward(x):
        x = torch.max_pool2d(stem(x), 3, 2, 1)
        r = None
        for d in blocks:
            x_in = x if r is None else torch.cat([r, x], 1)
            if "proj" in d:
                xs = d["proj"][1](d["proj"][0](x_in))
                r, dense = xs[:, :d["bw"]], xs[:, d["bw"]:]
            else:
                dense = x
            h = d["b"](d["a"](d["pre"](x_in)))
            if "c" in d:
                h = d["c"](h)
                o1, o2 = h[:, :d["bw"]], h[:, d["bw"]:]
            else:
                o1, o2 = d["c1"](h), d["c2"](h)
            r, x = r + o1, torch.cat([dense, o2], 1)
        return torch.nn.functional.adaptive_avg_pool2d(head(torch.cat([r, x], 1)), 1)

    return forward


all_forms = ("plain", "fused", "fusedpack", "pack", "buf", "packbuf")
wanted = sys.argv[5].split(",") if len(sys.argv) > 5 else all_forms
if not set(wanted) <= set(all_forms):
    sys.exit(f"fuse_probe: unknown form in {sys.argv[5]!r}; the forms are {', '.join(all_forms)}")
forms = {form: build(form) for form in wanted}
with torch.no_grad():
    x0 = torch.randn(shape)
    ref = torch.nn.functional.adaptive_avg_pool2d(m.forward_features(x0), 1)
    diffs = {k: (f(x0.to(dtype).contiguous(memory_format=cl)).float() - ref).abs().max().item() for k, f in forms.items()}
    cast = m.to(dtype).to(memory_format=cl)
    forms["timm model cast"] = cast.forward_features
    inp = torch.randn(shape).to(dtype).contiguous(memory_format=cl)
    times = {k: [] for k in forms}
    for f in forms.values():
        f(inp), f(inp)
    # One batch per form in turn, so that a slow moment of a shared machine
    # falls on every form alike; the fastest batch of each is its figure.
    for _ in range(rounds):
        for k, f in forms.items():
            t0 = time.perf_counter()
            f(inp)
            times[k].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
base = next(iter(forms))
for k, v in best.items():
    d = f"  features max |diff| vs timm f32 {diffs[k]:.1e}" if k in diffs else ""
    print(f"{name} batch {batch} {sys.argv[3]} {k}: {batch / v:.1f} img/s ({best[base] / v:.2f}x {base}; median {batch / med[k]:.1f}, {med[base] / med[k]:.2f}x){d}")
