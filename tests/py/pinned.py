"""Refuse to compute a reference with other versions than the pinned ones.

The parity tests assert equality with timm, Pillow and torch as pinned in
tests/requirements.txt; a reference computed by another version (a stale
.venv, a DPN_TEST_PYTHON pointing elsewhere) would make a passing test mean
nothing. Every reference script calls check() before it imports them.
"""

import os
import sys
from importlib import metadata

REQUIREMENTS = os.environ.get(
    "DPN_TEST_REQUIREMENTS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "requirements.txt"),
)


def pinned():
    """{distribution name (lower case): version} from tests/requirements.txt."""
    out = {}
    with open(REQUIREMENTS, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                out[name.strip().lower()] = version.strip()
    return out


def check(names=("torch", "timm", "pillow", "numpy", "torchvision", "safetensors")):
    """Exit with one line naming every mismatch among `names`."""
    want = pinned()
    wrong = []
    for name in names:
        if name not in want:
            continue
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} is not installed (want {want[name]})")
            continue
        # Local build tags (torch's "+cu130") do not change the computation.
        if have.split("+", 1)[0] != want[name]:
            wrong.append(f"{name} {have} (want {want[name]})")
    if wrong:
        sys.exit(
            f"{os.path.basename(sys.argv[0])}: reference packages differ from tests/requirements.txt: "
            + "; ".join(wrong)
            + f" (python: {sys.executable}; run scripts/setup.sh)"
        )
