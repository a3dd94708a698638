#!/usr/bin/env bash
# `dpn profile --exact` against `dpn profile --folded`, interleaved run by run, to decide where
# the folded network is the default (`fold::faster_on`, docs/conventions.md "Folding").
#
#   bench/fold_ab.sh [OUTDIR]
#
# DTYPE (default bf16), MODELS (default "dpn68:8 dpn92:4 dpn131:2", model:batch), RUNS (default
# 5). NHWC, 224 px, 2 threads, CPU. Each run is one `dpn profile` process (2 warm-up and 8
# timed batches, its median); exact and folded alternate, so that a slow moment of a shared
# machine falls on both; the figure per side is the median over RUNS.
# Writes OUTDIR/DATE-fold-ab-DTYPE-cpu.md (default bench/results) with the CPU model and flags.
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
dtype="${DTYPE:-bf16}" models="${MODELS:-dpn68:8 dpn92:4 dpn131:2}" runs="${RUNS:-5}"
export OMP_NUM_THREADS=2
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }
mkdir -p "$outdir"
report="$outdir/$(date -u +%Y-%m-%d)-fold-ab-$dtype-cpu.md"
flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(amx_bf16|amx_tile|avx512_bf16|avx512f|avx2)$' | tr '\n' ' ')"
ips() { # model batch network-flag
    "$dpn" -q profile "$1" --device cpu --img-size 224 --batch-size "$2" --dtype "$dtype" \
        --channels-last "$3" --warmup 2 --iters 8 --format json |
        "$py" -c 'import json,sys; print(round(json.load(sys.stdin)[0]["images_per_s"], 2))'
}
{
    echo "# Folded against exact network, $dtype, interleaved ($(date -u +%Y-%m-%d))"
    echo
    echo "- machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- CPU flags of note: ${flags:-none}(AMX: $(echo "$flags" | grep -q amx_bf16 && echo yes || echo no))"
    echo "- $("$dpn" --version | head -1)"
    echo "- bench/fold_ab.sh: $runs runs per side, alternating; each run one \`dpn profile --channels-last\` (median of 8 batches); 224 px, 2 threads"
    echo
    echo "| model | batch | exact runs (img/s) | folded runs (img/s) | exact median | folded median | folded / exact |"
    echo "|---|---:|---|---|---:|---:|---:|"
} | tee "$report"
for cfg in $models; do
    model="${cfg%%:*}" batch="${cfg##*:}" ex=() fo=()
    for _ in $(seq "$runs"); do
        ex+=("$(ips "$model" "$batch" --exact)")
        fo+=("$(ips "$model" "$batch" --folded)")
    done
    "$py" -c '
import statistics, sys
m, b, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
v = list(map(float, sys.argv[4:]))
e, f = v[:n], v[n:]
me, mf = statistics.median(e), statistics.median(f)
es, fs = " ".join(map(str, e)), " ".join(map(str, f))
print(f"| {m} | {b} | {es} | {fs} | {me:.1f} | {mf:.1f} | {mf / me:.2f}x |")
' "$model" "$batch" "$runs" "${ex[@]}" "${fo[@]}" | tee -a "$report"
done
echo "bench: wrote $report" >&2
