#!/usr/bin/env python3
"""timm's XCiT on the same GPU, for scripts/gpu-check.sh --peers: one JSON line per mode.

Usage: gpu_timm.py ARCH HxW BATCH MODE [MODE...]   MODE: fp32 | tf32 | fp16 | bf16 (autocast)
Random weights (timm's init), a random input already on the device, CUDA events around each
forward: median / min ms over 50 runs after 10 warm-up runs, images/s, peak device memory.
Needs torch with CUDA and timm (the GPU machine's venv); never used by xcit4j itself.
"""
import json
import sys

import torch
import timm


def timed(fn, warmup=10, runs=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    arch, size, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    h, w = map(int, size.split("x"))
    name = arch if arch.endswith(("_224", "_384")) else arch + "_224"
    model = timm.create_model(name, pretrained=False).cuda().eval()
    x = torch.randn(batch, 3, h, w, device="cuda")
    for mode in sys.argv[4:]:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode)

        def forward():
            with torch.inference_mode(), torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
                return model(x)

        torch.cuda.reset_peak_memory_stats()
        median, best = timed(forward)
        print(json.dumps({"tool": "timm", "model": arch, "size": size, "batch": batch, "mode": mode,
                          "median_ms": round(median, 3), "min_ms": round(best, 3),
                          "img_per_s": round(batch * 1000 / median, 1),
                          "peak_mem_mb": round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)}), flush=True)


if __name__ == "__main__":
    main()
