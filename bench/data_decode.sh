#!/usr/bin/env bash
# Decode + eval transform throughput on one thread: dpn::data against
# Pillow + torchvision (timm's eval transform), in the same run.
#
#   bench/data_decode.sh [OUTDIR]     # default bench/results
#
# Inputs: six 512x512 JPEGs (quality 90, 4:2:0) made from scikit-image's
# photographs by bench/data_pillow.py --make. Each side runs ROUNDS times
# (alternating, SECONDS each) and keeps its best round, so that a slow moment
# on a shared machine hurts neither side alone. Writes a Markdown report to
# OUTDIR/<date>-data-decode.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-3}"
seconds="${SECONDS_PER_ROUND:-4}"
model="${MODEL:-dpn92}"

cargo build --release --quiet --example data_bench
bench=target/release/examples/data_bench
imgdir="$(mktemp -d)"
trap 'rm -rf "$imgdir"' EXIT
"$py" bench/data_pillow.py --make "$imgdir" >/dev/null
files=("$imgdir"/*.jpg)

best() { # field jsonl-lines... -> the line with the largest img_per_s
    "$py" -c 'import json,sys; ls=[json.loads(l) for l in sys.stdin if l.strip()]; print(json.dumps(max(ls, key=lambda d: d["img_per_s"])))'
}
dpn_lines="" pil_lines=""
for ((r = 0; r < rounds; r++)); do
    dpn_lines+="$("$bench" --model "$model" --seconds "$seconds" "${files[@]}")"$'\n'
    pil_lines+="$("$py" bench/data_pillow.py --model "$model" --seconds "$seconds" "${files[@]}")"$'\n'
done
dpn_best="$(printf '%s' "$dpn_lines" | best)"
pil_best="$(printf '%s' "$pil_lines" | best)"

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
report="$outdir/$stamp-data-decode.md"
"$py" - "$dpn_best" "$pil_best" "$model" "$rounds" "$seconds" >"$report" <<'PY'
import json, platform, subprocess, sys, datetime
import PIL, torch, torchvision, timm
d, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
model, rounds, seconds = sys.argv[3], sys.argv[4], sys.argv[5]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
print(f"# Decode + eval transform, one thread ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)\n")
print(f"Six 512x512 JPEGs (quality 90, 4:2:0) from scikit-image photographs; {model}'s eval")
print(f"transform (resize shorter side to 256 bicubic, center crop 224, normalize) to a")
print(f"[3, 224, 224] f32 tensor. Best of {rounds} alternating rounds of {seconds} s each.\n")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
simd = " ".join(f for f in ("sse2", "avx", "avx2", "avx512f") if f in flags) or "?"
jpeg = subprocess.run(["pkg-config", "--modversion", "libjpeg"], capture_output=True, text=True).stdout.strip() or "?"
print(f"Machine: {cpu}, {platform.machine()} ({simd}), Linux {platform.release()}; {rustc};")
print(f"dpn decodes JPEG with the system's libjpeg-turbo {jpeg}, Pillow with its own.")
import os
print(f"Load average at the end (shared machine): {os.getloadavg()[0]:.2f}.")
print(f"Pillow {PIL.__version__}, torch {torch.__version__} (1 thread), torchvision {torchvision.__version__}, timm {timm.__version__}.\n")
print("| implementation | img/s | decode ms | transform ms |")
print("|---|---|---|---|")
for r in (d, p):
    print(f"| {r['impl']} | {r['img_per_s']:.1f} | {r['decode_ms']:.3f} | {r['transform_ms']:.3f} |")
print(f"\nRatio dpn / Pillow+torchvision: **{d['img_per_s'] / p['img_per_s']:.2f}x** per thread.")
PY
cat "$report"
