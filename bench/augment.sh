#!/usr/bin/env bash
# The whole training transform per core: dpn's (examples/data_bench.rs --train, built as
# `dpn train` builds it) against timm's create_transform(is_training=True) on Pillow
# (bench/data_pillow.py --train), one thread each, same images, same run.
#
#   bench/augment.sh [OUTDIR]                 # default bench/results
#   SIZES="224 288" ROUNDS=5 bench/augment.sh # another crop size too
#
# Per image: decode the JPEG, RandomResizedCrop (bilinear or bicubic at random), hflip,
# RandAugment rand-m9-mstd0.5-inc1, normalize with dpn92's mean/std, random erasing
# (p 0.25, pixel). One thread is one core, so img/s here is per core; the target is
# dpn/timm >= 1.5x. Inputs: bench/data_pillow.py --make's six 512x512 JPEGs. Each side
# runs ROUNDS times (alternating, SECONDS_PER_ROUND each) and keeps its best round, so
# that a slow moment on a shared machine hurts neither side alone. Writes
# OUTDIR/<date>-augment.md (with the CPU model and flags) and OUTDIR/<date>-augment.jsonl
# (every round), and prints the report.
#
# Environment: PYTHON (.venv/bin/python), ROUNDS (3), SECONDS_PER_ROUND (4), MODEL
# (dpn92), SIZES (224), AUG (the flags both sides get), CARGO_TARGET_DIR (target),
# DATA_BENCH (a built data_bench; else it is built here with cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-bench/results}"
py="${PYTHON:-.venv/bin/python}"
rounds="${ROUNDS:-3}"
seconds="${SECONDS_PER_ROUND:-4}"
model="${MODEL:-dpn92}"
read -r -a sizes <<<"${SIZES:-224}"
read -r -a aug <<<"${AUG:---aa rand-m9-mstd0.5-inc1 --reprob 0.25 --remode pixel --train-interpolation random}"

if [ -n "${DATA_BENCH:-}" ]; then
    bench="$DATA_BENCH"
else
    cargo build --release --quiet --example data_bench
    bench="${CARGO_TARGET_DIR:-target}/release/examples/data_bench"
fi
[ -x "$bench" ] || { echo "bench: $bench not found" >&2; exit 1; }
imgdir="$(mktemp -d)"
trap 'rm -rf "$imgdir"' EXIT
"$py" bench/data_pillow.py --make "$imgdir" >/dev/null
files=("$imgdir"/*.jpg)

mkdir -p "$outdir"
stamp="$(date -u +%Y-%m-%d)"
raw="$outdir/$stamp-augment.jsonl"
report="$outdir/$stamp-augment.md"
: >"$raw"
for size in "${sizes[@]}"; do
    for ((r = 0; r < rounds; r++)); do
        "$bench" --train --model "$model" --img-size "$size" --seconds "$seconds" "${aug[@]}" "${files[@]}" >>"$raw"
        "$py" bench/data_pillow.py --train --model "$model" --img-size "$size" --seconds "$seconds" \
            "${aug[@]}" "${files[@]}" >>"$raw"
    done
done

"$py" - "$raw" "$model" "$rounds" "$seconds" "${aug[*]}" >"$report" <<'PY'
import datetime, json, os, platform, subprocess, sys
import PIL, torch, torchvision, timm
raw, model, rounds, seconds, aug = sys.argv[1:6]
lines = [json.loads(l) for l in open(raw) if l.strip()]
best = {}
for d in lines:
    k = (d["impl"], d["size"])
    if k not in best or d["img_per_s"] > best[k]["img_per_s"]:
        best[k] = d
cpuinfo = open("/proc/cpuinfo").read().splitlines()
field = lambda name: next((l.split(":", 1)[1].strip() for l in cpuinfo if l.startswith(name)), "?")
flags = field("flags").split()
# The ones the decoder, resampler and libtorch dispatch on.
note = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                    "avx512_bf16", "amx_tile", "amx_bf16") if f in flags]
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
jpeg = subprocess.run(["pkg-config", "--modversion", "libjpeg"], capture_output=True, text=True).stdout.strip() or "?"
print(f"# Training transform per core, dpn vs timm ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)\n")
print("Six 512x512 JPEGs (quality 90, 4:2:0) from scikit-image photographs; per image: decode,")
print(f"then {model}'s training transform from `{aug}`: RandomResizedCrop (scale 0.08-1,")
print("bilinear or bicubic at random), hflip 0.5, RandAugment, normalize, random erasing. dpn: the")
print("transform `dpn train` builds from those flags, into a reused buffer; timm:")
print("`create_transform(is_training=True, ...)` on Pillow to a tensor. One thread each (img/s")
print(f"is per core); best of {rounds} alternating rounds of {seconds} s each.\n")
print(f"- CPU: {field('model name')}, {platform.machine()}, {os.cpu_count()} cores; Linux {platform.release()}")
print(f"- CPU flags of note: {' '.join(note) or 'none'}")
print(f"- all CPU flags: {' '.join(flags)}")
print(f"- {rustc}; dpn decodes JPEG with the system's libjpeg-turbo {jpeg}, Pillow with its own")
print(f"- Pillow {PIL.__version__}, torch {torch.__version__} (1 thread), torchvision {torchvision.__version__}, timm {timm.__version__}")
print(f"- load average at the end: {os.getloadavg()[0]:.2f}\n")
print("| size | implementation | img/s per core | decode ms | transform ms |")
print("|---|---|---|---|---|")
sizes = sorted({s for _, s in best})
for s in sizes:
    for impl in ("dpn", "timm"):
        r = best.get((impl, s))
        if r:
            print(f"| {s} | {impl} | {r['img_per_s']:.1f} | {r['decode_ms']:.3f} | {r['transform_ms']:.3f} |")
print()
for s in sizes:
    d, t = best.get(("dpn", s)), best.get(("timm", s))
    if d and t:
        print(f"- {s} px: dpn / timm **{d['img_per_s'] / t['img_per_s']:.2f}x** per core (target 1.5x)")
PY
cat "$report"
