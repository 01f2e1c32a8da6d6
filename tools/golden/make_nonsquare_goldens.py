#!/usr/bin/env python3
"""Goldens for timm's eval transform to NON-square inputs (testdata/images/nonsquare/).

For a (height, width) target with height != width, timm 1.0's transforms_imagenet_eval
takes another branch than for square ones: ResizeKeepRatio((height, width)) then
CenterCrop((height, width)), and it builds ResizeKeepRatio without the configured
interpolation, so the resize is bilinear even when the model says bicubic (timm 1.0.29:
transforms_factory.py). These goldens record what timm itself makes, from committed PNGs of
testdata/images (made by make_image_goldens.py), for Preprocessing.timm(height, width).

    python3 tools/golden/make_nonsquare_goldens.py      # writes testdata/images/nonsquare/
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timm_compat import torch, timm  # noqa: E402,F401  (must precede torchvision users)
from timm.data import create_transform  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "testdata" / "images"
OUT = IMAGES / "nonsquare"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

# (source PNG, target height, target width, what it exercises)
CASES = [
    ("rgb.png", 40, 56, "97x64 landscape to a landscape target: width ratio smaller, crop rows"),
    ("rgb.png", 56, 40, "landscape to a portrait target: height ratio smaller, crop columns"),
    ("rgb_portrait.png", 64, 32, "45x131 portrait, downscale, crop rows"),
    ("rgb_big_down.png", 24, 72, "203x150 to a wide strip: downscale by 2.8, wide bilinear support"),
    ("small_up.png", 48, 30, "20x13 upsampled"),
    ("no_resize_crop.png", 45, 40, "40x45: the target's own size, no resize, no crop"),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = []
    for name, h, w, note in CASES:
        rgb = Image.open(IMAGES / name).convert("RGB")
        t = create_transform(input_size=(3, h, w), interpolation="bicubic", crop_pct=1.0, crop_mode="center",
                             mean=MEAN, std=STD, is_training=False)
        x = t(rgb).unsqueeze(0).numpy().astype(np.float32)
        assert x.shape == (1, 3, h, w), (name, x.shape)
        npy = f"{name.replace('.', '_')}_{h}x{w}.npy"
        np.save(OUT / npy, x)
        manifest.append(dict(file=name, height=h, width=w, npy=npy, note=note))
        print(f"{name:20s} {rgb.width}x{rgb.height} -> {h}x{w}: {note}")
    (OUT / "manifest.json").write_text(json.dumps(dict(
        pillow=Image.__version__, torch=torch.__version__, timm=timm.__version__, transform=repr(t).split("\n")[1].strip(),
        mean=MEAN, std=STD, images=manifest), indent=1) + "\n")


if __name__ == "__main__":
    main()
