"""Times xcit4j against its peers on the same random weights, on this machine, in one run:
timm eager PyTorch, torch.compile, ONNX Runtime (CPU EP) and `./xcit bench`, each in its own
process (peak RSS is per process), batch 1, the same thread count. Prints a markdown table
and writes JSON lines, the table and a latency plot to --out.

  python3 bench/peers/peers.py                                   # the three default cases
  python3 bench/peers/peers.py --case xcit_nano_12_p16@224x224 --runs 5 --device java
  python3 bench/peers/peers.py --skip-ours xcit_small_12_p16@1024x1024   # java is slow there

Setup once: bench/peers/setup.sh (local pip index only).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_CASES = ["xcit_nano_12_p16@224x224", "xcit_small_12_p16@224x224", "xcit_small_12_p16@1024x1024"]
TOOLS = ["eager", "compile", "ort", "ours"]
LABELS = {"eager": "timm eager (PyTorch)", "compile": "torch.compile", "ort": "ONNX Runtime"}


def parse_case(case):
    """'xcit_small_12_p16@1024x1024' -> ('xcit_small_12_p16', 1024, 1024); '@224' means 224x224."""
    model, _, size = case.partition("@")
    h, _, w = (size or "224").partition("x")
    return model, int(h), int(w or h)


def run_json(cmd, env, what):
    """Runs one measurement process and returns its last stdout line as JSON; stderr passes through."""
    print(f"peers: {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); output:\n{proc.stdout}")
    return json.loads(lines[-1])


def measure_case(case, args, env):
    """Every requested tool on one case; returns one record per tool (errors recorded, not fatal)."""
    model, h, w = parse_case(case)
    workdir = os.path.join(args.workdir, f"{model}_{h}x{w}")
    os.makedirs(workdir, exist_ok=True)
    worker = [sys.executable, os.path.join(HERE, "peer_worker.py")]
    common = ["--model", model, "--height", str(h), "--width", str(w), "--workdir", workdir,
              "--threads", str(args.threads)]
    timing = ["--runs", str(args.runs), "--warmup", str(args.warmup)]
    flops = run_json(worker + ["prepare"] + common, env, f"{case} prepare")["flops"]
    tools = [t for t in args.tools if not (t == "ours" and case in args.skip_ours)]
    if "ort" in tools:
        run_json(worker + ["export"] + common, env, f"{case} export to ONNX")
    records = []
    # eager first: the others compare their logits with its.
    for tool in sorted(tools, key=TOOLS.index):
        try:
            if tool == "ours":
                r = run_json(ours_command(args, workdir, h, w), env, f"{case} ours")
                if abs(r["gflop"] * 1e9 - flops) > 1e-3 * flops:  # same model, same count, or a bug
                    print(f"peers: warning: xcit counts {r['gflop']} GFLOP, torch {flops / 1e9:.3f}", file=sys.stderr)
                label = f"xcit4j ({r['device']})"
            else:
                r = run_json(worker + [tool] + common + timing, env, f"{case} {tool}")
                label = LABELS[tool]
        except RuntimeError as e:
            print(f"peers: {e}", file=sys.stderr)
            r, label = {"error": str(e).splitlines()[0]}, LABELS.get(tool, tool)
        r.update(case=case, tool=tool, label=label, threads=args.threads, flops=flops)
        if "median_ms" in r:
            r["gflops"] = round(flops / (r["median_ms"] * 1e6), 2)
        records.append(r)
    ours = next((r for r in records if r["tool"] == "ours" and "median_ms" in r), None)
    for r in records:
        if ours and "median_ms" in r:
            r["ours_over_peer"] = round(ours["median_ms"] / r["median_ms"], 3)
    return records


def ours_command(args, workdir, h, w):
    return [os.path.join(ROOT, "xcit"), "bench", "--weights", os.path.join(workdir, "model.safetensors"),
            "--size", f"{h}x{w}", "--device", args.device, "--threads", str(args.threads),
            "--runs", str(args.ours_runs or args.runs), "--warmup", str(args.ours_warmup or args.warmup)]


def fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def markdown(records):
    rows = ["| case | tool | median ms | peak RSS MB | GFLOP/s | ours/peer |", "|---|---|---:|---:|---:|---:|"]
    for r in records:
        if "error" in r:
            rows.append(f"| {r['case']} | {r['label']} | failed: {r['error'][:60]} | | | |")
            continue
        rows.append(f"| {r['case']} | {r['label']} | {fmt(r['median_ms'])} | {fmt(r.get('peak_rss_mb'), 0)} "
                    f"| {fmt(r.get('gflops'))} | {fmt(r.get('ours_over_peer'), 2)} |")
    return "\n".join(rows)


def plot(records, path):
    """Latency by tool, one group per case, log scale (the Java reference is ~100x slower)."""
    bar_plot(records, path, "median_ms", "median latency, ms (log)",
             f"XCiT forward, batch 1, {records[0]['threads']} threads (lower is better)")


def bar_plot(records, path, key, ylabel, title):
    """records' `key` as bars, one group per case, one bar per label, on a log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases = list(dict.fromkeys(r["case"] for r in records))
    labels = list(dict.fromkeys(r["label"] for r in records))
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, label in enumerate(labels):
        xs, ys = [], []
        for j, case in enumerate(cases):
            r = next((r for r in records if r["case"] == case and r["label"] == label and key in r), None)
            if r:
                xs.append(j + (i - (len(labels) - 1) / 2) * width)
                ys.append(r[key])
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(cases)), [c.replace("@", "\n") for c in cases])
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", action="append", help="MODEL@HxW, repeatable (default: the three of issue 3)")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    p.add_argument("--device", default="cpu", help="xcit4j device for `xcit bench` (java until cpu exists)")
    p.add_argument("--skip-ours", action="append", default=[], metavar="CASE", help="time only the peers for CASE")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--ours-runs", type=int, help="runs for xcit4j if not --runs (the java reference is slow)")
    p.add_argument("--ours-warmup", type=int)
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="peers.jsonl, peers.md, peers.png")
    p.add_argument("--workdir", default=os.path.join(ROOT, "bench", "target", "peers"), help="weights, inputs, ONNX")
    args = p.parse_args()
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        p.error(f"unknown tools {sorted(unknown)}; expected a subset of {TOOLS}")
    cases = args.case or DEFAULT_CASES

    # Every library sizes its pool from these; ORT and torch also get the count explicitly.
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env.pop("TIMM_FUSED_ATTN", None)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    records = []
    for case in cases:
        records += measure_case(case, args, env)

    write_results(args.out, "peers", records, markdown(records), plot, started)


def write_results(out, stem, records, table, plot_fn, started):
    """STEM.jsonl, STEM.md (the table and the command that made it) and STEM.png in out."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, stem + ".jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps({"started": started, "host": platform.node(), **r}) + "\n")
    command = f"python3 bench/peers/{os.path.basename(sys.argv[0])} " + " ".join(sys.argv[1:])
    with open(os.path.join(out, stem + ".md"), "w") as f:
        f.write(f"{table}\n\nMeasured {started} with `{command.strip()}`.\n")
    print(table)
    try:
        plot_fn(records, os.path.join(out, stem + ".png"))
    except ImportError as e:  # matplotlib comes from setup.sh; the table and JSON do not need it
        print(f"{stem}: no plot ({e}); run bench/peers/setup.sh", file=sys.stderr)


if __name__ == "__main__":
    main()
