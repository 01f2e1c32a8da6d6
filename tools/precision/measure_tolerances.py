#!/usr/bin/env python3
"""How far does each precision move XCiT's outputs? The numbers behind the tolerances of
`xcit selftest` (SelftestCommand.tolerance) and of the device tests (Approx.java).

For each model, size and seed it builds timm's XCiT with the weights `xcit selftest` uses
(golden_common.randomize_: every parameter seeded with the distribution of
java/.../model/RandomWeights.java; the same distribution, not the same values, since Java's
SplittableRandom is not reproduced), a standard-normal input (as selftest's), and reports
max|err| / max(1, max|ref|) of logits, features and tokens (the output of the last XCA
block) against timm's own float32 forward, for:

  timm bf16 / timm fp16   timm under torch.autocast on the CPU (CPU autocast: GEMMs and
                          convolutions in 16 bits, LayerNorm/softmax in fp32, no GPU here)
  sim fp32                this file's re-implementation of xcit4j's CUDA forward with no
                          rounding at all: checks the simulator against timm (~1e-6)
  sim tf32 / tf32-trunc   xcit4j's CUDA tf32 mode: fp32 storage, the inputs of every cuBLASLt
                          GEMM (every Linear: qkv, proj, fc1, fc2, class attention, head,
                          positional projection) rounded to tf32 (10-bit mantissa), to
                          nearest even / truncated (in case the hardware truncates)
  sim fp16 / sim bf16     xcit4j's CUDA fp16/bf16 modes: every weight (folded BatchNorms,
                          LayerNorm affine, layer scales, temperatures too) and every stored
                          activation rounded to the storage type after each op (one rounding
                          per kernel output, as libxcit_cuda's kernels do), fp32 inside each
                          op (GEMM accumulation, LayerNorm statistics, XCA Gram/norms/softmax,
                          the fused LPI's intermediate, class-attention softmax)
  cpu bf16                xcit4j's CPU bf16 mode: fp32 storage, the inputs of every Linear
                          rounded to bf16 (to nearest even), fp32 accumulation

The op sequence simulated is xcit4j's (java/.../model: XcaBlock, ClassAttentionBlock,
Session; native/src/cuda: which kernel stores what): see XcitSim below.

Usage (torch + timm from tools/golden/setup.sh):
  python3 tools/precision/measure_tolerances.py            # the table in README.md beside this
  python3 tools/precision/measure_tolerances.py --quick    # nano and the custom configs only
Prints a markdown table (worst over the seeds) and, with --json FILE, every measurement.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_common import build_custom, build_zoo, randomize_, reference_outputs, seeded_input, stable_seed  # noqa: E402
from timm_compat import torch  # noqa: E402  (also sets 2 threads)

import torch.nn.functional as F  # noqa: E402

OUTPUTS = ("logits", "features", "tokens")


# ---- rounding --------------------------------------------------------------------------

def identity(t):
    return t


def to_dtype(dtype):
    return lambda t: t.to(dtype).to(torch.float32)


def tf32(truncate):
    """fp32 -> tf32 (sign, 8-bit exponent, 10-bit mantissa) kept in an fp32 tensor."""
    def rnd(t):
        i = t.contiguous().view(torch.int32)
        if not truncate:  # round half to even on the 13 dropped bits
            i = i + (0xFFF + ((i >> 13) & 1))
        return (i & ~0x1FFF).view(torch.float32)
    return rnd


class Scheme:
    """act: each stored activation; weight: each uploaded weight; gemm: each GEMM input."""

    def __init__(self, act=identity, weight=identity, gemm=identity):
        self.act, self.weight, self.gemm = act, weight, gemm


SCHEMES = {
    "sim fp32": Scheme(),
    "sim tf32": Scheme(gemm=tf32(truncate=False)),
    "sim tf32-trunc": Scheme(gemm=tf32(truncate=True)),
    "sim fp16": Scheme(act=to_dtype(torch.float16), weight=to_dtype(torch.float16)),
    "sim bf16": Scheme(act=to_dtype(torch.bfloat16), weight=to_dtype(torch.bfloat16)),
    "cpu bf16": Scheme(gemm=to_dtype(torch.bfloat16)),
}


# ---- xcit4j's forward, op by op ----------------------------------------------------------

def bn_fold(bn):
    """BatchNorm (eval) as scale and shift, folded in fp32 on the host as xcit4j does at load."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class XcitSim:
    """xcit4j's CUDA forward of a timm Xcit under a rounding scheme. Each method is one
    libxcit_cuda kernel (or cuBLASLt call) and rounds its output once, as the kernel stores it."""

    def __init__(self, model, scheme):
        self.m, self.s = model, scheme

    def w(self, t):
        return None if t is None else self.s.weight(t)

    def linear(self, x, weight, bias):
        """cuBLASLt: 16-bit (or tf32-rounded) operands, fp32 accumulation, bias epilogue, one rounding."""
        y = self.s.gemm(x) @ self.s.gemm(self.w(weight)).t()
        if bias is not None:
            y = y + self.w(bias)
        return self.s.act(y)

    def ln(self, x, norm):
        return self.s.act(F.layer_norm(x, (x.shape[-1],), self.w(norm.weight), self.w(norm.bias), norm.eps))

    def add_scaled(self, x, gamma, y):
        return self.s.act(x + self.w(gamma) * y)

    def gelu(self, x):
        return self.s.act(F.gelu(x))

    def patch_embed(self, image):
        proj = self.m.patch_embed.proj
        stages = [proj[i] for i in range(0, len(proj), 2)]  # Sequential(conv, bn), GELU between
        h = self.s.act(image)  # nchw_to_nhwc stores the fp32 input in the storage type
        for i, stage in enumerate(stages):
            scale, shift = bn_fold(stage[1])
            weight = stage[0].weight * scale[:, None, None, None]
            h = self.s.act(F.conv2d(h, self.w(weight), self.w(shift), stride=2, padding=1))  # own kernel, no tf32
            if i < len(stages) - 1:
                h = self.gelu(h)
        b, c, hp, wp = h.shape
        return h.flatten(2).transpose(1, 2), hp, wp

    def position(self, hp, wp):
        """Fourier features (host, uploaded in the storage type) through the 1x1 projection as a Linear."""
        pe = self.m.pos_embed
        got = {}
        hook = pe.token_projection.register_forward_pre_hook(lambda mod, inp: got.setdefault("f", inp[0]))
        try:
            pe(1, hp, wp)
        finally:
            hook.remove()
        feats = self.s.act(got["f"][0].flatten(1).t())  # (N, 64)
        proj = pe.token_projection
        return self.linear(feats, proj.weight.flatten(1), proj.bias)  # (N, C)

    def xca(self, qkv, temperature, heads):
        """Fused XCA: fp32 Gram, norms and softmax from the stored qkv; the output stored once."""
        b, n, c3 = qkv.shape
        c = c3 // 3
        q, k, v = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 4, 1)  # (B, h, d, N)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.w(temperature)).softmax(dim=-1)
        return self.s.act((attn @ v).permute(0, 3, 1, 2).reshape(b, n, c))

    def lpi(self, u, hp, wp, mp):
        """Fused LPI: dwconv, GELU, BN, dwconv in fp32; the output stored once."""
        b, n, c = u.shape
        h = u.transpose(1, 2).reshape(b, c, hp, wp)
        h = F.gelu(F.conv2d(h, self.w(mp.conv1.weight), self.w(mp.conv1.bias), padding=1, groups=c))
        scale, shift = bn_fold(mp.bn)
        h = h * self.w(scale)[:, None, None] + self.w(shift)[:, None, None]
        h = F.conv2d(h, self.w(mp.conv2.weight), self.w(mp.conv2.bias), padding=1, groups=c)
        return self.s.act(h.reshape(b, c, n).transpose(1, 2))

    def xca_block(self, blk, x, hp, wp):
        u = self.ln(x, blk.norm1)
        qkv = self.linear(u, blk.attn.qkv.weight, blk.attn.qkv.bias)
        a = self.xca(qkv, blk.attn.temperature, blk.attn.num_heads)
        x = self.add_scaled(x, blk.gamma1, self.linear(a, blk.attn.proj.weight, blk.attn.proj.bias))
        u = self.ln(x, blk.norm3)
        x = self.add_scaled(x, blk.gamma3, self.lpi(u, hp, wp, blk.local_mp))
        u = self.ln(x, blk.norm2)
        h = self.gelu(self.linear(u, blk.mlp.fc1.weight, blk.mlp.fc1.bias))
        return self.add_scaled(x, blk.gamma2, self.linear(h, blk.mlp.fc2.weight, blk.mlp.fc2.bias))

    def mlp(self, x, mlp):
        h = self.gelu(self.linear(x, mlp.fc1.weight, mlp.fc1.bias))
        return self.linear(h, mlp.fc2.weight, mlp.fc2.bias)

    def class_attention_block(self, blk, x):
        b, t, c = x.shape
        attn, heads = blk.attn, blk.attn.num_heads
        d = c // heads
        u = self.ln(x, blk.norm1)
        q = self.linear(u[:, 0], attn.q.weight, attn.q.bias).reshape(b, heads, d)
        kv_w = torch.cat([attn.k.weight, attn.v.weight])
        kv_b = None if attn.k.bias is None else torch.cat([attn.k.bias, attn.v.bias])
        kv = self.linear(u, kv_w, kv_b)  # (B, T, 2C)
        k, v = kv[..., :c].reshape(b, t, heads, d), kv[..., c:].reshape(b, t, heads, d)
        p = (torch.einsum("bhd,bthd->bht", q, k) * d ** -0.5).softmax(dim=-1)  # fp32 in the kernel
        o = self.s.act(torch.einsum("bht,bthd->bhd", p, v).reshape(b, c))
        o = self.linear(o, attn.proj.weight, attn.proj.bias)
        u = u.clone()
        u[:, 0] = o  # the patch rows get gamma1 * LN1(x) as in the reference code
        x = self.add_scaled(x, blk.gamma1, u)
        if blk.tokens_norm:
            x = self.ln(x, blk.norm2)
            cls = x[:, 0]
        else:
            cls = self.ln(x[:, 0], blk.norm2)
        cls = self.add_scaled(cls, blk.gamma2, self.mlp(cls, blk.mlp))
        x = x.clone()
        x[:, 0] = cls
        return x

    @torch.no_grad()
    def forward(self, image):
        m = self.m
        x, hp, wp = self.patch_embed(image)
        if m.pos_embed is not None:
            x = self.s.act(x + self.position(hp, wp))
        for blk in m.blocks:
            x = self.xca_block(blk, x, hp, wp)
        tokens = x
        cls = self.w(m.cls_token).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in m.cls_attn_blocks:
            x = self.class_attention_block(blk, x)
        features = self.ln(x[:, 0], m.norm)
        logits = self.linear(features, m.head.weight, m.head.bias)
        return dict(logits=logits, features=features, tokens=tokens)


