"""onnxruntime's side of bench/export.sh: the measurement `dpn profile` makes.

usage: ort_infer.py make-weights MODEL OUT.safetensors
       ort_infer.py run --onnx FILE --batch-size N [--warmup W] [--iters I]

make-weights writes timm's MODEL with random weights as a safetensors file, for
`dpn export --weights`. run loads FILE in onnxruntime's CPU provider (all graph
optimizations, --threads intra-op threads, default 2), runs --warmup batches of
random input, times --iters batches and prints one JSON object with the median
latency and the throughput at the median, as dpn and bench/timm_infer.py report them.
"""
import argparse
import json
import sys
import time


def make_weights(model, out):
    import timm
    from safetensors.torch import save_file

    m = timm.create_model(model, pretrained=False).eval()
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, out)


def run(args):
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.onnx, opts, providers=["CPUExecutionProvider"])
    shape = sess.get_inputs()[0].shape
    x = np.random.default_rng(0).standard_normal(
        (args.batch_size, shape[1], shape[2], shape[3])).astype(np.float32)
    for _ in range(args.warmup):
        sess.run(None, {"pixel_values": x})
    times = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        sess.run(None, {"pixel_values": x})
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "runtime": f"onnxruntime {ort.__version__}",
        "onnx": args.onnx,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "median_ms": median * 1e3,
        "images_per_s": args.batch_size / median,
    }))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "make-weights":
        make_weights(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=8)
    run(ap.parse_args())


if __name__ == "__main__":
    main()
