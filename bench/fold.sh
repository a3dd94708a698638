#!/usr/bin/env bash
# The folded inference network against the exact one, timm eager and timm + torch.compile,
# CPU, in one run.
#
#   bench/fold.sh [OUTDIR]                 # CPU: dpn68 batch 8 and dpn92 batch 4, 224 px, 2 threads
#   DEVICE=cuda bench/fold.sh [OUTDIR]     # CUDA: dpn68b, dpn92, dpn107 batch 256, bf16
#
# MODELS (default "dpn68:8 dpn92:4", on CUDA "dpn68b:256 dpn92:256 dpn107:256") lists
# model:batch pairs. The folded side runs `dpn profile --folded`, so it is measured
# also where it is not yet the default (bf16, CUDA).
# Per model and dtype (DTYPES, default "f32 bf16"): timm eager in NCHW and NHWC
# (bf16 through autocast, as timm's benchmark.py, and as a bf16 model), timm +
# torch.compile in NHWC (inductor's default mode; bf16 as a bf16 model; compiled
# once, its compile time reported apart; COMPILE=0 skips it), `dpn profile --exact`
# and `dpn profile` (folded) in both layouts. Each eager side runs ROUNDS times
# (default 2), alternating, and keeps its best median, so that a slow moment on a
# shared machine hurts no side alone. The ratios compare each side's best layout.
# Writes a Markdown table and the raw JSON lines to OUTDIR (default bench/results),
# with the CPU model and whether it has AMX / AVX-512 bf16 (bf16 is emulated without).
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-2}"
device="${DEVICE:-cpu}"
case "$device" in
cpu)
    dtypes="${DTYPES:-f32 bf16}" models="${MODELS:-dpn68:8 dpn92:4}" warmup=2 iters="${ITERS:-8}"
    export OMP_NUM_THREADS=2
    ;;
cuda)
    dtypes="${DTYPES:-bf16}" models="${MODELS:-dpn68b:256 dpn92:256 dpn107:256}" warmup=5 iters="${ITERS:-20}"
    ;;
*) echo "bench: DEVICE must be cpu or cuda" >&2; exit 2 ;;
esac
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
raw="$outdir/$stamp-fold-$device.jsonl"
report="$outdir/$stamp-fold-$device.md"
: >"$raw"

dpn_ips() { # model batch dtype layout-flag exact-flag
    "$dpn" -q profile "$1" --device "$device" --img-size 224 --batch-size "$2" --dtype "$3" $4 $5 \
        --warmup "$warmup" --iters "$iters" --format json | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["images_per_s"])'
}
timm_ips() { # model batch dtype layout-flag [extra flags]
    "$py" bench/timm_infer.py --model "$1" --device "$device" --batch-size "$2" --dtype "$3" $4 ${5:-} \
        --warmup "$warmup" --iters "$iters" | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
compile_s() { tail -n1 "$raw" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["compile_s"]))'; }
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }

flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(amx_bf16|amx_tile|avx512_bf16|avx512f|avx2)$' | tr '\n' ' ')"
{
    echo "# Inference, folded network vs exact vs timm eager and compiled ($device), $stamp"
    echo
    echo "- machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    [ "$device" = cuda ] && echo "- GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
    echo "- CPU flags of note: ${flags:-none}(AMX: $(echo "$flags" | grep -q amx_bf16 && echo yes || echo no))"
    echo "- $("$dpn" --version | tr '\n' ' ')"
    echo "- $("$py" -c 'import torch, timm; print(f"torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads")')"
    echo "- best of $rounds rounds, each the median of $iters timed batches after $warmup warm-up batches; 224 px"
    [ -n "${BENCH_NOTE:-}" ] && echo "- note: $BENCH_NOTE"
    echo
    echo "timm cast: the model and input cast to the dtype (bf16 only). timm compile: torch.compile, default mode, f32 or a bf16 model, compiled once (compile time in brackets). Images per second."
    echo
    echo "| model | batch | dtype | timm nchw | timm nhwc | timm cast nchw | timm cast nhwc | timm compile nhwc (compile s) | exact nchw | exact nhwc | folded nchw | folded nhwc | folded / timm eager best | folded / timm compile | folded / exact best |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$report"

for cfg in $models; do
    model="${cfg%%:*}" batch="${cfg##*:}"
    for dtype in $dtypes; do
        tn=(); tc=(); mn=(0); mc=(0); en=(); ec=(); fn=(); fc=(); cp=0; cs=0
        if [ "${COMPILE:-1}" = 1 ]; then
            cast=""; [ "$dtype" = f32 ] || cast=--cast-model
            cp="$(timm_ips "$model" "$batch" "$dtype" --channels-last "--compile $cast")"; cs="$(compile_s)"
        fi
        for _ in $(seq "$rounds"); do
            tn+=("$(timm_ips "$model" "$batch" "$dtype" "")")
            tc+=("$(timm_ips "$model" "$batch" "$dtype" --channels-last)")
            if [ "$dtype" != f32 ]; then
                mn+=("$(timm_ips "$model" "$batch" "$dtype" "" --cast-model)")
                mc+=("$(timm_ips "$model" "$batch" "$dtype" --channels-last --cast-model)")
            fi
            en+=("$(dpn_ips "$model" "$batch" "$dtype" "" --exact)")
            ec+=("$(dpn_ips "$model" "$batch" "$dtype" --channels-last --exact)")
            fn+=("$(dpn_ips "$model" "$batch" "$dtype" "" --folded)")
            fc+=("$(dpn_ips "$model" "$batch" "$dtype" --channels-last --folded)")
        done
        "$py" -c '
import sys
m, b, dt, *v = sys.argv[1:]
tn, tc, mn, mc, cp, cs, en, ec, fn, fc = map(float, v)
t, e, f = max(tn, tc, mn, mc), max(en, ec), max(fn, fc)
x = lambda v: f"{v:.1f}" if v else "-"
comp = f"{cp:.1f} ({cs:.0f})" if cp else "-"
vs_comp = f"{f/cp:.2f}x" if cp else "-"
print(f"| {m} | {b} | {dt} | {tn:.1f} | {tc:.1f} | {x(mn)} | {x(mc)} | {comp} | {en:.1f} | {ec:.1f} | {fn:.1f} | {fc:.1f} | {f/t:.2f}x | {vs_comp} | {f/e:.2f}x |")
' "$model" "$batch" "$dtype" "$(best "${tn[@]}")" "$(best "${tc[@]}")" "$(best "${mn[@]}")" "$(best "${mc[@]}")" \
            "$cp" "$cs" "$(best "${en[@]}")" "$(best "${ec[@]}")" "$(best "${fn[@]}")" "$(best "${fc[@]}")" | tee -a "$report"
    done
done
echo "bench: wrote $report and $raw" >&2
