#!/usr/bin/env python3
"""Train the bundled demo model: a micro XCiT (timm's Xcit class) on Fashion-MNIST.

Data: the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist),
read from its idx-ubyte.gz files. Every image goes through exactly what xcit4j does at
inference: PIL Image (mode L) -> convert('RGB') -> timm's eval transform for input 32
(torchvision Resize(32) with PIL's antialiased bicubic, CenterCrop(32), ToTensor,
Normalize with the ImageNet mean/std). So `xcit classify` needs nothing special for this
model: a 28x28 gray PNG from the test set is preprocessed like any other image.

Writes (paths relative to the repository):
  models/xcit_fashion_micro.safetensors         timm naming, F32, with metadata
                                                labels / input_size / tokens_norm / arch / ...
  models/xcit_fashion_micro.torch_predictions.txt   "index label prediction" for all 10,000
                                                test images (PyTorch, eval mode, float32)
  examples/fashion/<class>_<index>.png          test images PyTorch classifies correctly,
                                                the first two of each class (28x28 gray)
  testdata/images/fashion/test_first_500.png    the first 500 test images as a 20 x 25 grid of
                                                28x28 tiles, for a quick agreement test
  testdata/images/fashion/examples_logits.npy   PyTorch logits of examples/fashion/*.png
                                                (sorted by name), float32 (n, 10)

Seeded; on 1-2 CPU threads this takes about 10-20 minutes (see the log for measured times).

    python3 tools/demo/train_fashion.py [--epochs 4] [--threads 2]
"""
import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

# OpenMP threads that spin while waiting are disastrous on a shared 2-core machine (measured:
# 15x slower under load); passive waiting costs nothing when the cores are free.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "golden"))

import numpy as np  # noqa: E402
from timm_compat import torch, timm  # noqa: E402,F401  (before anything imports torchvision)
from timm.data import create_transform  # noqa: E402
from timm.models.xcit import Xcit  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
NAME = "xcit_fashion_micro"


def read_idx(path):
    """An idx-ubyte(.gz) file (LeCun's format): magic, dims, then uint8 data."""
    with gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xff
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (magic {magic:#x})")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if (data_dir / name).exists():
            return data_dir / name
    sys.exit(f"{data_dir}: no {stem}(.gz); install the Debian package dataset-fashion-mnist")


def preprocess(images, size):
    """The inference pipeline, image by image: PIL L -> RGB -> timm eval transform."""
    tf = create_transform(input_size=(3, size, size), interpolation="bicubic", crop_pct=1.0,
                          crop_mode="center", mean=MEAN, std=STD, is_training=False)
    out = torch.empty(len(images), 3, size, size)
    for i, a in enumerate(images):
        out[i] = tf(Image.fromarray(a, "L").convert("RGB"))
    return out


def build(args):
    return Xcit(img_size=args.size, patch_size=8, embed_dim=args.embed_dim, depth=args.depth,
                num_heads=args.heads, num_classes=len(CLASSES), tokens_norm=True, eta=1.0)


@torch.no_grad()
def predict(model, x, batch=500):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--embed-dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    t0 = time.time()
    train_x = read_idx(find(args.data, "train-images-idx3-ubyte"))
    train_y = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    test_raw = read_idx(find(args.data, "t10k-images-idx3-ubyte"))
    test_y = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    xtr, xte = preprocess(train_x, args.size), preprocess(test_raw, args.size)
    print(f"data: {len(xtr)} train, {len(xte)} test, preprocessed in {time.time() - t0:.0f} s", flush=True)

    model = build(args)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "token" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "token" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    steps = args.epochs * (len(xtr) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    t_train = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total, seen = 0.0, 0
        for b in range(len(xtr) // args.batch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x, y = xtr[idx], train_y[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5  # horizontal flips: clothes are symmetric
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        acc = (predict(model, xte).argmax(1) == test_y).float().mean().item()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / seen:.4f}, test accuracy {acc:.4f}, "
              f"{time.time() - t_train:.0f} s", flush=True)
    train_seconds = time.time() - t_train

    logits = predict(model, xte)
    pred = logits.argmax(1)
    acc = (pred == test_y).float().mean().item()
    print(f"final test accuracy {acc:.4f} ({params:,} parameters, training {train_seconds:.0f} s)")

    models = REPO / "models"
    models.mkdir(exist_ok=True)
    weights = models / f"{NAME}.safetensors"
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "labels": json.dumps(CLASSES),
        "input_size": str(args.size),
        "tokens_norm": "true",
        "arch": f"XCiT micro: timm Xcit(patch_size=8, embed_dim={args.embed_dim}, depth={args.depth}, "
                f"num_heads={args.heads}, tokens_norm=True, eta=1.0), 10 classes, {params} parameters",
        "dataset": "Fashion-MNIST (28x28 gray, bicubic-resized to 32 by timm's eval transform)",
        "test_accuracy": f"{acc:.4f}",
        "trained_by": "tools/demo/train_fashion.py " + " ".join(sys.argv[1:]),
    }
    save_file(sd, str(weights), metadata=metadata)
    weights.chmod(0o644)  # safetensors creates the file owner-only; it is committed
    check = build(args)
    check.load_state_dict(load_file(str(weights)))
    if not torch.equal(predict(check, xte), logits):
        sys.exit("reloaded weights give different logits")

    with open(models / f"{NAME}.torch_predictions.txt", "w") as f:
        f.write("# PyTorch (timm, eval, float32) on the Fashion-MNIST test set: index true_label predicted_label\n")
        for i, (y, p) in enumerate(zip(test_y.tolist(), pred.tolist())):
            f.write(f"{i} {y} {p}\n")

    examples = REPO / "examples" / "fashion"
    examples.mkdir(parents=True, exist_ok=True)
    for old in examples.glob("*.png"):
        old.unlink()
    for c, name in enumerate(CLASSES):
        hits = [i for i in range(len(test_y)) if test_y[i] == c and pred[i] == c][:2]
        for i in hits:
            Image.fromarray(test_raw[i], "L").save(examples / f"{name.replace('/', '-').replace(' ', '-')}_{i}.png")
    files = sorted(examples.glob("*.png"))
    ex = torch.stack([preprocess([np.array(Image.open(p))], args.size)[0] for p in files])
    fashion = REPO / "testdata" / "images" / "fashion"
    fashion.mkdir(parents=True, exist_ok=True)
    np.save(fashion / "examples_logits.npy", predict(model, ex).numpy().astype(np.float32))
    grid = test_raw[:500].reshape(25, 20, 28, 28).transpose(0, 2, 1, 3).reshape(25 * 28, 20 * 28)
    Image.fromarray(np.ascontiguousarray(grid), "L").save(fashion / "test_first_500.png")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB), {len(files)} examples, predictions")


if __name__ == "__main__":
    main()
