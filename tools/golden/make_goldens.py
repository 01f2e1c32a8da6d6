#!/usr/bin/env python3
"""Generate the committed golden data for xcit4j from timm (random, seeded weights).

Each case goes to <out>/<case>/ with config.json, model.safetensors (timm naming),
optionally model.pth (original facebookresearch naming), input.npy, logits.npy,
features.npy and tokens.npy. Regenerate everything with:

    tools/golden/setup.sh && python3 tools/golden/make_goldens.py

The output is reproducible: fixed seeds, and every file is checked after writing by
reloading it into a fresh timm model and requiring bit-identical outputs.
"""
import argparse
import copy
import json
import os
import shutil
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import torch, timm  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIZE_LIMIT = 20 * 1024 * 1024  # all committed goldens together

# name: (arch or None, custom hparams or None, input shape, safetensors dtype, pth wrapping or None)
CASES = OrderedDict([
    ("tiny_p16", dict(arch=None, patch_size=16, embed_dim=48, depth=3, num_heads=4, num_classes=10,
                      tokens_norm=True, input_shape=[2, 3, 64, 64], st="F32", pth="model")),
    ("tiny_p16_nontn_nonsquare", dict(arch=None, patch_size=16, embed_dim=64, depth=2, num_heads=4,
                                      num_classes=7, tokens_norm=False, input_shape=[1, 3, 80, 48],
                                      st="F32", pth="bare")),
    ("tiny_p8", dict(arch=None, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5,
                     tokens_norm=True, input_shape=[2, 3, 40, 56], st="F32", pth="state_dict")),
    ("tiny_p8_odd", dict(arch=None, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=6,
                         tokens_norm=False, input_shape=[1, 3, 37, 51], st="BF16", pth="model")),
    ("tiny_p16_f16", dict(arch=None, patch_size=16, embed_dim=48, depth=2, num_heads=3, num_classes=4,
                          tokens_norm=True, input_shape=[1, 3, 50, 70], st="F16", pth=None)),
    ("xcit_nano_12_p16_224", dict(arch="xcit_nano_12_p16", input_shape=[1, 3, 224, 224], st="F16",
                                  pth=None)),
])
EXPECTED_GRID = {  # by the ceil chain of spec section 1, written out by hand
    "tiny_p16": (4, 4), "tiny_p16_nontn_nonsquare": (5, 3), "tiny_p8": (5, 7),
    "tiny_p8_odd": (5, 7), "tiny_p16_f16": (4, 5), "xcit_nano_12_p16_224": (14, 14),
}


def build(case):
    if case["arch"]:
        return gc.build_zoo(case["arch"], num_classes=case.get("num_classes", 1000))
    return gc.build_custom(case["patch_size"], case["embed_dim"], case["depth"], case["num_heads"],
                           case["num_classes"], case["tokens_norm"])


def fp64_error(model, x, ref):
    """How far float32 timm is from the same model in float64 (information only)."""
    m64 = copy.deepcopy(model).double()
    out = gc.reference_outputs(m64, x.double())
    return {k: float(np.max(np.abs(out[k] - ref[k].astype(np.float64)))) for k in ref}


