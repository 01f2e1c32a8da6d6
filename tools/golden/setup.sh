#!/usr/bin/env bash
# Install the pinned Python packages for tools/golden from the LOCAL index only
# (never the internet). Idempotent: does nothing when the pins are already installed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
REQ="$HERE/requirements.txt"

if "$PY" - "$REQ" <<'PYEOF' 2>/dev/null; then
import sys
from importlib.metadata import version
want = {}
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if line:
        name, ver = line.split("==")
        want[name] = ver
bad = [n for n, v in want.items() if version(n) != v]
sys.exit(1 if bad else 0)
PYEOF
    echo "tools/golden: pinned packages already installed"
else
    "$PY" -m pip install --no-input \
        --index-url file:///opt/pypi/simple \
        --extra-index-url file:///opt/pypi-more/simple \
        --find-links /opt/wheels \
        -r "$REQ"
fi
# The torchvision workaround lives in timm_compat.py; check that timm imports with it.
cd "$HERE" && "$PY" -c "from timm_compat import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
