#!/usr/bin/env python3
"""Evaluate the bundled demo model on the whole Fashion-MNIST test set THROUGH xcit4j.

Writes the 10,000 test images as 28x28 gray PNG files (as a user would have them) into a
temporary directory, runs `./xcit classify DIR --json` on them (decoding, timm's
preprocessing and the forward all in Java), and prints the accuracy and the agreement with
PyTorch's predictions committed in models/xcit_fashion_micro.torch_predictions.txt.

Needs only the Python standard library (no torch, no PIL) and the Debian package
dataset-fashion-mnist for the data:

    python3 tools/demo/eval_fashion.py [--data /usr/share/datasets/fashion-mnist] [--device auto]
"""
import argparse
import gzip
import json
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAME = "xcit_fashion_micro"


def read_idx(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:
        sys.exit(f"{path}: not an unsigned-byte idx file")
    ndim = magic & 0xff
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        if (data_dir / name).exists():
            return data_dir / name
    sys.exit(f"{data_dir}: no {stem}(.gz); install the Debian package dataset-fashion-mnist")


def gray_png(width, height, pixels):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    raw = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--weights", type=Path, default=REPO / "models" / f"{NAME}.safetensors")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", default="100")
    ap.add_argument("--limit", type=int, default=0, help="only the first N test images (0: all)")
    args = ap.parse_args()

    (n, h, w), pixels = read_idx(find(args.data, "t10k-images-idx3-ubyte"))
    _, labels = read_idx(find(args.data, "t10k-labels-idx1-ubyte"))
    torch_pred = {}
    for line in open(REPO / "models" / f"{NAME}.torch_predictions.txt"):
        if not line.startswith("#"):
            i, _, p = map(int, line.split())
            torch_pred[i] = p
    if args.limit:
        n = min(n, args.limit)

    with tempfile.TemporaryDirectory(prefix="fashion-test-") as tmp:
        for i in range(n):
            Path(tmp, f"{i:05d}.png").write_bytes(gray_png(w, h, pixels[i * h * w:(i + 1) * h * w]))
        cmd = [str(REPO / "xcit"), "classify", tmp, "--weights", str(args.weights), "--json", "--top", "1",
               "--device", args.device, "--batch", args.batch]
        print("running:", " ".join(cmd), file=sys.stderr)
        t0 = time.time()
        run = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        seconds = time.time() - t0
    results = [json.loads(line) for line in run.stdout.splitlines()]
    if run.returncode != 0 or len(results) != n:
        sys.exit(f"xcit classify failed (exit {run.returncode}, {len(results)} of {n} results)")

    correct = agree = torch_correct = 0
    disagreements = []
    for r in results:
        i = int(Path(r["file"]).stem)
        ours = r["top"][0]["index"]
        correct += ours == labels[i]
        torch_correct += torch_pred[i] == labels[i]
        if ours == torch_pred[i]:
            agree += 1
        else:
            disagreements.append(i)
    print(f"images: {n} (xcit classify took {seconds:.0f} s, {n / seconds:.0f} images/s, device {args.device})")
    print(f"accuracy xcit4j: {correct / n:.4f} ({correct}/{n})")
    print(f"accuracy PyTorch: {torch_correct / n:.4f} ({torch_correct}/{n})")
    print(f"agreement with PyTorch: {agree / n:.4%} ({agree}/{n})"
          + (f"; differing images: {disagreements[:20]}" if disagreements else ""))
    sys.exit(0 if agree / n >= 0.999 else 1)


if __name__ == "__main__":
    main()
