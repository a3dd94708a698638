#!/usr/bin/env bash
# One-command set-up for building and testing dpn on a fresh machine.
#
# Creates .venv (project-local), installs the pinned torch wheel that provides
# libtorch plus the test-only reference packages, and writes .cargo/config.toml
# so that plain `cargo build` / `cargo test` find libtorch. Idempotent: when the
# requirements have not changed since the last run it only checks and exits.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/tests/requirements.txt"
stamp="$venv/.dpn-requirements.sha256"
quiet="${DPN_SETUP_QUIET:-}"

say() { [ -n "$quiet" ] || echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 ||
    die "'$python' was not found; install Python 3.9 or newer (e.g. apt-get install python3 python3-venv) or set PYTHON"
"$python" -m pip --version >/dev/null 2>&1 ||
    die "pip is not available for '$python'; install it (e.g. apt-get install python3-pip)"

# build.rs compiles csrc/jpeg.c against libjpeg-turbo (dpn decodes JPEG as Pillow does).
if ! pkg-config --exists libjpeg 2>/dev/null && [ ! -f /usr/include/jpeglib.h ]; then
    die "libjpeg-turbo's development files (jpeglib.h) were not found; install them (e.g. apt-get install libjpeg62-turbo-dev on Debian, libjpeg-turbo8-dev on Ubuntu)"
fi

# The HTML report tests (tests/report_*.rs) open the pages in headless Chromium:
# Debian's chromium package, installed here when missing (as root, or via sudo).
if [ -z "${DPN_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=()
        [ "$(id -u)" = 0 ] || sudo=(sudo)
        say "installing Debian's chromium for the report tests"
        { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium; } >&2 ||
            die "installing chromium failed; install it (apt-get install chromium) or set DPN_CHROMIUM to a Chromium binary"
    else
        die "/usr/bin/chromium was not found and apt-get is not available; install Chromium or set DPN_CHROMIUM"
    fi
fi

if [ ! -x "$venv/bin/python" ]; then
    say "creating virtualenv $venv"
    "$python" -m venv "$venv" >/dev/null 2>&1 ||
        die "could not create a virtualenv with '$python -m venv'; install the venv module (e.g. apt-get install python3-venv)"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing torch and the reference packages into $venv (first time: a few minutes)"
    pip_quiet=(-q)
    [ -z "${CI:-}" ] || pip_quiet=()
    "$venv/bin/python" -m pip install "${pip_quiet[@]}" --disable-pip-version-check --upgrade pip >&2 ||
        die "upgrading pip in $venv failed (see above)"
    "$venv/bin/python" -m pip install "${pip_quiet[@]}" --disable-pip-version-check -r "$req" >&2 ||
        die "installing $req failed (see above); check network access to the package registry"
    echo "$want" >"$stamp"
fi

torch_dir="$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')" ||
    die "torch does not import in $venv; delete $venv and run this script again"
[ -d "$torch_dir/lib" ] && [ -d "$torch_dir/include" ] ||
    die "$torch_dir has no lib/ or include/; the torch wheel looks incomplete: delete $venv and run again"

mkdir -p "$root/.cargo"
config="# Written by scripts/setup.sh; do not edit, run the script again instead.
[env]
LIBTORCH = \"$torch_dir\"
DPN_TEST_PYTHON = \"$venv/bin/python\"
"
if [ ! -f "$root/.cargo/config.toml" ] || [ "$(cat "$root/.cargo/config.toml")" != "${config%$'\n'}" ]; then
    printf '%s' "$config" >"$root/.cargo/config.toml"
    say "wrote .cargo/config.toml (LIBTORCH=$torch_dir)"
fi
say "ready: libtorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)') from $torch_dir"
