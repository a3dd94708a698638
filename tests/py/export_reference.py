"""Reference for tests/export.rs: timm's logits, and onnxruntime on dpn's exports.

usage:
  export_reference.py make OUT_DIR ARCH SIZE
      OUT_DIR/ARCH.safetensors   timm's ARCH with random weights (randomized BatchNorm
                                 statistics; a classifier that separates the photographs)
      OUT_DIR/ARCH.ref.safetensors
                                 `input`: 16 real photographs (8 scikit-image samples and
                                 their mirror images) through timm's eval transform at SIZE px;
                                 `logits`, `features`: timm's eval outputs for them (f32)
  export_reference.py check ARCH.ref.safetensors ONNX [ONNX ...]
      For each ONNX file: onnx.checker (full check), then onnxruntime on the input at batch
      sizes 1, 3 and 8 (dynamic batch) or at its fixed batch size, and the whole input
      compared with timm's. Prints one JSON line per file: max_abs (largest |logit
      difference|), max_logit (largest |timm logit|), top1_agree (fraction of images whose
      top-1 is timm's), top5_same (fraction whose top-5 set is timm's), features_max_abs,
      batches (the batch sizes run). A bf16 graph, which onnxruntime's CPU provider cannot
      run (it has no bf16 convolution), is checked and then run with its weights widened to
      f32 (exactly) and its input rounded to bf16: what a bf16 runtime is given.
  export_reference.py digits ONNX IMAGE_DIR
      The preprocessing the ONNX file's metadata records (input_size, crop_pct,
      interpolation, mean, std), applied by timm's own eval transform, then onnxruntime:
      prints {"metadata": {...}, "top1": {path: class name}} as JSON.
"""
import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import timm
import torch
from onnx import numpy_helper
from PIL import Image
from safetensors.numpy import load_file
from safetensors.torch import save_file
from timm.data import create_transform

from predict_reference import photos as photo_arrays, separate_classes

torch.set_num_threads(2)


def photos():
    """predict_reference.py's photographs, as RGB images."""
    return [Image.fromarray(a).convert("RGB") for a in photo_arrays().values()]


def make(out, arch, size):
    torch.manual_seed(sum(map(ord, arch)))
    model = timm.create_model(arch, pretrained=False).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    transform = create_transform(input_size=(3, size, size), interpolation="bicubic",
                                 crop_pct=0.875, mean=model.pretrained_cfg["mean"],
                                 std=model.pretrained_cfg["std"])
    images = photos()
    x = torch.stack([transform(im) for im in images])
    x = torch.cat([x, x.flip(-1)])
    # A random network maps every photograph to nearly the same output.
    with torch.no_grad():
        separate_classes(model, model.forward_head(model.forward_features(x[:8]), pre_logits=True))
        features = model.forward_head(model.forward_features(x), pre_logits=True)
        logits = model(x)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, f"{arch}.safetensors"))
    save_file({"input": x.contiguous(), "logits": logits.contiguous(),
               "features": features.contiguous()},
              os.path.join(out, f"{arch}.ref.safetensors"))


def widen_bf16(model):
    """The bf16 graph with every bf16 value widened to f32 (exact)."""
    bf16, f32 = onnx.TensorProto.BFLOAT16, onnx.TensorProto.FLOAT
    for t in model.graph.initializer:
        if t.data_type == bf16:
            raw = np.frombuffer(t.raw_data, dtype=np.uint16).astype(np.uint32) << 16
            t.raw_data = raw.view(np.float32).tobytes()
            t.data_type = f32
    for v in list(model.graph.input) + list(model.graph.output):
        if v.type.tensor_type.elem_type == bf16:
            v.type.tensor_type.elem_type = f32
    return model


def round_bf16(x):
    """f32 to the nearest bf16 (ties to even), back as f32."""
    u = x.astype(np.float32).view(np.uint32)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return u.view(np.float32)


def session(model_or_path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def check(ref_path, files):
    ref = load_file(ref_path)
    x, want, want_f = ref["input"], ref["logits"], ref["features"]
    for path in files:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        elem = model.graph.input[0].type.tensor_type.elem_type
        feed_x = x
        if elem == onnx.TensorProto.BFLOAT16:
            model = widen_bf16(model)
            feed_x = round_bf16(x)
            sess = session(model)
            dtype = np.float32
        else:
            sess = session(path)
            dtype = {onnx.TensorProto.FLOAT: np.float32,
                     onnx.TensorProto.FLOAT16: np.float16}[elem]
        dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
        fixed = dim0.dim_value if dim0.HasField("dim_value") else 0
        names = [o.name for o in sess.get_outputs()]
        sizes = [fixed] if fixed else [1, 3, 8]
        runs = []
        for n in sizes:
            out = sess.run(None, {"pixel_values": feed_x[:n].astype(dtype)})
            assert out[0].shape == (n, want.shape[1]), (path, out[0].shape)
            runs.append(n)
        # The whole input, in chunks of the batch size the graph takes.
        step = fixed or len(x)
        got, got_f = [], []
        for i in range(0, len(x) - len(x) % step, step):
            out = dict(zip(names, sess.run(None, {"pixel_values": feed_x[i:i + step].astype(dtype)})))
            got.append(out["logits"].astype(np.float64))
            if "features" in out:
                got_f.append(out["features"].astype(np.float64))
        got = np.concatenate(got)
        w = want[: len(got)].astype(np.float64)
        top5 = lambda a: [set(r) for r in np.argsort(-a, axis=1)[:, :5]]
        report = {
            "file": os.path.basename(path),
            "images": len(got),
            "max_abs": float(np.abs(got - w).max()),
            "max_logit": float(np.abs(w).max()),
            "top1_agree": float((got.argmax(1) == w.argmax(1)).mean()),
            "top5_same": float(np.mean([a == b for a, b in zip(top5(got), top5(w))])),
            "batches": runs,
            "opset": model.opset_import[0].version,
        }
        if got_f:
            gf = np.concatenate(got_f)
            report["features_max_abs"] = float(np.abs(gf - want_f[: len(gf)]).max())
        print(json.dumps(report), flush=True)


def digits(path, image_dir):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    size = json.loads(meta["input_size"])
    transform = create_transform(input_size=tuple(size), interpolation=meta["interpolation"],
                                 crop_pct=float(meta["crop_pct"]), mean=json.loads(meta["mean"]),
                                 std=json.loads(meta["std"]))
    names = json.loads(meta["class_names"])
    sess = session(path)
    top1 = {}
    for root, _, files in os.walk(image_dir):
        for f in sorted(files):
            p = os.path.join(root, f)
            x = transform(Image.open(p).convert("RGB")).unsqueeze(0).numpy()
            logits = sess.run(["logits"], {"pixel_values": x})[0][0]
            top1[p] = names[int(logits.argmax())]
    print(json.dumps({"metadata": meta, "top1": top1}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3:])
    elif cmd == "digits":
        digits(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
