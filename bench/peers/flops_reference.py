"""Counts timm's forward FLOPs with torch's FlopCounterMode (2 x multiply-adds of convs and
matmuls, as fvcore), once, for the expectations in java/.../model/FlopsTest.java.

Usage: python3 bench/peers/flops_reference.py
"""
import os
import sys

# Class attention's fused scaled_dot_product_attention is invisible to the counter (and to
# fvcore): timm's unfused path shows its two matmuls, which are real work.
os.environ["TIMM_FUSED_ATTN"] = "0"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "golden"))
from timm_compat import torch, timm  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

CASES = [("xcit_nano_12_p16_224", 224, 224), ("xcit_small_12_p16_224", 224, 224),
         ("xcit_tiny_12_p8_224", 200, 152), ("xcit_nano_12_p16_224", 100, 75)]

for name, h, w in CASES:
    model = timm.create_model(name, pretrained=False).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, h, w))
    by_op = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
    print(f'"{name}, {h}, {w}, {counter.get_total_flops()}",  # {by_op}')
