#!/usr/bin/env bash
# Training speed, `dpn train` against timm's equivalent loop (bench/train_timm.py), on the
# same ImageFolder in the same run.
#
#   bench/train_speed.sh cpu [OUTDIR]   # digits 32 px (scripts/make_digits.py): dpn48b and dpn68, batch 64
#   bench/train_speed.sh cuda [OUTDIR]  # digits upsampled to 224 px: dpn68b and dpn92, batch 128,
#                                 # bf16 channels-last (prepared; not yet run on a GPU)
#   RECIPE=ra bench/train_speed.sh cpu  # the same with timm's RandAugment recipe on both sides:
#                                 # --aa rand-m9-mstd0.5-inc1 --reprob 0.25 --remode pixel
#                                 # --train-interpolation random (target: dpn/timm >= 1.15x)
#   OPT=rmsproptf EMA=1 bench/train_speed.sh cpu   # another optimizer (timm's name) and
#                                 # timm's ModelEmaV3 on both sides (issue 27's targets: an
#                                 # update with EMA and rmsproptf/adamw at most 5% slower than
#                                 # OPT=momentum, and dpn/timm >= 1.15x); LR 0.1 for momentum/sgd,
#                                 # else 1e-3 (LR=... overrides)
#
# Both sides: RandomResizedCrop + flip + colour jitter 0.4 (RECIPE=ra: RandAugment and random
# erasing instead of the jitter, as timm drops it under --aa) + normalize, SGD momentum with
# weight decay, label smoothing 0.1, cosine LR per update, drop_last, no validation. The
# figure is the training images/s of the last of EPOCHS epochs, data loading included (dpn:
# metrics.csv). ROUNDS rounds alternate dpn and timm; each side keeps its best, and the last column
# is the median of each round's dpn/timm (with every round's). Prints a
# Markdown table (CPU model and flags in its header) and writes it with the raw JSON lines
# to OUTDIR (default bench/results): <date>-<HHMM>-train-<kind>.md, or <date>-<HHMM>-train-<kind>-ra.md.
#
# Environment: DPN (the binary; default $CARGO_TARGET_DIR/release/dpn, CARGO_TARGET_DIR
# defaulting to target), PYTHON, ROUNDS (2), EPOCHS (2), WORKERS (2), DATA (an ImageFolder
# root with train/; else digits are made), RECIPE (plain or ra), CONFIG ("model size batch":
# that row only), OPT (momentum), EMA (0 or 1), LR.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-cpu}"
outdir="${2:-bench/results}"
dpn="${DPN:-${CARGO_TARGET_DIR:-target}/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-2}"
epochs="${EPOCHS:-2}"
workers="${WORKERS:-2}"
recipe="${RECIPE:-plain}"
opt="${OPT:-momentum}"
ema="${EMA:-0}"
case "$opt" in momentum | sgd) lr="${LR:-0.1}" ;; *) lr="${LR:-0.001}" ;; esac
optflags=(--opt "$opt")
[ "$ema" = 1 ] && optflags+=(--model-ema)
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }

case "$recipe" in
plain) aug=() suffix="" ;;
# Both programs spell these flags alike (dpn train follows timm's train.py).
ra) aug=(--aa rand-m9-mstd0.5-inc1 --reprob 0.25 --remode pixel --train-interpolation random)
    suffix="-ra" ;;
*) echo "bench: RECIPE=$recipe: plain or ra" >&2; exit 2 ;;
esac
[ "$opt" = momentum ] || suffix="$suffix-$opt"
[ "$ema" = 1 ] && suffix="$suffix-ema"

case "$kind" in
cpu)
    configs=("dpn48b 32 64" "dpn68 32 64")
    size=32 device=cpu extra=()
    ;;
cuda)
    configs=("dpn68b 224 128" "dpn92 224 128")
    size=224 device=cuda extra=(--amp bf16 --channels-last)
    ;;
