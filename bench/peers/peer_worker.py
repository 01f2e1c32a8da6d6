"""One peer measurement in its own process, so that its peak RSS is its own (peers.py runs
one of these per tool and case). Prints one JSON line on stdout.

  prepare  seeded random weights -> model.safetensors (the file xcit4j loads too), input.npy,
           and the forward's FLOPs from torch's counter
  eager    timm in PyTorch eager mode (inference_mode)
  compile  torch.compile (inductor, default mode) of the same model; compile time reported
  export   torch.onnx.export to model.onnx (not timed; its memory must not count for ORT)
  ort      ONNX Runtime, CPU execution provider; imports neither torch nor timm
  cuda     timm on the GPU (peers_cuda.py): eager in fp32/tf32/fp16/bf16 (autocast), or
           torch.compile of it (--compile, mode reduce-overhead: CUDA graphs); CUDA events
           around each forward of a --batch input already on the device; the compile (the
           first calls) timed apart and never in the median
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_TOOLS = os.path.join(HERE, "..", "..", "tools", "golden")
SEED = 0


def rss_mb(key):
    """VmRSS / VmHWM of this process in MiB; getrusage's peak where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def time_runs(fn, warmup, runs):
    """Median/min/max wall time in ms of fn() after warmup calls; the first call's time too."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return dict(median_ms=round(statistics.median(times), 3), min_ms=round(min(times), 3),
                max_ms=round(max(times), 3), first_call_s=round(first, 2))


def torch_model(args):
    sys.path.insert(0, GOLDEN_TOOLS)
    import golden_common as gc  # imports timm through timm_compat (torchvision workaround)
    torch = gc.torch
    torch.set_num_threads(args.threads)
    model = gc.load_safetensors_into(lambda: gc.build_zoo(args.model), os.path.join(args.workdir, "model.safetensors"))
    import numpy as np
    x = torch.from_numpy(np.load(os.path.join(args.workdir, "input.npy")))
    return torch, model, x


def prepare(args):
    # Class attention's fused SDPA is invisible to the FLOP counter: count the unfused path.
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, GOLDEN_TOOLS)
    import numpy as np
    import golden_common as gc
    from torch.utils.flop_counter import FlopCounterMode
    torch = gc.torch
    torch.set_num_threads(args.threads)
    model = gc.randomize_(gc.build_zoo(args.model), SEED)
    gc.save_safetensors(os.path.join(args.workdir, "model.safetensors"), gc.timm_state_dict(model))
    x = gc.seeded_input((1, 3, args.height, args.width), SEED)
    np.save(os.path.join(args.workdir, "input.npy"), x.numpy())
    if args.skip_flops:  # memory_sweep.py: a counted forward at 4096 would cost minutes
        return dict(flops=None)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return dict(flops=counter.get_total_flops())


def eager(args):
    torch, model, x = torch_model(args)
    loaded = rss_mb("VmRSS")
    with torch.inference_mode():
        result = time_runs(lambda: model(x), args.warmup, args.runs)
        logits = model(x).numpy()
    import numpy as np
    np.save(os.path.join(args.workdir, "logits_eager.npy"), logits)
    return dict(result, rss_loaded_mb=loaded, version=torch.__version__)


def compiled(args):
    torch, model, x = torch_model(args)
    loaded = rss_mb("VmRSS")
    fast = torch.compile(model)
    with torch.inference_mode():
        # The first call compiles (minutes here): it is reported as first_call_s, not timed.
        result = time_runs(lambda: fast(x), max(args.warmup, 1), args.runs)
        logits = fast(x).numpy()
    return dict(result, rss_loaded_mb=loaded, max_abs_diff_vs_eager=diff_vs_eager(args, logits),
                version=torch.__version__)


def export(args):
    torch, model, x = torch_model(args)
    path = os.path.join(args.workdir, "model.onnx")
    with torch.inference_mode():
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["logits"], dynamo=True,
                          external_data=False)
    return dict(onnx=path, bytes=os.path.getsize(path))


def ort(args):
    import numpy as np
    import onnxruntime as rt
    options = rt.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = rt.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = rt.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = rt.InferenceSession(os.path.join(args.workdir, "model.onnx"), options, providers=["CPUExecutionProvider"])
    x = np.load(os.path.join(args.workdir, "input.npy"))
    loaded = rss_mb("VmRSS")
    result = time_runs(lambda: session.run(None, {"input": x}), args.warmup, args.runs)
    logits = session.run(None, {"input": x})[0]
    return dict(result, rss_loaded_mb=loaded, max_abs_diff_vs_eager=diff_vs_eager(args, logits), version=rt.__version__)


def cuda_timed(torch, fn, warmup, runs):
    """Median / min ms of fn() by CUDA events, after warmup calls (the device is synchronised first)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return round(statistics.median(times), 3), round(min(times), 3)


def cuda(args):
    torch, model, _ = torch_model(args)
    sys.path.insert(0, GOLDEN_TOOLS)
    import golden_common as gc
    import numpy as np
    model = model.cuda().eval()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    x = gc.seeded_input((args.batch, 3, args.height, args.width), SEED).cuda()
    net = torch.compile(model, mode=args.compile_mode) if args.compile else model

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            return net(x)

    torch.cuda.reset_peak_memory_stats()
    # The first calls compile (and with CUDA graphs record): timed apart, never in the median.
    t0 = time.perf_counter()
    for _ in range(3 if args.compile else 1):
        forward()
    torch.cuda.synchronize()
    first = time.perf_counter() - t0
    median, best = cuda_timed(torch, forward, args.warmup, args.runs)
    logits = forward().float().cpu().numpy()
    reference = os.path.join(args.workdir, f"logits_cuda_fp32_b{args.batch}.npy")
    if args.precision == "fp32" and not args.compile:
        np.save(reference, logits)
    diff = float(np.max(np.abs(logits - np.load(reference)))) if os.path.exists(reference) else None
    return dict(median_ms=median, min_ms=best, img_per_s=round(args.batch * 1000 / median, 1),
                compile_s=round(first, 2) if args.compile else None, first_call_s=round(first, 2),
                peak_mem_mb=round(torch.cuda.max_memory_allocated() / 2 ** 20, 1),
                max_abs_diff_vs_fp32=diff, gpu=torch.cuda.get_device_name(), version=torch.__version__)


def diff_vs_eager(args, logits):
    """A check that the peer ran the same model: max |logits - eager's| (None before eager ran)."""
    import numpy as np
    path = os.path.join(args.workdir, "logits_eager.npy")
    return float(np.max(np.abs(logits - np.load(path)))) if os.path.exists(path) else None


MODES = {"prepare": prepare, "eager": eager, "compile": compiled, "export": export, "ort": ort, "cuda": cuda}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=MODES)
    p.add_argument("--model", required=True, help="timm architecture, e.g. xcit_small_12_p16")
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--workdir", required=True, help="holds model.safetensors, input.npy, model.onnx")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--skip-flops", action="store_true", help="prepare: do not count FLOPs")
    p.add_argument("--batch", type=int, default=1, help="cuda: images per forward")
    p.add_argument("--precision", choices=["fp32", "tf32", "fp16", "bf16"], default="fp32", help="cuda: eager precision")
    p.add_argument("--compile", action="store_true", help="cuda: torch.compile the model")
    p.add_argument("--compile-mode", default="reduce-overhead", help="cuda: torch.compile mode")
    args = p.parse_args()
    out = MODES[args.mode](args)
    out.update(peak_rss_mb=rss_mb("VmHWM"))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
