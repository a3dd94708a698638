#!/usr/bin/env bash
# A short tour of dpn on what the binary embeds: the model registry.
set -euo pipefail
dpn="${1:-target/release/dpn}"
step() { printf '\n$ %s\n' "$*" >&2; "$@"; }

step "$dpn" --version
step "$dpn" info --all
step "$dpn" info dpn68b
step "$dpn" info --all --format csv
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/custom.yaml" <<'YAML'
Models:
- Name: dpn26-tiny
  Metadata:
    Crop Pct: '0.875'
    Image Size: '160'
    Interpolation: bicubic
  DPN:
    Architecture:
      Small: true
      Init Features: 10
      K R: 64
      Groups: 16
      B: true
      K Sec: [1, 2, 2, 1]
      Inc Sec: [8, 16, 16, 32]
      Activation: silu
      Num Classes: 10
    Normalization: imagenet
YAML
step "$dpn" --model-index "$tmp/custom.yaml" info dpn26-tiny --format yaml
printf '\nA custom variant is one YAML entry away (see README, "Model index").\n' >&2

# The main job, on real data with no network: scikit-learn's handwritten digits (shipped
# inside the package) as an ImageFolder, a DPN trained on them from scratch on the CPU.
py="${PYTHON:-.venv/bin/python}"
step "$py" scripts/make_digits.py "$tmp/digits"
step "$dpn" train --data "$tmp/digits/train" --val-data "$tmp/digits/val" -m dpn48b \
    --img-size 32 --crop-pct 1 --epochs 6 --batch-size 64 --lr 0.05 --warmup-epochs 1 \
    --scale 0.6 1 --hflip 0 --color-jitter 0 --seed 0 --output "$tmp/run"
step ls -l "$tmp/run" "$tmp/run/best/"
# The checkpoint records its classes and the preprocessing its validation used (32 px,
# crop 1), so the commands below need no preprocessing flags.
weights="$tmp/run/best/model.safetensors"
step "$dpn" profile dpn48b --weights "$weights" --batch-size 64 --device cpu --iters 5
# Accuracy on the held-out split, beside nothing published (a custom training run),
# then the classes of a few held-out images, with the names the checkpoint carries.
step "$dpn" evaluate --weights "$weights" --data "$tmp/digits/val" --device cpu \
    --results-file "$tmp/run/eval.json"
step "$dpn" predict --weights "$weights" --device cpu -k 3 \
    $(find "$tmp/digits/val" -name '*.png' | sort | head -n 4)
printf '\nDone: trained, evaluated, predicted and profiled on real data, no network used.\n' >&2