# ---- measurement -----------------------------------------------------------------------

def rel_err(ref, got):
    """max|got - ref| / max(1, max|ref|): the selftest's and Approx's bound form."""
    ref = torch.as_tensor(ref, dtype=torch.float64)
    got = torch.as_tensor(got, dtype=torch.float64)
    err = (got - ref).abs().max().item()
    return (math.inf if math.isnan(err) else err) / max(1.0, ref.abs().max().item())


@torch.no_grad()
def autocast_outputs(model, x, dtype):
    with torch.autocast("cpu", dtype=dtype):
        return reference_outputs(model, x)


def measure(case, seed, modes):
    arch, size, batch = case["arch"], case["size"], case["batch"]
    model = build_custom(**case["custom"]) if "custom" in case else build_zoo(arch)
    randomize_(model, stable_seed(seed, arch))
    x = seeded_input((batch, 3, size[0], size[1]), stable_seed(seed, "input%dx%d" % size))
    ref = reference_outputs(model, x)
    row = {"case": case["name"], "seed": seed,
           "max_ref": {o: float(abs(ref[o]).max()) for o in OUTPUTS}}
    for mode in modes:
        t0 = time.time()
        if mode.startswith("timm "):
            got = autocast_outputs(model, x, {"timm bf16": torch.bfloat16, "timm fp16": torch.float16}[mode])
        else:
            got = XcitSim(model, SCHEMES[mode]).forward(x)
        row[mode] = {o: rel_err(ref[o], got[o]) for o in OUTPUTS}
        row[mode]["seconds"] = round(time.time() - t0, 2)
    return row


