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
#
# dpn tunes glibc malloc at start-up (src/sys/allocator.rs); timm runs as users run
# it, with glibc's defaults. The last column gives timm the same malloc settings
# through GLIBC_TUNABLES, to show how much of the ratio is the allocator.
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
    GLIBC_TUNABLES="${TIMM_TUNABLES:-}" "$py" bench/timm_infer.py --model "$1" --device "$device" --batch-size "$2" --dtype "$3" $4 \
        --warmup "$warmup" --iters "$iters" | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
same_malloc="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"
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
    echo "| model | batch | dtype | layout | dpn img/s | timm img/s | dpn / timm | timm, dpn's malloc settings | dpn / that |"
    echo "|---|---:|---|---|---:|---:|---:|---:|---:|"
} | tee "$report"

for cfg in "${configs[@]}"; do
    read -r model batch dtype <<<"$cfg"
    for layout in nchw nhwc; do
        flag=""; [ "$layout" = nhwc ] && flag="--channels-last"
        d=(); t=(); s=()
        for _ in $(seq "$rounds"); do
            d+=("$(dpn_ips "$model" "$batch" "$dtype" "$flag")")
            t+=("$(timm_ips "$model" "$batch" "$dtype" "$flag")")
            # On CUDA host malloc is not on the hot path: skip the third run.
            if [ "$device" = cpu ]; then
                s+=("$(TIMM_TUNABLES="$same_malloc" timm_ips "$model" "$batch" "$dtype" "$flag")")
            else
                s+=("${t[-1]}")
            fi
        done
        db="$(best "${d[@]}")"; tb="$(best "${t[@]}")"; sb="$(best "${s[@]}")"
        "$py" -c 'import sys; m,b,dt,l,d,t,s=sys.argv[1:]; d,t,s=float(d),float(t),float(s); print(f"| {m} | {b} | {dt} | {l} | {d:.1f} | {t:.1f} | {d/t:.2f}x | {s:.1f} | {d/s:.2f}x |")' \
            "$model" "$batch" "$dtype" "$layout" "$db" "$tb" "$sb" | tee -a "$report"
    done
done
echo "bench: wrote $report and $raw" >&2
