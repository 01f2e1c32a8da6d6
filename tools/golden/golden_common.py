"""Shared helpers for the golden-data tools: seeded random XCiT weights, timm and
original-format (facebookresearch) checkpoints, and reference outputs from timm.

Nothing here is used at run time by xcit4j; it only produces test data.
"""
import math
import zlib
from collections import OrderedDict

import numpy as np
import torch.nn as nn

from timm_compat import torch, timm  # must come before any other timm import
from timm.models.xcit import Xcit, checkpoint_filter_fn

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
ZOO = {  # timm zoo: arch -> (patch, C, depth, heads, tokens_norm), see spec section 7
    "xcit_nano_12_p16": (16, 128, 12, 4, False),
    "xcit_tiny_12_p16": (16, 192, 12, 4, True),
    "xcit_tiny_24_p16": (16, 192, 24, 4, True),
    "xcit_small_12_p16": (16, 384, 12, 8, True),
    "xcit_small_24_p16": (16, 384, 24, 8, True),
    "xcit_medium_24_p16": (16, 512, 24, 8, True),
    "xcit_large_24_p16": (16, 768, 24, 16, True),
    "xcit_nano_12_p8": (8, 128, 12, 4, False),
    "xcit_tiny_12_p8": (8, 192, 12, 4, True),
    "xcit_tiny_24_p8": (8, 192, 24, 4, True),
    "xcit_small_12_p8": (8, 384, 12, 8, True),
    "xcit_small_24_p8": (8, 384, 24, 8, True),
    "xcit_medium_24_p8": (8, 512, 24, 8, True),
    "xcit_large_24_p8": (8, 768, 24, 16, True),
}


def stable_seed(base, name):
    """A per-name seed that does not depend on Python's hash randomisation."""
    return (int(base) * 1000003 + zlib.crc32(name.encode("utf-8"))) % (2 ** 31)


def timm_model_name(arch):
    return arch if arch.endswith(("_224", "_384")) else arch + "_224"


def build_zoo(arch, num_classes=1000):
    model = timm.create_model(timm_model_name(arch), pretrained=False, num_classes=num_classes)
    return model.eval()


def build_custom(patch_size, embed_dim, depth, num_heads, num_classes, tokens_norm):
    # img_size only feeds an assertion and the unused num_patches attribute in timm;
    # any input size works at forward time.
    model = Xcit(img_size=224, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                 num_heads=num_heads, num_classes=num_classes, tokens_norm=tokens_norm)
    return model.eval()


def model_hparams(model):
    """(patch, C, depth, heads, classes, tokens_norm) read back from a timm Xcit."""
    return dict(
        patch_size=int(model.patch_embed.patch_size),
        embed_dim=int(model.embed_dim),
        depth=len(model.blocks),
        num_heads=int(model.blocks[0].attn.num_heads),
        num_classes=int(model.num_classes),
        tokens_norm=bool(model.cls_attn_blocks[0].tokens_norm),
    )


@torch.no_grad()
def randomize_(model, seed):
    """Set EVERY parameter and buffer of an Xcit to non-trivial seeded values.

    timm's own init leaves biases at 0, LayerNorm/BatchNorm at identity and gammas at
    eta, which would hide bugs; these values exercise every term instead."""
    g = torch.Generator().manual_seed(int(seed))

    def normal(t, mean=0.0, std=1.0):
        t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64) * std + mean)

    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)

    done = set()
    for mname, m in model.named_modules():
        pre = mname + "." if mname else ""
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()  # in/groups * kh * kw for conv
            normal(m.weight, 0.0, 1.0 / math.sqrt(fan_in))
            done.add(pre + "weight")
            if m.bias is not None:
                normal(m.bias, 0.0, 0.1)
                done.add(pre + "bias")
        elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
            normal(m.weight, 1.0, 0.1)
            normal(m.bias, 0.0, 0.1)
            done.update([pre + "weight", pre + "bias"])
            if isinstance(m, nn.BatchNorm2d):
                normal(m.running_mean, 0.0, 0.1)
                uniform(m.running_var, 0.5, 1.5)
                m.num_batches_tracked.fill_(int(torch.randint(1, 100000, (1,), generator=g)))
                done.update([pre + "running_mean", pre + "running_var", pre + "num_batches_tracked"])
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("gamma1", "gamma2", "gamma3"):
            uniform(p, 0.5, 1.5)
        elif leaf == "temperature":
            uniform(p, 0.5, 2.0)
        elif name == "cls_token":
            normal(p, 0.0, 0.5)
        else:
            continue
        done.add(name)
    every = set(model.state_dict().keys())
    missed = sorted(every - done)
    if missed:
        raise RuntimeError("randomize_ left tensors at timm's init: %s" % missed)
    return model


