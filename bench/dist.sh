#!/usr/bin/env bash
# Distributed training speed on one machine: `dpn train` as 2 processes x 1 thread (torchrun,
# Gloo, DDP) against 1 process x 2 threads, and timm's loop (bench/train_timm.py) the same two
# ways under torchrun + torch DDP, in the same run.
#
#   bench/dist.sh [OUTDIR]    # digits 32 px (scripts/make_digits.py), dpn48b and dpn68
#
# The figure is the training images/s of the last of EPOCHS epochs, all processes together,
# data loading included (dpn: metrics.csv, whose images count every rank's). --batch-size is
# per process, so both layouts see the same global batch: 1 x 64 against 2 x 32. ROUNDS
# rounds alternate the four runs; each keeps its best. Writes a Markdown table naming the CPU
# and its flags, and the raw JSON lines, to OUTDIR (default bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
torchrun="${TORCHRUN:-.venv/bin/torchrun}"
rounds="${ROUNDS:-2}"
epochs="${EPOCHS:-2}"
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
data="${DATA:-$tmp/digits}"
[ -d "$data/train" ] || "$py" scripts/make_digits.py "$data" --size 32

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
raw="$outdir/$stamp-dist-cpu.jsonl"
report="$outdir/$stamp-dist-cpu.md"
: >"$raw"
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

dpn_ips() { # model procs batch_per_proc
    local out="$tmp/run-$RANDOM"
    local args=(train --data "$data/train" -m "$1" --img-size 32 --batch-size "$3" --epochs "$epochs"
        --lr 0.1 --workers 1 --device cpu --output "$out" --format json)
    if [ "$2" = 1 ]; then
        OMP_NUM_THREADS=2 "$dpn" -q "${args[@]}" >/dev/null
    else
        OMP_NUM_THREADS=1 "$torchrun" --nproc-per-node "$2" --master-port "$(port)" --no-python \
            "$dpn" -q "${args[@]}" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    fi
    local ips
    ips="$(tail -1 "$out/metrics.csv" | cut -d, -f7)"
    printf '{"impl":"dpn","model":"%s","processes":%s,"batch_per_process":%s,"images_per_s":%s}\n' \
        "$1" "$2" "$3" "$ips" >>"$raw"
    rm -rf "$out"
    echo "$ips"
}
timm_ips() { # model procs batch_per_proc
    local args=(bench/train_timm.py --data "$data/train" --model "$1" --img-size 32
        --batch-size "$3" --epochs "$epochs" --workers 1 --device cpu)
    if [ "$2" = 1 ]; then
        OMP_NUM_THREADS=2 "$py" "${args[@]}"
    else
        OMP_NUM_THREADS=1 "$torchrun" --nproc-per-node "$2" --master-port "$(port)" "${args[@]}" 2>/dev/null
    fi | tail -1 | tee -a "$raw" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
flags="$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2 | tr ' ' '\n' | grep -E '^(avx|amx|fma)' | tr '\n' ' ')"
{
    echo "Distributed training speed, CPU: $cpu, $(nproc) cores ($flags), $(date -u +%Y-%m-%dT%H:%MZ);"
    echo "best of $rounds rounds, last of $epochs epochs, global batch 64"
    echo
    echo "| model | layout | dpn img/s | timm img/s | dpn/timm |"
    echo "|---|---|---:|---:|---:|"
    for model in dpn48b dpn68; do
        d1=() d2=() t1=() t2=()
        for _ in $(seq "$rounds"); do
            d1+=("$(dpn_ips "$model" 1 64)")
            d2+=("$(dpn_ips "$model" 2 32)")
            t1+=("$(timm_ips "$model" 1 64)")
            t2+=("$(timm_ips "$model" 2 32)")
        done
        for layout in "1 process x 2 threads:d1:t1" "2 processes x 1 thread:d2:t2"; do
            IFS=: read -r name dv tv <<<"$layout"
            declare -n dref="$dv" tref="$tv"
            db="$(best "${dref[@]}")" tb="$(best "${tref[@]}")"
            printf '| %s | %s | %.1f | %.1f | %.2f |\n' "$model" "$name" "$db" "$tb" \
                "$("$py" -c "print($db/$tb)")"
        done
    done
} | tee "$report"
