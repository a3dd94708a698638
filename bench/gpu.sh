#!/usr/bin/env bash
# Every GPU check in one call, for the device machine (no compiler there):
#
#   here:   make build && mkdir -p .device && cp target/release/dpn .device/   (.device is git-ignored)
#   there:  run(command="DPN=.device/dpn bash bench/gpu.sh $OUT", carry=[".device"], timeout_s=540)
#
# 1. CUDA parity: dpn predict (f32, and bf16) against timm on the same GPU:
#    f32 embeddings within 1e-3, bf16 top-1 agreeing with timm's autocast on >= 99%.
# 2. Inference throughput, dpn vs timm, f32/bf16 x NCHW/NHWC, batch 256 (bench/inference.sh cuda).
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

ROUNDS="${ROUNDS:-2}" PYTHON="$PYTHON" bash bench/inference.sh cuda "$out"
