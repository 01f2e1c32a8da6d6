#!/usr/bin/env python3
"""Writes the first N Fashion-MNIST test images as 28x28 gray PNG files into DIR (for the
Spark throughput measurement, bench/spark/measure.sh). Standard library only; the data come
from the Debian package dataset-fashion-mnist, read as tools/demo/eval_fashion.py reads them.

    python3 bench/spark/write_fashion_pngs.py DIR [--count 10000] [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "demo"))
from eval_fashion import find, gray_png, read_idx  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    args = ap.parse_args()
    (n, h, w), pixels = read_idx(find(args.data, "t10k-images-idx3-ubyte"))
    args.dir.mkdir(parents=True, exist_ok=True)
    for i in range(min(args.count, n)):
        (args.dir / f"test_{i:05d}.png").write_bytes(gray_png(w, h, pixels[i * h * w:(i + 1) * h * w]))
    print(f"{min(args.count, n)} images in {args.dir}")


if __name__ == "__main__":
    main()
