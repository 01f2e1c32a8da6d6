"""Peak memory and latency against image side: xcit4j (streamed, --device cpu) and timm eager
PyTorch on the same random weights, batch 1, each run in its own process (peak RSS is the
process's). The plot is in the style of the XCiT paper's memory figure, with the floor of
any implementation drawn in: the input tensor plus the residual stream.

  python3 bench/peers/memory_sweep.py                              # p16 and p8, 224 .. 4096
  python3 bench/peers/memory_sweep.py --model xcit_small_12_p16 --side 224 --side 1024
  python3 bench/peers/memory_sweep.py --from a.jsonl --from b.jsonl   # table and plot of earlier runs

A tool is not run at a side where its previous side's latency, scaled by the pixel count,
predicts more than --budget-s seconds; the table says so. Setup once: bench/peers/setup.sh.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

from peers import write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_MODELS = ["xcit_small_12_p16", "xcit_small_12_p8"]
DEFAULT_SIDES = [224, 512, 1024, 2048, 3072, 4096]
EMBED_DIM = {"xcit_small_12": 384, "xcit_nano_12": 128, "xcit_tiny_12": 192, "xcit_tiny_24": 192,
             "xcit_small_24": 384, "xcit_medium_24": 512, "xcit_large_24": 768}


def run_json(cmd, env, what):
    print(f"sweep: {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode in (-9, 137) else "")}
    return json.loads(lines[-1])


def floor_mb(model, side):
    """Input (3 H W) plus residual stream (N C) in float32: what any implementation holds."""
    patch = 8 if model.endswith("p8") else 16
    c = EMBED_DIM[model.rsplit("_", 1)[0]]
    return (3 * side * side + (side // patch) ** 2 * c) * 4 / 2**20


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", help="timm architecture, repeatable (default: small p16 and p8)")
    p.add_argument("--side", action="append", type=int, help="square image side, repeatable")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--stream", default="on", help="xcit bench --stream (on, auto, off)")
    p.add_argument("--budget-s", type=float, default=300, help="skip a run predicted to take longer than this")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--workdir", default=os.path.join(ROOT, "bench", "target", "sweep"))
    p.add_argument("--from", dest="sources", action="append", metavar="JSONL",
                   help="measure nothing: table and plot of the records in these memory.jsonl files")
    args = p.parse_args()
    if args.sources:
        records = [json.loads(line) for path in args.sources for line in open(path) if line.strip()]
        records.sort(key=lambda r: (r["model"], r["side"], r["tool"]))
        write_results(args.out, "memory", records, markdown(records), plot, min(r["started"] for r in records))
        return
    models, sides = args.model or DEFAULT_MODELS, sorted(args.side or DEFAULT_SIDES)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    worker = [sys.executable, os.path.join(HERE, "peer_worker.py")]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    records = []
    for model in models:
        last = {}  # tool -> (side, seconds of one forward)
        for side in sides:
            workdir = os.path.join(args.workdir, f"{model}_{side}")
            os.makedirs(workdir, exist_ok=True)
            common = ["--model", model, "--height", str(side), "--width", str(side), "--workdir", workdir,
                      "--threads", str(args.threads)]
            prepared = run_json(worker + ["prepare", "--skip-flops"] + common, env, f"{model}@{side} prepare")
            if "error" in prepared:
                print(f"sweep: prepare failed for {model}@{side}", file=sys.stderr)
                continue
            for tool in ("ours", "eager"):
                if tool in last:
                    prev_side, prev_s = last[tool]
                    predicted = prev_s * (side / prev_side) ** 2
                    if predicted > args.budget_s:
                        records.append(dict(model=model, side=side, tool=tool, skipped=f"predicted {predicted:.0f} s"))
                        continue
                if tool == "ours":
                    cmd = [os.path.join(ROOT, "xcit"), "bench", "--weights", os.path.join(workdir, "model.safetensors"),
                           "--size", f"{side}x{side}", "--device", "cpu", "--threads", str(args.threads),
                           "--stream", args.stream, "--runs", "1", "--warmup", "1"]
                else:
                    cmd = worker + ["eager"] + common + ["--runs", "1", "--warmup", "1"]
                r = run_json(cmd, env, f"{model}@{side} {tool}")
                r.update(model=model, side=side, tool=tool, floor_mb=round(floor_mb(model, side), 1))
                if "median_ms" in r:
                    last[tool] = (side, r["median_ms"] / 1e3)
                records.append(r)
    write_results(args.out, "memory", records, markdown(records), plot, started)


def markdown(records):
    rows = ["| model | side | tool | peak RSS MB | RSS after load MB | peak - loaded MB | input + residual MB | latency ms |",
            "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in records:
        tool = "xcit4j cpu" + (" (streamed)" if r.get("streamed") else "") if r["tool"] == "ours" else "timm eager"
        if "skipped" in r or "error" in r:
            rows.append(f"| {r['model']} | {r['side']} | {tool} | {r.get('skipped') or r.get('error')} | | | | |")
            continue
        peak, loaded = r.get("peak_rss_mb"), r.get("rss_loaded_mb")
        grow = None if peak is None or loaded is None else peak - loaded
        rows.append(f"| {r['model']} | {r['side']} | {tool} | {peak:,.0f} | {loaded:,.0f} | "
                    f"{'-' if grow is None else f'{grow:,.0f}'} | {r['floor_mb']:,.0f} | {r['median_ms']:,.0f} |")
    return "\n".join(rows)


def plot(records, path):
    """Peak RSS (left) and latency (right) against side, log-log, one line per model and tool."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, (mem, lat) = plt.subplots(1, 2, figsize=(11, 4.5))
    for model in dict.fromkeys(r["model"] for r in records):
        for tool, style in (("ours", "-o"), ("eager", "--s")):
            rs = [r for r in records if r["model"] == model and r["tool"] == tool and "median_ms" in r]
            if not rs:
                continue
            label = f"{'xcit4j cpu' if tool == 'ours' else 'timm eager'} {model.rsplit('_', 1)[1]}"
            mem.plot([r["side"] for r in rs], [r["peak_rss_mb"] / 1024 for r in rs], style, label=label)
            lat.plot([r["side"] for r in rs], [r["median_ms"] / 1e3 for r in rs], style, label=label)
        floor = sorted({(r["side"], r["floor_mb"]) for r in records if r["model"] == model and "floor_mb" in r})
        if floor:
            mem.plot([s for s, _ in floor], [f / 1024 for _, f in floor], ":" if model.endswith("p16") else "-.",
                     color="gray", label=f"input + residual stream {model.rsplit('_', 1)[1]}")
    sides = sorted({r["side"] for r in records})
    for ax, title, unit in ((mem, "peak memory (process RSS)", "GiB"), (lat, "latency, batch 1", "s")):
        ax.set_xscale("log")
        ax.set_xticks(sides, [str(s) for s in sides], fontsize=7)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel("image side (pixels)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("XCiT small on 2 CPU threads: xcit4j streamed vs timm eager")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
