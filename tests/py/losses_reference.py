"""timm's losses, gradient clipping, gradient accumulation and head dropout on
dpn's inputs, for tests/train_losses.rs.

usage: losses_reference.py IN.safetensors CASES.json OUT.safetensors

IN holds what dpn drew: `logits` (f64 [N, C]), `idx` (int64 [N]), `dense`
(f64 [N, C] soft targets), the dpn48b state dict `sd.<key>` (f64), a
gradient `grad.<key>` per parameter, the batches `x.<i>`/`y.<i>` of the
accumulation run and `xd` (the dropout batch). CASES lists the loss cases
(timm's BinaryCrossEntropy options or "soft"), the clip value, the
accumulation settings and the dropout seed. OUT gets, per loss case i,
`loss.<i>` and `dlogits.<i>`; per clip mode m, `clip.<m>.<key>` (the
gradients after timm.utils.dispatch_clip_grad on
timm.utils.model_parameters(model, exclude_head='agc' in m), as train.py
calls it); `accum.<key>` (the state dict after train.py's accumulation
loop with torch.optim.SGD); `drop.train`/`drop.eval` (logits of timm's DPN
with drop_rate in train mode after torch.manual_seed(seed), and in eval).
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import sys

import torch
from safetensors.torch import load_file, save_file

import timm
from timm.loss import BinaryCrossEntropy, SoftTargetCrossEntropy
from timm.models import model_parameters
from timm.utils import dispatch_clip_grad


def dpn(t, drop_rate=0.0):
    m = timm.create_model("dpn48b", num_classes=10, drop_rate=drop_rate).double()
    sd = {k[3:]: v for k, v in t.items() if k.startswith("sd.")}
    m.load_state_dict(sd, strict=True)
    return m


def main():
    t = load_file(sys.argv[1])
    cases = json.load(open(sys.argv[2]))
    out = {}
    for i, c in enumerate(cases["losses"]):
        x = t["logits"].clone().requires_grad_(True)
        target = t["dense"] if c["target"] == "dense" else t["idx"]
        if c["kind"] == "soft":
            fn = SoftTargetCrossEntropy()
        else:
            kw = {k: c[k] for k in ("smoothing", "target_threshold", "sum_classes", "pos_weight")}
            if kw["smoothing"] is None:
                del kw["smoothing"]
            fn = BinaryCrossEntropy(**kw)
        loss = fn(x, target)
        loss.backward()
        out[f"loss.{i}"] = loss.detach().reshape(1)
        out[f"dlogits.{i}"] = x.grad.detach()

    # Clipping: dpn's gradients on timm's model, clipped by timm.
    for mode in ("norm", "value", "agc"):
        m = dpn(t)
        for k, p in m.named_parameters():
            p.grad = t[f"grad.{k}"].clone()
        params = model_parameters(m, exclude_head="agc" in mode)
        dispatch_clip_grad(params, value=cases["clip"][mode], mode=mode)
        for k, p in m.named_parameters():
            out[f"clip.{mode}.{k}"] = p.grad.detach().clone()

    # Accumulation: train.py's train_one_epoch arithmetic over the batches.
    a = cases["accum"]
    m = dpn(t)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=a["lr"], momentum=a["momentum"])
    n = a["batches"]
    accum_steps = a["k"]
    last_accum_steps = n % accum_steps
    last_batch_idx_to_accum = n - last_accum_steps
    opt.zero_grad()
    for batch_idx in range(n):
        need_update = batch_idx == n - 1 or (batch_idx + 1) % accum_steps == 0
        if batch_idx >= last_batch_idx_to_accum:
            accum_steps = last_accum_steps
        loss = torch.nn.functional.cross_entropy(m(t[f"x.{batch_idx}"]), t[f"y.{batch_idx}"])
        if accum_steps > 1:
            loss /= accum_steps
        loss.backward()
        if need_update:
            dispatch_clip_grad(model_parameters(m), value=a["clip"], mode="norm")
            opt.step()
            opt.zero_grad()
    for k, v in m.state_dict().items():
        out[f"accum.{k}"] = v.detach().clone()

    # Head dropout: train mode replays torch's generator; eval has none.
    m = dpn(t, drop_rate=cases["drop"]["rate"])
    m.train()
    torch.manual_seed(cases["drop"]["seed"])
    with torch.no_grad():
        out["drop.train"] = m(t["xd"])
    m.eval()
    with torch.no_grad():
        out["drop.eval"] = m(t["xd"])
    save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[3])


main()
