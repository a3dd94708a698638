#!/usr/bin/env bash
# The size and render time of a 1000-class, 50,000-image `dpn evaluate --report`
# page (synthetic counts, made by tests/report_evaluate.rs's
# a_thousand_class_report_is_bounded), in headless Chromium with the network off.
#
# Render time: the wall time of `chromium --headless --dump-dom` (parse, style,
# layout, SVG) and of `--screenshot` (layout and paint of a 1400x2200 window)
# on the page, minus the same on a one-line page (Chromium's start and exit),
# median of RUNS runs each.
#
#   bench/report_render.sh [RUNS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
export LIBTORCH_USE_PYTORCH=1
out=$(cargo test --offline --features test-hooks --test report_evaluate a_thousand_class_report_is_bounded -- --nocapture 2>&1)
page=$(printf '%s\n' "$out" | sed -n 's/^1000-class page: .*: //p' | tail -1)
[ -f "$page" ] || { printf '%s\n' "$out" >&2; echo "no page made" >&2; exit 1; }
chromium=${DPN_CHROMIUM:-/usr/bin/chromium}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo '<!DOCTYPE html><html><body><p>blank</p></body></html>' >"$tmp/blank.html"
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --disable-extensions --disable-dev-shm-usage
  "--host-resolver-rules=MAP * ~NOTFOUND" --proxy-server=127.0.0.1:9
  --window-size=1400,2200 --hide-scrollbars)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_one() { # mode file -> seconds
  local s e
  s=$(date +%s.%N)
  if [ "$1" = dom ]; then
    "$chromium" "${flags[@]}" --user-data-dir="$tmp/p$RANDOM" --dump-dom "file://$2" >/dev/null 2>&1
  else
    "$chromium" "${flags[@]}" --user-data-dir="$tmp/p$RANDOM" --screenshot="$tmp/s.png" "file://$2" >/dev/null 2>&1
  fi
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
echo "page: $page ($(stat -c %s "$page") bytes)"
printf '%s\n' "$out" | grep '^1000-class results file:' || true
for mode in dom screenshot; do
  p=$(for _ in $(seq "$runs"); do time_one "$mode" "$page"; done | median)
  b=$(for _ in $(seq "$runs"); do time_one "$mode" "$tmp/blank.html"; done | median)
  printf '%s: page %.2f s, blank page %.2f s, difference %.2f s (median of %s)\n' \
    "$mode" "$p" "$b" "$(echo "$p - $b" | bc)" "$runs"
done
lscpu | grep 'Model name'
nproc
