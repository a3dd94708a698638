#!/usr/bin/env bash
# The folded inference network against the exact one and timm eager, CPU, in one run.
#
#   bench/fold.sh [OUTDIR]    # dpn68 batch 8 and dpn92 batch 4, 224 px, 2 threads
#
# MODELS (default "dpn68:8 dpn92:4") lists model:batch pairs.
# Per model and dtype (DTYPES, default "f32 bf16"): timm eager in NCHW and NHWC
# (bf16 through autocast, as timm's benchmark.py), `dpn profile --exact` and
# `dpn profile` (folded) in both layouts. Each runs ROUNDS times (default 2),
# alternating, and keeps its best median, so that a slow moment on a shared
# machine hurts no side alone. The ratios compare each side's best layout.
# Writes a Markdown table and the raw JSON lines to OUTDIR (default bench/results),
# with the CPU model and whether it has AMX / AVX-512 bf16 (bf16 is emulated without).
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-2}"
dtypes="${DTYPES:-f32 bf16}"
warmup=2 iters="${ITERS:-8}"
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }
export OMP_NUM_THREADS=2

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
raw="$outdir/$stamp-fold-cpu.jsonl"
report="$outdir/$stamp-fold-cpu.md"
: >"$raw"

dpn_ips() { # model batch dtype layout-flag exact-flag
    "$dpn" -q profile "$1" --device cpu --img-size 224 --batch-size "$2" --dtype "$3" $4 $5 \
        --warmup "$warmup" --iters "$iters" --format json | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["images_per_s"])'
}
timm_ips() { # model batch dtype layout-flag
    "$py" bench/timm_infer.py --model "$1" --device cpu --batch-size "$2" --dtype "$3" $4 \
        --warmup "$warmup" --iters "$iters" | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }

flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(amx_bf16|amx_tile|avx512_bf16|avx512f|avx2)$' | tr '\n' ' ')"
{
    echo "# Inference, folded network vs exact vs timm eager (cpu), $stamp"
    echo
    echo "- machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- CPU flags of note: ${flags:-none}(AMX: $(echo "$flags" | grep -q amx_bf16 && echo yes || echo no))"
    echo "- $("$dpn" --version | tr '\n' ' ')"
    echo "- $("$py" -c 'import torch, timm; print(f"torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads")')"
    echo "- best of $rounds rounds, each the median of $iters timed batches after $warmup warm-up batches; 224 px"
    [ -n "${BENCH_NOTE:-}" ] && echo "- note: $BENCH_NOTE"
    echo
    echo "| model | batch | dtype | timm nchw | timm nhwc | exact nchw | exact nhwc | folded nchw | folded nhwc | folded / timm best | folded / exact best |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$report"

for cfg in ${MODELS:-dpn68:8 dpn92:4}; do
    model="${cfg%%:*}" batch="${cfg##*:}"
    for dtype in $dtypes; do
        tn=(); tc=(); en=(); ec=(); fn=(); fc=()
        for _ in $(seq "$rounds"); do
            tn+=("$(timm_ips "$model" "$batch" "$dtype" "")")
            tc+=("$(timm_ips "$model" "$batch" "$dtype" --channels-last)")
            en+=("$(dpn_ips "$model" "$batch" "$dtype" "" --exact)")
            ec+=("$(dpn_ips "$model" "$batch" "$dtype" --channels-last --exact)")
            fn+=("$(dpn_ips "$model" "$batch" "$dtype" "" "")")
            fc+=("$(dpn_ips "$model" "$batch" "$dtype" --channels-last "")")
        done
        "$py" -c '
import sys
m, b, dt, *v = sys.argv[1:]
tn, tc, en, ec, fn, fc = map(float, v)
t, e, f = max(tn, tc), max(en, ec), max(fn, fc)
print(f"| {m} | {b} | {dt} | {tn:.1f} | {tc:.1f} | {en:.1f} | {ec:.1f} | {fn:.1f} | {fc:.1f} | {f/t:.2f}x | {f/e:.2f}x |")
' "$model" "$batch" "$dtype" "$(best "${tn[@]}")" "$(best "${tc[@]}")" "$(best "${en[@]}")" \
            "$(best "${ec[@]}")" "$(best "${fn[@]}")" "$(best "${fc[@]}")" | tee -a "$report"
    done
done
echo "bench: wrote $report and $raw" >&2
