"""The CUDA mode of the peer harness: xcit4j against timm on the same GPU, the same random
weights (peer_worker.py prepare writes the model.safetensors that `xcit bench --weights`
loads too), in one run. Tools, each in its own process:

  eager-fp32, eager-tf32, eager-fp16, eager-bf16   timm eager PyTorch (16-bit: autocast)
  compile-fp32, compile-bf16                       torch.compile of it, mode reduce-overhead
                                                   (CUDA graphs); its compile time apart
  ours-fp32, ours-tf32, ours-fp16, ours-bf16       `xcit bench --device cuda --precision P`

timm runs on an input already on the device, timed by CUDA events around each forward
(median and min of --runs after --warmup); `xcit bench` reports its own median, which
includes the input's copy to the device. Prints a markdown table (median ms, images/s,
compile s, peak device MB, ours bf16 / peer) and writes peers_cuda.jsonl, .md and .png
to --out.

  python3 bench/peers/peers_cuda.py                              # issue 13's four cases
  python3 bench/peers/peers_cuda.py --case xcit_small_12_p16@224x224/256 --tools eager-bf16,ours-bf16
  python3 bench/peers/peers_cuda.py --skip-ours                  # a GPU machine without Java
  python3 bench/peers/peers_cuda.py --dry-run                    # the commands only (no GPU needed)
  python3 bench/peers/peers_cuda.py --summarize DIR/peers_cuda.jsonl   # the table of a past run

A case is MODEL@HxW/BATCH. Needs PyTorch with a CUDA device and timm (the GPU machine's
venv, or bench/peers/setup.sh); without them it stops before running anything, saying why.
"""
import argparse
import datetime
import json
import os
import re
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peers import ROOT, bar_plot, fmt, run_json, write_results  # noqa: E402  (the harness this extends)

DEFAULT_CASES = ["xcit_small_12_p16@224x224/1", "xcit_small_12_p16@224x224/64", "xcit_small_12_p16@224x224/256",
                 "xcit_small_12_p16@1024x1024/1"]
PRECISIONS = ["fp32", "tf32", "fp16", "bf16"]
TOOLS = ([f"eager-{p}" for p in PRECISIONS] + ["compile-fp32", "compile-bf16"] + [f"ours-{p}" for p in PRECISIONS])
DEFAULT_TOOLS = ["eager-fp32", "eager-bf16", "compile-bf16", "ours-fp32", "ours-bf16"]
LABELS = {"eager": "timm eager", "compile": "torch.compile", "ours": "xcit4j"}
# FLOPs are counted by a CPU forward in `prepare`: minutes beyond this many pixels.
MAX_COUNTED_PIXELS = 1024 * 1024


def parse_case(case):
    """'xcit_small_12_p16@224x224/64' -> ('xcit_small_12_p16', 224, 224, 64); ValueError otherwise."""
    m = re.fullmatch(r"([A-Za-z0-9_]+)@(\d+)x(\d+)/(\d+)", case)
    if not m or min(int(g) for g in m.groups()[1:]) < 1:
        raise ValueError(f"case {case!r}: expected MODEL@HxW/BATCH with positive sizes, e.g. xcit_small_12_p16@224x224/1")
    return m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))


def cuda_missing():
    """Why timm cannot run on a GPU here, or None."""
    try:
        import torch
    except ImportError as e:
        return f"PyTorch is not installed ({e}); bench/peers/setup.sh installs it"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda})"
    return None


def workdir_of(args, model, h, w):
    return os.path.join(args.workdir, f"{model}_{h}x{w}")


def commands(case, args):
    """[(what, argv)] for one case: prepare first, then every tool (eager-fp32 first: the others' reference)."""
    model, h, w, b = parse_case(case)
    workdir = workdir_of(args, model, h, w)
    worker = [sys.executable, os.path.join(HERE, "peer_worker.py")]
    common = ["--model", model, "--height", str(h), "--width", str(w), "--workdir", workdir]
    prepare = worker + ["prepare"] + common + (["--skip-flops"] if h * w > MAX_COUNTED_PIXELS else [])
    out = [("prepare", prepare)]
    for tool in sorted(args.tools, key=TOOLS.index):
        kind, precision = tool.split("-")
        if kind == "ours":
            if args.skip_ours:
                continue
            argv = shlex.split(args.xcit) + ["bench", "--weights", os.path.join(workdir, "model.safetensors"),
                                             "--size", f"{h}x{w}", "--batch", str(b), "--device", "cuda",
                                             "--precision", precision, "--runs", str(args.runs), "--warmup",
                                             str(args.warmup)]
        else:
            argv = worker + ["cuda"] + common + ["--batch", str(b), "--precision", precision, "--runs",
                                                 str(args.runs), "--warmup", str(args.warmup)]
            if kind == "compile":
                argv += ["--compile", "--compile-mode", args.compile_mode]
        out.append((tool, argv))
    return out


