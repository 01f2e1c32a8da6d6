"""Import timm next to a CPU torch whose torchvision C extension does not load.

The only torchvision wheels on the local index are CUDA builds; their C extension
fails to load next to torch+cpu, and `import torchvision` (pulled in by timm) then
dies in torchvision/_meta_registrations.py while registering fake kernels for the
operators torchvision::nms and torchvision::qnms, which do not exist. Declaring those
two schemas (the ones torchvision's C++ defines) before the import is enough: no
torchvision operator is ever called by the golden tools.

Usage:  from timm_compat import torch, timm
"""
import os

import torch

_THREADS = int(os.environ.get("GOLDEN_TORCH_THREADS", "2"))  # the machines have 2 cores
torch.set_num_threads(_THREADS)
# NNPACK cannot initialise on these CPUs and warns on every conv; it is never used anyway.
torch.backends.nnpack.set_flags(False)

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}


def _has_op(name):
    try:
        getattr(torch.ops.torchvision, name).default
        return True
    except (AttributeError, RuntimeError):
        return False


_missing = [n for n in _SCHEMAS if not _has_op(n)]
# Keep a module-level reference: the definitions vanish when the Library is collected.
_TORCHVISION_LIB = None
if _missing:
    _TORCHVISION_LIB = torch.library.Library("torchvision", "DEF")
    for _n in _missing:
        _TORCHVISION_LIB.define(_SCHEMAS[_n])

import timm  # noqa: E402
import timm.models.xcit  # noqa: E402,F401

__all__ = ["torch", "timm"]
