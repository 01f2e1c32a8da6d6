#!/usr/bin/env python3
"""Acceptance check of the xcit4j launcher against timm on models the tests have not seen.

For each zoo arch: build a random-weight timm model (every parameter and buffer seeded,
1000 classes), a random input (batch 2, non-square by default), write a timm
safetensors (F32) and an original-format .pth ({'model': sd, 'epoch': 3}) to a temp
dir, then for each weight file and each output run

    <repo>/xcit forward --weights W --input X.npy --output Y.npy --what WHAT --device java

(no --model: the architecture is inferred from the checkpoint) and compare Y with
timm:  PASS iff max|Y - expected| <= 1e-4 * max(1, max|expected|).
Exit status 1 on any FAIL.  --dry-run only builds, saves and self-checks the files.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ARCHS = ["xcit_nano_12_p16", "xcit_nano_12_p8", "xcit_tiny_12_p16", "xcit_tiny_12_p8"]
WHATS = ["logits", "features", "tokens"]
FORMATS = {"safetensors": "model.safetensors", "pth": "model.pth"}
RTOL = 1e-4


def parse_size(s):
    try:
        h, w = s.lower().split("x")
        return int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError("size must be HxW, e.g. 96x160")


def prepare(arch, out_dir, batch, size, seed):
    """Build the random model, save both weight files and the input; return expected outputs."""
    s = gc.stable_seed(seed, arch)
    model = gc.randomize_(gc.build_zoo(arch, num_classes=1000), s)
    x = gc.seeded_input([batch, 3, size[0], size[1]], s + 1)
    ref = gc.reference_outputs(model, x)
    out_dir.mkdir(parents=True, exist_ok=True)
    gc.save_safetensors(out_dir / FORMATS["safetensors"], gc.timm_state_dict(model, "F32"))
    gc.save_pth(out_dir / FORMATS["pth"], gc.original_state_dict(model), "model")
    np.save(out_dir / "input.npy", x.numpy().astype(np.float32))
    for k, v in ref.items():
        np.save(out_dir / ("expected_%s.npy" % k), v)
    return model, x, ref


def self_check(arch, out_dir, x, ref):
    """Both written files, reloaded into fresh timm models, reproduce the outputs exactly."""
    factory = lambda: gc.build_zoo(arch, num_classes=1000)  # noqa: E731
    loaded = {"safetensors": gc.load_safetensors_into(factory, out_dir / FORMATS["safetensors"]),
              "pth": gc.load_original_into(factory, out_dir / FORMATS["pth"])}
    ok = True
    for fmt, m in loaded.items():
        out = gc.reference_outputs(m, x)
        for what in WHATS:
            same = np.array_equal(out[what], ref[what])
            ok &= same
            print("%-18s %-12s %-9s shape=%-16s max|expected|=%-9.4g reload %s"
                  % (arch, fmt, what, "x".join(map(str, ref[what].shape)), gc.max_abs(ref[what]),
                     "identical" if same else "DIFFERS"))
    return ok


def run_launcher(launcher, weights, inp, out, what, device, model_arg, timeout):
    cmd = [str(launcher), "forward", "--weights", str(weights), "--input", str(inp),
           "--output", str(out), "--what", what, "--device", device]
    if model_arg:
        cmd += ["--model", model_arg]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "%s: %s" % (type(e).__name__, e), time.time() - t0
    if p.returncode != 0:
        tail = (p.stderr or p.stdout or "").strip().splitlines()[-3:]
        return None, "exit %d: %s" % (p.returncode, " | ".join(tail)), time.time() - t0
    try:
        return np.load(out), None, time.time() - t0
    except Exception as e:  # noqa: BLE001
        return None, "cannot read %s: %s" % (out, e), time.time() - t0


def compare(got, exp):
    """(max abs diff, bound, ok, note) with the acceptance criterion."""
    bound = RTOL * max(1.0, gc.max_abs(exp))
    if got.shape != exp.shape:
        return float("nan"), bound, False, "shape %s != expected %s" % (got.shape, exp.shape)
    if got.dtype != np.float32:
        note = "dtype %s" % got.dtype
    else:
        note = ""
    diff = np.abs(got.astype(np.float64) - exp.astype(np.float64))
    mx = float(np.max(diff)) if diff.size else 0.0
    ok = bool(np.all(np.isfinite(got))) and mx <= bound
    return mx, bound, ok, note


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", nargs="+", default=DEFAULT_ARCHS, help="timm zoo archs (default: %(default)s)")
    ap.add_argument("--size", type=parse_size, default=(96, 160), help="input HxW (default 96x160)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--launcher", default=str(REPO / "xcit"), help="default: <repo>/xcit")
    ap.add_argument("--device", default="java")
    ap.add_argument("--what", nargs="+", default=WHATS, choices=WHATS)
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS))
    ap.add_argument("--pass-model", action="store_true",
                    help="also pass --model <arch> (default: let the launcher infer it)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per launcher call")
    ap.add_argument("--workdir", help="keep files here instead of a temp dir")
    ap.add_argument("--keep", action="store_true", help="do not delete the temp dir")
    ap.add_argument("--dry-run", action="store_true",
                    help="only build and save the models and inputs, and check them by reloading")
    args = ap.parse_args()

    for a in args.archs:
        if a.rsplit("_", 1)[0] not in gc.ZOO and a not in gc.ZOO:
            ap.error("unknown zoo arch %s (known: %s)" % (a, " ".join(gc.ZOO)))
    launcher = Path(args.launcher)
    if not args.dry_run and not (launcher.is_file() and os.access(launcher, os.X_OK)):
        print("launcher %s not found or not executable" % launcher)
        return 1

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="xcit-verify-"))
    print("work dir: %s  input %dx3x%dx%d  seed %d  criterion max|diff| <= %g*max(1,max|expected|)"
          % (work, args.batch, args.size[0], args.size[1], args.seed, RTOL))
    fails = 0
    try:
        for arch in args.archs:
            d = work / arch
            model, x, ref = prepare(arch, d, args.batch, args.size, args.seed)
            if args.dry_run:
                fails += 0 if self_check(arch, d, x, ref) else 1
                continue
            for fmt in args.formats:
                for what in args.what:
                    out = d / ("out_%s_%s.npy" % (fmt, what))
                    if out.exists():
                        out.unlink()
                    got, err, secs = run_launcher(launcher, d / FORMATS[fmt], d / "input.npy", out, what,
                                                  args.device, arch if args.pass_model else None,
                                                  args.timeout)
                    bound = RTOL * max(1.0, gc.max_abs(ref[what]))
                    if got is None:
                        fails += 1
                        print("%-18s %-12s %-9s max|diff|=%-10s bound=%-9.3g FAIL  (%s)"
                              % (arch, fmt, what, "-", bound, err))
                        continue
                    mx, bound, ok, note = compare(got, ref[what])
                    fails += 0 if ok else 1
                    print("%-18s %-12s %-9s max|diff|=%-10.3g bound=%-9.3g %s  (%.1fs%s)"
                          % (arch, fmt, what, mx, bound, "PASS" if ok else "FAIL", secs,
                             ", " + note if note else ""))
                    sys.stdout.flush()
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("%s: %d failure(s)" % ("FAIL" if fails else "PASS", fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
