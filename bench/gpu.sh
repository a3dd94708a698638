#!/usr/bin/env bash
# Every GPU check in one call, for the device machine (no compiler there):
#
#   here:   make build && mkdir -p .device && cp target/release/dpn .device/   (.device is git-ignored)
#   there:  run(command="DPN=.device/dpn bash bench/gpu.sh $OUT", carry=[".device"], timeout_s=540)
#
# 1. CUDA parity: dpn predict (f32, and bf16) against timm on the same GPU:
#    f32 embeddings within 1e-3, bf16 top-1 agreeing with timm's autocast on >= 99%.
# 2. Distributed smoke (docs/distributed.md): torchrun, a world of one on the GPU with
#    --dist-backend nccl, and two ranks sharing the GPU through Gloo (NCCL refuses two ranks
#    on one GPU); each trains dpn48b for one epoch on random images, against a plain run.
# 3. The folded network against the exact one, timm eager and timm + torch.compile, bf16 NHWC
#    batch 256 (bench/fold.sh with DEVICE=cuda); its parity in step 1 (gpu-parity-folded.json).
# 4. Batch-1 latency with and without `dpn profile --cuda-graph`, against timm eager (gpu-latency.md).
# 5. Inference throughput, dpn vs timm, f32/bf16 x NCHW/NHWC, batch 256 (bench/inference.sh cuda).
# Results go to OUTDIR (default bench/results).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results}"; mkdir -p "$out"
export DPN="${DPN:-target/release/dpn}"
export PYTHON="${PYTHON:-python3}"
export LD_LIBRARY_PATH="$("$PYTHON" -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$DPN" --version | tee "$out/gpu-version.txt"

work="$(mktemp -d)"
"$PYTHON" bench/gpu_parity.py make "$work" "${N:-1024}"
"$DPN" -q convert "$work/weights.pth" "$work/w.safetensors"
"$DPN" -q predict --weights "$work/w.safetensors" --device cuda --batch-size 128 -k 1 --format csv \
    --features "$work/dpn_f32.npy" "$work/images" >"$work/dpn_f32.csv"
"$DPN" -q predict --weights "$work/w.safetensors" --device cuda --dtype bf16 --channels-last --batch-size 128 \
    -k 1 --format csv "$work/images" >"$work/dpn_bf16.csv"
"$PYTHON" bench/gpu_parity.py check "$work" | tee "$out/gpu-parity.json"
# The same with the folded network (docs/conventions.md, "Folding"), not yet the default on CUDA.
"$DPN" -q predict --weights "$work/w.safetensors" --device cuda --folded --batch-size 128 -k 1 --format csv \
    --features "$work/dpn_folded_f32.npy" "$work/images" >"$work/dpn_folded_f32.csv"
"$DPN" -q predict --weights "$work/w.safetensors" --device cuda --folded --dtype bf16 --channels-last \
    --batch-size 128 -k 1 --format csv "$work/images" >"$work/dpn_folded_bf16.csv"
"$PYTHON" bench/gpu_parity.py check "$work" dpn_folded | tee "$out/gpu-parity-folded.json"

# 2. Distributed smoke: exit codes and the loss per step of each run, in gpu-dist.txt.
"$PYTHON" - "$work/tiny" <<'PY'
import os, sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for c in range(4):
    d = os.path.join(sys.argv[1], str(c)); os.makedirs(d, exist_ok=True)
    for i in range(48):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(f"{d}/{i}.png")
PY
train=(train --data "$work/tiny" -m dpn48b --img-size 64 -b 16 --epochs 1 --lr 0.01 --seed 3 --workers 2 --format csv)
{
    for how in plain nccl1 gloo2; do
        case $how in
            plain) cmd=("$DPN" "${train[@]}" --device cuda --output "$work/run-$how") ;;
            nccl1) cmd=("$PYTHON" -m torch.distributed.run --nproc-per-node 1 --no-python "$DPN" "${train[@]}" --device cuda --dist-backend nccl --output "$work/run-$how") ;;
            gloo2) cmd=("$PYTHON" -m torch.distributed.run --nproc-per-node 2 --no-python "$DPN" "${train[@]}" --device cuda --dist-backend gloo --output "$work/run-$how") ;;
        esac
        timeout 240 "${cmd[@]}" >"$work/$how.out" 2>"$work/$how.err"
        echo "== $how: exit $?"
        grep -E "distributed:|error" "$work/$how.err" | head -5
        cut -d, -f1-6 "$work/run-$how/steps.csv" 2>/dev/null | head -20
    done
} 2>&1 | tee "$out/gpu-dist.txt"

# 3. Folded against exact against timm eager and timm + torch.compile, bf16 NHWC batch 256.
DEVICE=cuda ROUNDS=1 DPN="$DPN" PYTHON="$PYTHON" bash bench/fold.sh "$out"

# 4. Batch-1 latency, bf16 NHWC: timm eager against dpn (folded) with and without a CUDA graph.
lat() { "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(round(d["latency_ms_median"],3))'; }
{
    echo "| model | timm eager ms | dpn ms | dpn CUDA graph ms | timm / dpn graph |"
    echo "|---|---:|---:|---:|---:|"
    for m in dpn68b dpn92 dpn107; do
        t="$("$PYTHON" bench/timm_infer.py --model "$m" --device cuda --batch-size 1 --dtype bf16 --channels-last --warmup 10 --iters 50 | lat)"
        d="$("$DPN" -q profile "$m" --device cuda --batch-size 1 --dtype bf16 --channels-last --folded --warmup 10 --iters 50 --format json | lat)"
        g="$("$DPN" -q profile "$m" --device cuda --batch-size 1 --dtype bf16 --channels-last --folded --cuda-graph --warmup 10 --iters 50 --format json | lat)"
        echo "| $m | $t | $d | $g | $("$PYTHON" -c "print(f'{$t/$g:.2f}x')" 2>/dev/null) |"
    done
} 2>&1 | tee "$out/gpu-latency.md"

# 5. dpn against timm in every dtype and layout.
ROUNDS="${ROUNDS:-2}" PYTHON="$PYTHON" bash bench/inference.sh cuda "$out"