def cases(quick):
    out = []
    # The small configurations of the device tests (CudaBackendTest: depth 2, 2 heads, 10 classes, batch 2).
    for patch, c, h, w in ((16, 64, 64, 64), (8, 96, 40, 40)):
        out.append(dict(name="custom p%d C%d d2 %dx%d b2" % (patch, c, h, w), arch="custom", size=(h, w), batch=2,
                        custom=dict(patch_size=patch, embed_dim=c, depth=2, num_heads=2, num_classes=10, tokens_norm=True)))
    zoo = [("xcit_nano_12_p16", 224), ("xcit_nano_12_p16", 384)]
    if not quick:
        zoo += [("xcit_small_12_p16", 224), ("xcit_small_12_p16", 384), ("xcit_small_12_p8", 224),
                ("xcit_small_12_p8", 384), ("xcit_tiny_24_p16", 224), ("xcit_medium_24_p16", 224),
                ("xcit_large_24_p16", 224)]
    for arch, s in zoo:
        out.append(dict(name="%s %d" % (arch, s), arch=arch, size=(s, s), batch=1))
    return out


def table(rows, modes):
    """Markdown: per case and output, the worst relative error over the seeds."""
    lines = ["| case | output | max\\|ref\\| | " + " | ".join(modes) + " |",
             "|---|---|---:|" + "---:|" * len(modes)]
    names = list(dict.fromkeys(r["case"] for r in rows))
    for name in names:
        rs = [r for r in rows if r["case"] == name]
        for o in OUTPUTS:
            ref = max(r["max_ref"][o] for r in rs)
            cells = ["%.1e" % max(r[m][o] for r in rs) for m in modes]
            lines.append("| %s | %s | %.3g | %s |" % (name, o, ref, " | ".join(cells)))
    lines.append("| **worst** | | | " + " | ".join(
        "**%.1e**" % max(r[m][o] for r in rows for o in OUTPUTS) for m in modes) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="nano and the custom configurations only")
    ap.add_argument("--seeds", type=int, default=3, help="random models per case (default 3)")
    ap.add_argument("--modes", default=",".join(["timm bf16", "timm fp16"] + list(SCHEMES)),
                    help="comma-separated subset of: timm bf16, timm fp16, " + ", ".join(SCHEMES))
    ap.add_argument("--json", help="also write every measurement to this file")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    rows = []
    for case in cases(args.quick):
        for seed in range(args.seeds):
            t0 = time.time()
            rows.append(measure(case, seed, modes))
            print("%-32s seed %d  %5.1f s  %s" % (case["name"], seed, time.time() - t0, "  ".join(
                "%s %.1e" % (m, max(rows[-1][m][o] for o in OUTPUTS)) for m in modes)), file=sys.stderr, flush=True)
    print("torch %s, %d threads, %d seed(s); max|err| / max(1, max|ref|) against timm fp32 (CPU), worst over seeds\n"
          % (torch.__version__, torch.get_num_threads(), args.seeds))
    print(table(rows, modes))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
