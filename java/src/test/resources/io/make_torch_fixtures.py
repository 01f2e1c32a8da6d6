"""Writes the small real torch.save checkpoints that TorchCheckpointTest reads.

Run from this folder with any torch >= 1.6:  python3 make_torch_fixtures.py
The tests do not need Python; the .pth files are committed. Values are simple formulas so
the Java test can state them literally.
"""
import argparse
from collections import OrderedDict

import torch

sd = OrderedDict()
sd["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1          # -1.0 .. 1.5
sd["f16"] = torch.tensor([1.0, -2.5, 65504.0, 2.0 ** -24, float("inf")], dtype=torch.float16)
sd["bf16"] = torch.tensor([1.0, -3.0, 2.0 ** 100, 2.0 ** -7], dtype=torch.bfloat16)
sd["f64"] = torch.tensor([0.5, -2.0], dtype=torch.float64)
sd["num_batches_tracked"] = torch.tensor(7)                                        # int64, 0-dim
sd["i32"] = torch.tensor([-3, 4], dtype=torch.int32)
sd["i16"] = torch.tensor([-300], dtype=torch.int16)
sd["i8"] = torch.tensor([-5], dtype=torch.int8)
sd["u8"] = torch.tensor([200], dtype=torch.uint8)
sd["bool"] = torch.tensor([True, False])
base = torch.arange(12, dtype=torch.float32)
sd["view_a"] = base[2:6]                          # shares one storage, offset 2
sd["view_b"] = base[6:12].view(2, 3)              # same storage, offset 6
sd["param"] = torch.nn.Parameter(torch.full((2, 2), 0.25))
sd["empty"] = torch.zeros(0, 3)
sd["cls_token"] = torch.full((1, 1, 4), -0.75)
args = argparse.Namespace(lr=0.1, model="xcit_nano_12_p16", input_size=[3, 224, 224], tag=b"ab", drop=None)
torch.save({"model": sd, "args": args, "epoch": 3}, "real_torch.pth")

torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3).t()}, "noncontiguous.pth")
