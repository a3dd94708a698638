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
