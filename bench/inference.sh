#!/usr/bin/env bash
# Inference speed, dpn against timm, on this machine in the same run.
#
#   bench/inference.sh cpu            # dpn68 batch 8 and dpn92 batch 4, 224 px, f32, NCHW and NHWC
#   bench/inference.sh cuda [OUTDIR]  # dpn68b/dpn92/dpn107 batch 256, f32 and bf16, NCHW and NHWC
#
# Each configuration runs dpn and timm alternately for ROUNDS rounds and keeps
# each side's best median, so that a slow moment on a shared machine hurts
# neither side alone. Prints a Markdown table with the ratio dpn/timm and
# writes it (plus the raw JSON lines) to OUTDIR (default bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-cpu}"
outdir="${2:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-2}"
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }

case "$kind" in
cpu)
    configs=("dpn68 8 f32" "dpn92 4 f32")
    device=cpu warmup=2 iters="${ITERS:-8}"
    ;;
cuda)
    configs=("dpn68b 256 f32" "dpn68b 256 bf16" "dpn92 256 f32" "dpn92 256 bf16" "dpn107 256 f32" "dpn107 256 bf16")
    device=cuda warmup=5 iters="${ITERS:-20}"
    ;;
*) echo "usage: bench/inference.sh cpu|cuda [OUTDIR]" >&2; exit 2 ;;
esac

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
raw="$outdir/$stamp-inference-$kind.jsonl"
report="$outdir/$stamp-inference-$kind.md"
: >"$raw"

dpn_ips() { # model batch dtype layout-flag
    "$dpn" -q profile "$1" --device "$device" --batch-size "$2" --dtype "$3" $4 \
        --warmup "$warmup" --iters "$iters" --format json | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["images_per_s"])'
}
timm_ips() {
    "$py" bench/timm_infer.py --model "$1" --device "$device" --batch-size "$2" --dtype "$3" $4 \
        --warmup "$warmup" --iters "$iters" | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }

{
    echo "# Inference, dpn vs timm ($kind), $stamp"
    echo
    echo "- machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    [ "$device" = cuda ] && echo "- GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
    echo "- $("$dpn" --version | tr '\n' ' ')"
    echo "- $("$py" -c 'import torch, timm; print(f"torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads")')"
    echo "- best of $rounds rounds, each the median of $iters timed batches after $warmup warm-up batches"
    echo
    echo "| model | batch | dtype | layout | dpn img/s | timm img/s | dpn / timm |"
    echo "|---|---:|---|---|---:|---:|---:|"
} | tee "$report"

for cfg in "${configs[@]}"; do
    read -r model batch dtype <<<"$cfg"
    for layout in nchw nhwc; do
        flag=""; [ "$layout" = nhwc ] && flag="--channels-last"
        d=(); t=()
        for _ in $(seq "$rounds"); do
            d+=("$(dpn_ips "$model" "$batch" "$dtype" "$flag")")
            t+=("$(timm_ips "$model" "$batch" "$dtype" "$flag")")
        done
        db="$(best "${d[@]}")"; tb="$(best "${t[@]}")"
        "$py" -c 'import sys; m,b,dt,l,d,t=sys.argv[1:]; print(f"| {m} | {b} | {dt} | {l} | {float(d):.1f} | {float(t):.1f} | {float(d)/float(t):.2f}x |")' \
            "$model" "$batch" "$dtype" "$layout" "$db" "$tb" | tee -a "$report"
    done
done
echo "bench: wrote $report and $raw" >&2