@torch.no_grad()
def round_weights_(model, dtype_name):
    """Round every floating parameter/buffer to dtype and back to float32 in place."""
    dt = DTYPES[dtype_name]
    if dt is torch.float32:
        return model
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            t.copy_(t.to(dt).to(torch.float32))
    return model


def timm_state_dict(model, dtype_name="F32"):
    """The model's state_dict as timm has it (incl. int64 num_batches_tracked), floats cast."""
    dt = DTYPES[dtype_name]
    out = OrderedDict()
    for k, v in model.state_dict().items():
        v = v.detach().clone()
        if v.is_floating_point():
            v = v.to(dt)
        out[k] = v.contiguous()
    return out


def original_state_dict(model):
    """ORIGINAL facebookresearch naming: pos_embed. -> pos_embeder., and each
    class-attention block's attn.q/k/v merged into one attn.qkv ([3C, C] / [3C],
    rows q, then k, then v). Float32; order follows timm's with qkv at q's place."""
    sd = model.state_dict()
    out = OrderedDict()
    for k, v in sd.items():
        v = v.detach().clone().contiguous()
        if k.startswith("pos_embed."):
            out["pos_embeder." + k[len("pos_embed."):]] = v
            continue
        if k.startswith("cls_attn_blocks.") and ".attn." in k:
            base, leaf = k.rsplit(".", 1)  # cls_attn_blocks.j.attn.q , weight|bias
            head, which = base.rsplit(".", 1)
            if which in ("q", "k", "v"):
                if which == "q":
                    out["%s.qkv.%s" % (head, leaf)] = torch.cat(
                        [sd["%s.%s.%s" % (head, s, leaf)] for s in "qkv"], dim=0).clone().contiguous()
                continue
        out[k] = v
    return out


def wrap_original(sd, wrap):
    if wrap == "model":
        return {"model": sd, "epoch": 3}
    if wrap == "state_dict":
        return {"state_dict": sd}
    if wrap == "bare":
        return sd
    raise ValueError("unknown pth wrapping %r" % wrap)


def save_pth(path, sd, wrap):
    torch.save(wrap_original(sd, wrap), str(path))  # zip format (the default)


def save_safetensors(path, sd):
    from safetensors.torch import save_file
    save_file(dict(sd), str(path))


def load_original_into(model_factory, path):
    """Load an original-format .pth the way timm does (checkpoint_filter_fn) into a
    fresh model: a round-trip check of the .pth we wrote."""
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and not torch.is_tensor(obj["state_dict"]):
        obj = obj["state_dict"]
    model = model_factory()
    sd = checkpoint_filter_fn(OrderedDict(obj), model)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def load_safetensors_into(model_factory, path):
    from safetensors.torch import load_file
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
    model = model_factory()
    model.load_state_dict(sd, strict=True)
    return model.eval()


def seeded_input(shape, seed):
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(tuple(shape), generator=g, dtype=torch.float32)


def ceil_grid(patch_size, h, w):
    """Spec section 1: each stride-2 stage maps a side s to ceil(s/2)."""
    stages = {16: 4, 8: 3}[patch_size]
    for _ in range(stages):
        h, w = (h + 1) // 2, (w + 1) // 2
    return h, w


@torch.no_grad()
def reference_outputs(model, x):
    """logits (B,classes), features (B,C) = pre-logits, tokens (B,N,C) = output of the
    last XCA block (before the cls token and class attention). float32, eval mode."""
    model.eval()
    captured = {}
    hook = model.blocks[-1].register_forward_hook(lambda m, i, o: captured.__setitem__("t", o))
    try:
        feats_all = model.forward_features(x)
    finally:
        hook.remove()
    features = model.forward_head(feats_all, pre_logits=True)
    logits = model.forward_head(feats_all)
    return OrderedDict(
        logits=logits.detach().float().numpy().copy(),
        features=features.detach().float().numpy().copy(),
        tokens=captured["t"].detach().float().numpy().copy(),
    )


def max_abs(a):
    return float(np.max(np.abs(a))) if a.size else 0.0
