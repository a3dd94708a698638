#!/usr/bin/env bash
# Which runtime to deploy on the CPU: onnxruntime on `dpn export`'s graph
# against dpn itself and timm eager, in one run (reported, no target).
#
#   bench/export.sh [OUTDIR]    # dpn68 batch 8 and dpn92 batch 4, 224 px, 2 threads, f32
#
# MODELS (default "dpn68:8 dpn92:4") lists model:batch pairs. Per model: timm's
# random weights go through `dpn export` (plain, and with --fold-bn); then
# timm eager (NCHW and NHWC), `dpn profile` (its default network, NCHW and
# NHWC) and onnxruntime on both graphs (all graph optimizations) each run
# ROUNDS times (default 2), alternating, keeping each side's best median.
# Writes a Markdown table and the raw JSON lines to OUTDIR (default
# bench/results), with the CPU model and its flags of note.
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-2}"
warmup=2 iters="${ITERS:-8}"
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }
export OMP_NUM_THREADS=2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
raw="$outdir/$stamp-export-cpu.jsonl"
report="$outdir/$stamp-export-cpu.md"
: >"$raw"

ips() { "$py" -c 'import json,sys; d=json.load(sys.stdin); print((d[0] if isinstance(d, list) else d)["images_per_s"])'; }
dpn_ips() { # model batch layout-flag
    "$dpn" -q profile "$1" --device cpu --img-size 224 --batch-size "$2" $3 \
        --warmup "$warmup" --iters "$iters" --format json | tee -a "$raw" | ips
}
timm_ips() { # model batch layout-flag
    "$py" bench/timm_infer.py --model "$1" --device cpu --batch-size "$2" $3 \
        --warmup "$warmup" --iters "$iters" | tee -a "$raw" | ips
}
ort_ips() { # onnx batch
    "$py" bench/ort_infer.py run --onnx "$1" --batch-size "$2" --threads 2 \
        --warmup "$warmup" --iters "$iters" | tee -a "$raw" | ips
}
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }

flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(amx_bf16|amx_tile|avx512_bf16|avx512f|avx2)$' | tr '\n' ' ')"
{
    echo "# CPU inference: onnxruntime on dpn's ONNX export vs dpn vs timm eager, $stamp"
    echo
    echo "- machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- CPU flags of note: ${flags:-none}(AMX: $(echo "$flags" | grep -q amx_bf16 && echo yes || echo no))"
    echo "- $("$dpn" --version | tr '\n' ' ')"
    echo "- $("$py" -c 'import torch, timm, onnxruntime as o; print(f"torch {torch.__version__}, timm {timm.__version__}, onnxruntime {o.__version__}, {torch.get_num_threads()} threads")')"
    echo "- f32, 224 px; best of $rounds rounds, each the median of $iters timed batches after $warmup warm-up batches"
    [ -n "${BENCH_NOTE:-}" ] && echo "- note: $BENCH_NOTE"
    echo
    echo "| model | batch | timm best | dpn best | onnxruntime | onnxruntime --fold-bn | dpn / timm | onnxruntime best / timm | onnxruntime best / dpn |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$report"

for cfg in ${MODELS:-dpn68:8 dpn92:4}; do
    model="${cfg%%:*}" batch="${cfg##*:}"
    "$py" bench/ort_infer.py make-weights "$model" "$work/$model.safetensors"
    "$dpn" -q export -m "$model" --weights "$work/$model.safetensors" "$work/$model.onnx"
    "$dpn" -q export -m "$model" --weights "$work/$model.safetensors" --fold-bn "$work/$model-fold.onnx"
    t=(); d=(); o=(); f=()
    for _ in $(seq "$rounds"); do
        t+=("$(timm_ips "$model" "$batch" "")" "$(timm_ips "$model" "$batch" --channels-last)")
        d+=("$(dpn_ips "$model" "$batch" "")" "$(dpn_ips "$model" "$batch" --channels-last)")
        o+=("$(ort_ips "$work/$model.onnx" "$batch")")
        f+=("$(ort_ips "$work/$model-fold.onnx" "$batch")")
    done
    "$py" -c '
import sys
m, b, *v = sys.argv[1:]
t, d, o, f = map(float, v)
print(f"| {m} | {b} | {t:.1f} | {d:.1f} | {o:.1f} | {f:.1f} | {d/t:.2f}x | {max(o, f)/t:.2f}x | {max(o, f)/d:.2f}x |")
' "$model" "$batch" "$(best "${t[@]}")" "$(best "${d[@]}")" "$(best "${o[@]}")" "$(best "${f[@]}")" |
        tee -a "$report"
done
echo "bench: wrote $report and $raw" >&2