def make_case(name, case, out_root, base_seed):
    seed = gc.stable_seed(base_seed, name)
    d = out_root / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)

    model = build(case)
    gc.randomize_(model, seed)
    gc.round_weights_(model, case["st"])  # outputs come from the stored (rounded) weights
    hp = gc.model_hparams(model)
    b, c, h, w = case["input_shape"]
    x = gc.seeded_input(case["input_shape"], seed + 1)

    grid = gc.ceil_grid(hp["patch_size"], h, w)
    assert grid == EXPECTED_GRID[name], (name, grid)
    with torch.no_grad():
        _, (hp_, wp_) = model.patch_embed(x)
    assert (hp_, wp_) == grid, ("timm grid differs from the ceil chain", name, (hp_, wp_), grid)

    ref = gc.reference_outputs(model, x)
    with torch.no_grad():
        full = model(x).numpy()
    assert np.array_equal(full, ref["logits"]), name
    n = grid[0] * grid[1]
    assert ref["logits"].shape == (b, hp["num_classes"])
    assert ref["features"].shape == (b, hp["embed_dim"])
    assert ref["tokens"].shape == (b, n, hp["embed_dim"])
    for k, v in ref.items():
        assert np.all(np.isfinite(v)), (name, k)

    weights = OrderedDict()
    st_path = d / "model.safetensors"
    gc.save_safetensors(st_path, gc.timm_state_dict(model, case["st"]))
    weights["model.safetensors"] = case["st"]
    if case["pth"]:
        gc.save_pth(d / "model.pth", gc.original_state_dict(model), case["pth"])
        weights["model.pth"] = case["pth"]

    np.save(d / "input.npy", x.numpy().astype(np.float32))
    for k in ("logits", "features", "tokens"):
        np.save(d / ("%s.npy" % k), ref[k].astype(np.float32))

    config = OrderedDict(
        arch=case["arch"],
        patch_size=hp["patch_size"], embed_dim=hp["embed_dim"], depth=hp["depth"],
        num_heads=hp["num_heads"], num_classes=hp["num_classes"], tokens_norm=hp["tokens_norm"],
        input_shape=[b, c, h, w],
        weights=weights,
        grid=list(grid),
        seed=seed,
        generator="tools/golden/make_goldens.py (timm %s, torch %s)" % (timm.__version__, torch.__version__),
    )
    if case["arch"]:
        config["timm_model"] = gc.timm_model_name(case["arch"])
    (d / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    # Round trips: every written weight file reproduces the outputs bit for bit.
    factory = lambda: build(case)  # noqa: E731
    checks = {"model.safetensors": gc.load_safetensors_into(factory, st_path)}
    if case["pth"]:
        checks["model.pth"] = gc.load_original_into(factory, d / "model.pth")
    for fname, m in checks.items():
        out = gc.reference_outputs(m, x)
        for k in ref:
            if not np.array_equal(out[k], ref[k]):
                raise RuntimeError("%s/%s does not reproduce %s" % (name, fname, k))

    err = fp64_error(model, x, ref)
    print("%-26s seed=%-10d grid=%dx%d  max|logits|=%.3g max|features|=%.3g max|tokens|=%.3g  "
          "fp32-vs-fp64: %s" % (name, seed, grid[0], grid[1], gc.max_abs(ref["logits"]),
                                gc.max_abs(ref["features"]), gc.max_abs(ref["tokens"]),
                                " ".join("%s=%.1e" % kv for kv in err.items())))
    mx = gc.max_abs(ref["logits"])
    if not (0.3 <= mx <= 100.0):
        print("WARNING: %s logits magnitude %.3g is outside O(1)-O(10)" % (name, mx))
    return config


def write_readme(out_root, names):
    text = """# Golden data (generated by timm, do not edit)

Random-weight XCiT models (every parameter and buffer seeded, not timm's init) with
inputs and expected float32 outputs from timm %s / torch %s: `logits.npy`,
`features.npy` (pre-logits: cls row after the final norm) and `tokens.npy` (patch tokens
after the last XCA block). `model.safetensors` uses timm naming; `model.pth` the original
facebookresearch naming (`pos_embeder.`, merged class-attention `qkv`) wrapped as
`config.json` says. Cases: `tiny_p16` (p16, tokens_norm, batch 2, F32, pth {'model'}),
`tiny_p16_nontn_nonsquare` (tokens_norm off, 80x48 input, bare pth), `tiny_p8` (p8,
batch 2, 40x56, pth {'state_dict'}), `tiny_p8_odd` (37x51 not a multiple of the patch,
grid 5x7, BF16 safetensors, F32 pth of the same values), `tiny_p16_f16` (3 heads of 16,
50x70, F16 only) and `xcit_nano_12_p16_224` (the zoo arch at 224, F16 only); expected
outputs of the F16/BF16 cases come from the rounded weights, so they are exact for the
file. Regenerate with `tools/golden/setup.sh && python3 tools/golden/make_goldens.py`.
""" % (timm.__version__, torch.__version__)
    (out_root / "README.md").write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "testdata" / "golden"), help="output root")
    ap.add_argument("--seed", type=int, default=20261124, help="base seed (per-case seeds derive from it)")
    ap.add_argument("--cases", nargs="*", default=list(CASES), help="subset of: " + " ".join(CASES))
    args = ap.parse_args()
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    for name in args.cases:
        if name not in CASES:
            ap.error("unknown case %s" % name)
        make_case(name, CASES[name], out_root, args.seed)
    write_readme(out_root, args.cases)

    print("\nsizes:")
    total = 0
    for name in CASES:
        d = out_root / name
        if not d.is_dir():
            continue
        files = sorted(d.iterdir())
        size = sum(f.stat().st_size for f in files)
        total += size
        print("  %-26s %9.1f KiB  (%s)" % (name, size / 1024.0,
                                         ", ".join("%s %.0fK" % (f.name, f.stat().st_size / 1024.0)
                                                   for f in files)))
    print("  %-26s %9.1f KiB" % ("TOTAL", total / 1024.0))
    if total > SIZE_LIMIT:
        print("ERROR: goldens exceed %d MiB" % (SIZE_LIMIT >> 20))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
