"""timm's side of the inference benchmarks: the same measurement `dpn profile` makes.

Builds the model with random weights (eval mode), runs --warmup batches, times
--iters batches (synchronizing on CUDA) and prints one JSON object with the
median and p90 latency and the throughput at the median, as dpn reports them.
bf16/f16 use torch.autocast, as timm's benchmark.py does, or with --cast-model
the model and input cast to that dtype (timm's benchmark.py --model-dtype).
--compile runs the model through torch.compile (inductor, its default mode);
the first call, which compiles, is timed apart and reported as compile_s.
"""
import argparse
import json
import math
import time

import timm
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--cast-model", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = timm.create_model(args.model, pretrained=False).eval().to(device)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    amp = {"f32": None, "bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    if args.cast_model and amp is not None:
        model, x, amp = model.to(amp), x.to(amp), None
    if args.compile:
        model = torch.compile(model)

    def run():
        with torch.inference_mode():
            if amp is None:
                out = model(x)
            else:
                with torch.autocast(device.type, dtype=amp):
                    out = model(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return out

    compile_s = None
    if args.compile:
        t0 = time.perf_counter()
        run()
        compile_s = time.perf_counter() - t0
    for _ in range(args.warmup):
        run()
    times = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    p90 = times[min(n, max(1, math.ceil(0.9 * n))) - 1]
    print(json.dumps({
        "model": args.model, "batch_size": args.batch_size, "img_size": args.img_size,
        "device": str(device), "dtype": args.dtype, "channels_last": args.channels_last,
        "mode": "compile" if args.compile else "eager",
        "precision": "model cast" if args.cast_model and args.dtype != "f32" else ("autocast" if args.dtype != "f32" else "f32"),
        "compile_s": compile_s,
        "threads": torch.get_num_threads(), "latency_ms_median": median, "latency_ms_p90": p90,
        "images_per_s": args.batch_size / (median / 1e3),
        "torch": torch.__version__, "timm": timm.__version__,
    }))


if __name__ == "__main__":
    main()