def measure(case, args, env):
    """Every tool on one case; one record per tool (a failure is recorded, not fatal)."""
    model, h, w, b = parse_case(case)
    os.makedirs(workdir_of(args, model, h, w), exist_ok=True)
    records, flops = [], None
    for tool, argv in commands(case, args):
        try:
            r = run_json(argv, env, f"{case} {tool}")
        except RuntimeError as e:
            if tool == "prepare":
                raise
            print(f"peers_cuda: {e}", file=sys.stderr)
            r = {"error": str(e).splitlines()[0]}
        if tool == "prepare":
            flops = r.get("flops")
            continue
        kind, precision = tool.split("-")
        if "median_ms" in r and "img_per_s" not in r:
            r["img_per_s"] = round(b * 1000 / r["median_ms"], 1)
        # model / size / batch / mode: the fields scripts/gpu-check.sh's summary reads.
        r.update(case=case, model=model, size=f"{h}x{w}", batch=b, tool=tool,
                 mode=precision if kind != "compile" else tool, label=f"{LABELS[kind]} {precision}", flops=flops)
        if flops and "median_ms" in r:
            r["tflops"] = round(flops * b / (r["median_ms"] * 1e9), 2)
        records.append(r)
    ours = next((r for r in records if r["tool"] == "ours-bf16" and "median_ms" in r), None)
    for r in records:
        if ours and "median_ms" in r and not r["tool"].startswith("ours"):
            r["ours_bf16_over_peer"] = round(ours["median_ms"] / r["median_ms"], 3)
    return records


def table(records):
    rows = ["| case | tool | median ms | img/s | compile s | peak MB | ours bf16 / peer |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for r in records:
        if "error" in r:
            rows.append(f"| {r['case']} | {r['label']} | failed: {r['error'][:60]} | | | | |")
            continue
        rows.append(f"| {r['case']} | {r['label']} | {fmt(r['median_ms'], 3)} | {fmt(r.get('img_per_s'))} "
                    f"| {fmt(r.get('compile_s'))} | {fmt(r.get('peak_mem_mb'), 0)} | {fmt(r.get('ours_bf16_over_peer'), 2)} |")
    return "\n".join(rows)


def plot(records, path):
    """Images per second by tool, one group per case, log scale."""
    gpu = next((r["gpu"] for r in records if r.get("gpu")), "GPU")
    bar_plot(records, path, "img_per_s", "images / s (log)", f"XCiT forward on one {gpu} (higher is better)")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="peers_cuda.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", action="append", help="MODEL@HxW/BATCH, repeatable (default: issue 13's four)")
    p.add_argument("--tools", default=",".join(DEFAULT_TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    p.add_argument("--skip-ours", action="store_true", help="time only timm (xcit4j timed elsewhere)")
    p.add_argument("--xcit", default=os.path.join(ROOT, "xcit"), help="the xcit command (default: ./xcit)")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--compile-mode", default="reduce-overhead", help="torch.compile mode (reduce-overhead: CUDA graphs)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="peers_cuda.jsonl, .md, .png")
    p.add_argument("--workdir", default=os.path.join(ROOT, "bench", "target", "peers"), help="weights and references")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--summarize", metavar="JSONL", help="print the table of an earlier run's peers_cuda.jsonl")
    args = p.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tools if t not in TOOLS]
    if unknown or not args.tools:
        p.error(f"unknown tools {unknown}; expected a subset of {','.join(TOOLS)}")
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    args.case = args.case or DEFAULT_CASES
    for case in args.case:
        try:
            parse_case(case)
        except ValueError as e:
            p.error(str(e))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.summarize:
        with open(args.summarize) as f:
            print(table([json.loads(line) for line in f if line.strip()]))
        return 0
    if args.dry_run:
        for case in args.case:
            for _, argv in commands(case, args):
                print(" ".join(shlex.quote(a) for a in argv))
        return 0
    reason = cuda_missing()
    if reason:
        print(f"peers_cuda: no CUDA device: {reason}; nothing was run", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env.pop("TIMM_FUSED_ATTN", None)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    records = []
    for case in args.case:
        records += measure(case, args, env)
    write_results(args.out, "peers_cuda", records, table(records), plot, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
