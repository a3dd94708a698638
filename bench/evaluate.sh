#!/usr/bin/env bash
# End-to-end evaluation speed on the CPU: `dpn evaluate` against timm's
# validate.py-style loop (torchvision ImageFolder + DataLoader + model), same
# model, same images, same machine, same run. Both count the whole pass,
# decoding included.
#
#   bench/evaluate.sh [OUTDIR]    # N=64 images, dpn68, batch 16; writes OUTDIR/<date>-evaluate-cpu.md
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
dpn="${DPN:-target/release/dpn}"
py="${PYTHON:-.venv/bin/python}"
n="${N:-64}" batch="${BATCH:-16}" rounds="${ROUNDS:-2}"
# DataLoader worker processes for timm: 0 loads in the main process, as
# dpn's decode pool shares the same two cores with the model.
workers="${WORKERS:-2}"
[ -x "$dpn" ] || { echo "bench: $dpn not found; run 'make build' first" >&2; exit 1; }

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$py" bench/timm_validate.py make "$work" "$n"
"$dpn" -q convert "$work/weights.pth" "$work/weights.safetensors"

best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }
d=(); t=()
for _ in $(seq "$rounds"); do
    d+=("$("$dpn" -q evaluate --data "$work/folder" --weights "$work/weights.safetensors" -m dpn68 \
        --device cpu --batch-size "$batch" --format json | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["images_per_s"])')")
    t+=("$("$py" bench/timm_validate.py run "$work" dpn68 "$batch" "$workers" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
done
db="$(best "${d[@]}")"; tb="$(best "${t[@]}")"
mkdir -p "$outdir"
report="$outdir/$(date -u +%Y-%m-%d)-evaluate-cpu.md"
{
    echo "# End-to-end evaluate, dpn vs timm (CPU), $(date -u +%Y-%m-%d)"
    echo
    echo "- machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- $("$dpn" --version | tr '\n' ' ')"
    echo "- $("$py" -c 'import torch, timm, PIL; print(f"torch {torch.__version__}, timm {timm.__version__}, Pillow {PIL.__version__}")')"
    echo "- dpn68, $n JPEG images (512x512), batch $batch, best of $rounds rounds; timm DataLoader workers: $workers"
    echo
    echo "| | images/s |"
    echo "|---|---:|"
    echo "| dpn evaluate | $db |"
    echo "| timm validate loop | $tb |"
    echo "| ratio dpn / timm | $("$py" -c "print(f'{$db/$tb:.2f}x')") |"
} | tee "$report"
