#!/usr/bin/env bash
# Installs the pinned packages for bench/peers from the LOCAL index only (never the
# internet); idempotent. torch.onnx's exporter needs onnxscript, the plot needs matplotlib.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
"$PY" -m pip install --no-input \
    --index-url file:///opt/pypi/simple \
    --extra-index-url file:///opt/pypi-more/simple \
    --find-links /opt/wheels \
    -r "$HERE/requirements.txt"
# timm needs the torchvision workaround of tools/golden; check that everything imports.
cd "$HERE" && PYTHONPATH="$HERE/../../tools/golden" "$PY" -c "
from timm_compat import torch, timm
import onnxruntime, onnx, matplotlib
print('torch', torch.__version__, 'timm', timm.__version__, 'onnxruntime', onnxruntime.__version__)"
