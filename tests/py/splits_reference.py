"""timm's answers for tests/train_splits.rs: the JSD loss of AugMix's recipe
and the repeated-augmentation sampler, computed by timm's own classes.

usage: splits_reference.py jsd IN.safetensors OUT.safetensors
         IN holds `logits.K` (float64, split-major) and `targets.K` (int64) for
         each case K of the JSON list [{"splits", "smoothing"}] on stdin;
         OUT gets `loss.K` (a scalar) and `grad.K` (d loss / d logits).
       splits_reference.py repeat
         reads a JSON list of {"n", "repeats", "world"} on stdin and prints, per
         case, the index list of every rank (shuffle off: the permutation is the
         identity, which dpn's test also gives its own sampler).
"""

import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from timm.data.distributed_sampler import RepeatAugSampler
from timm.loss import JsdCrossEntropy


def jsd(src, dst):
    out = {}
    cases = json.load(sys.stdin)
    with safe_open(src, "pt") as f:
        for k, c in enumerate(cases):
            logits = f.get_tensor(f"logits.{k}").clone().requires_grad_(True)
            targets = f.get_tensor(f"targets.{k}")
            loss_fn = JsdCrossEntropy(num_splits=c["splits"], smoothing=c["smoothing"])
            loss = loss_fn(logits, targets)
            loss.backward()
            out[f"loss.{k}"] = loss.detach().reshape(())
            out[f"grad.{k}"] = logits.grad
    save_file(out, dst)


def repeat():
    answers = []
    for c in json.load(sys.stdin):
        # RepeatAugSampler reads only len(dataset).
        ranks = [
            list(RepeatAugSampler(range(c["n"]), num_replicas=c["world"], rank=r,
                                  shuffle=False, num_repeats=c["repeats"]))
            for r in range(c["world"])
        ]
        answers.append(ranks)
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "jsd":
        jsd(sys.argv[2], sys.argv[3])
    else:
        repeat()