*) echo "usage: bench/train_speed.sh cpu|cuda [OUTDIR]" >&2; exit 2 ;;
esac
# One "model size batch" triple, for a quick look at one row.
[ -z "${CONFIG:-}" ] || configs=("$CONFIG")

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
data="${DATA:-$tmp/digits}"
[ -d "$data/train" ] || "$py" scripts/make_digits.py "$data" --size "$size"

mkdir -p "$outdir"
# To the minute, so that a second run on the same day keeps the first's files.
stamp="$(date -u +%Y-%m-%d-%H%M)"
raw="$outdir/$stamp-train-$kind$suffix.jsonl"
report="$outdir/$stamp-train-$kind$suffix.md"
: >"$raw"

dpn_ips() { # model size batch
    local out="$tmp/run-$RANDOM"
    "$dpn" -q train --data "$data/train" -m "$1" --img-size "$2" --batch-size "$3" \
        --epochs "$epochs" --lr "$lr" --workers "$workers" --device "$device" "${extra[@]}" \
        "${aug[@]}" "${optflags[@]}" --output "$out" --format json >/dev/null
    local ips
    ips="$(tail -1 "$out/metrics.csv" | cut -d, -f7)"
    printf '{"impl":"dpn","model":"%s","img_size":%s,"batch_size":%s,"device":"%s","recipe":"%s","opt":"%s","model_ema":%s,"images_per_s":%s}\n' \
        "$1" "$2" "$3" "$device" "$recipe" "$opt" "$([ "$ema" = 1 ] && echo true || echo false)" "$ips" >>"$raw"
    rm -rf "$out"
    echo "$ips"
}
timm_ips() {
    "$py" bench/train_timm.py --data "$data/train" --model "$1" --img-size "$2" --batch-size "$3" \
        --epochs "$epochs" --workers "$workers" --device "$device" "${extra[@]}" "${aug[@]}" \
        "${optflags[@]}" --lr "$lr" | tee -a "$raw" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }
cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
flags="$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2 | tr ' ' '\n' |
    grep -E '^(sse4_2|avx|avx2|fma|avx512f|avx512bw|avx512_vnni|avx512_bf16|amx_tile|amx_bf16)$' | tr '\n' ' ')"

{
    echo "Training speed, $kind, recipe $recipe, $(date -u +%Y-%m-%dT%H:%MZ); best of $rounds rounds, last of $epochs epochs"
    echo
    echo "- CPU: ${cpu:-?}, $(nproc) cores; flags of note: ${flags:-none}"
    [ "$recipe" = plain ] || echo "- augmentation, both sides: ${aug[*]}"
    echo "- optimizer, both sides: ${optflags[*]} --lr $lr"
    echo
    echo "| model | size | batch | dpn img/s | timm img/s | dpn/timm | per round (median) |"
    echo "|---|---|---|---|---|---|---|"
    for c in "${configs[@]}"; do
        read -r model size_ batch <<<"$c"
        d=() t=()
        for _ in $(seq "$rounds"); do
            d+=("$(dpn_ips "$model" "$size_" "$batch")")
            t+=("$(timm_ips "$model" "$size_" "$batch")")
        done
        db="$(best "${d[@]}")" tb="$(best "${t[@]}")"
        ratio="$("$py" -c "print(f'{$db/$tb:.2f}')")"
        # Each round's dpn/timm, its two runs back to back: the machine's
        # drift over the rounds cancels out of these, not out of the bests.
        paired="$("$py" -c 'import sys, statistics as s; h = len(sys.argv[1:]) // 2; d, t = sys.argv[1:h + 1], sys.argv[h + 1:]; r = [float(a) / float(b) for a, b in zip(d, t)]; print(f"{s.median(r):.2f} (" + ", ".join(f"{x:.2f}" for x in r) + ")")' "${d[@]}" "${t[@]}")"
        printf '| %s | %s | %s | %.1f | %.1f | %s | %s |\n' "$model" "$size_" "$batch" "$db" "$tb" "$ratio" "$paired"
    done
} | tee "$report"
