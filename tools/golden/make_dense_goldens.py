#!/usr/bin/env python3
"""Golden data for xcit4j's dense outputs (spec section 6) and class-attention maps.

Dense cases: timm's Xcit modules (patch embedding, Fourier positions, XCA blocks) plus the
FPN ops exactly as facebookresearch/xcit defines them in semantic_segmentation/backbone/
xcit.py and detection/backbone/xcit.py (identical there):
  p16: fpn1 = ConvT(2,2) -> SyncBN -> GELU -> ConvT(2,2); fpn2 = ConvT(2,2);
       fpn3 = identity; fpn4 = MaxPool(2)
  p8:  fpn1 = ConvT(2,2); fpn2 = identity; fpn3 = MaxPool(2); fpn4 = MaxPool(4)
applied to the RAW outputs of blocks out_indices (no norm), returned as (B, C, h, w).
Every weight is random and seeded, FPN BatchNorm statistics included. Each case is saved
as an mmseg/mmdet-style checkpoint {'state_dict': {'backbone.<original key>': ...,
'neck.*': ..., 'decode_head.*': ...}, 'meta': {...}} with expected.npz (stride4, stride8,
stride16, stride32) and input.npy. The p8 case's meta imitates mmengine (numpy scalars
and an mmengine object inside 'message_hub'), plus an 'optimizer' entry.

Class-attention maps: for the classification goldens in testdata/golden (read, not
rewritten), the softmax weights of the LAST class-attention block, cls query to every
patch (the cls->cls entry dropped), per head: (B, heads, Hp, Wp), recomputed from the
block's LN1 output captured with a forward hook.

    python3 tools/golden/make_dense_goldens.py        # writes testdata/dense/
"""
import argparse
import json
import os
import shutil
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import torch, timm  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIZE_LIMIT = 3 * 1024 * 1024

# name: hparams, input shape, out_indices (None: the default rule below), meta style
CASES = OrderedDict([
    ("dense_p16", dict(patch_size=16, embed_dim=32, depth=12, num_heads=4, input_shape=[2, 3, 100, 60],
                       out_indices=[3, 5, 7, 11], meta="mmcv")),
    ("dense_p8", dict(patch_size=8, embed_dim=32, depth=5, num_heads=2, input_shape=[1, 3, 70, 42],
                      out_indices=[1, 2, 3, 4], meta="mmengine")),
])
CLS_ATTN_CASES = ["tiny_p16", "tiny_p16_nontn_nonsquare", "tiny_p8_odd"]


def default_out_indices(depth):
    """xcit4j's rule for any depth: ceil(depth * f) - 1 for f = 1/3, 1/2, 2/3, 1, which gives
    the published [3, 5, 7, 11] (depth 12) and [7, 11, 15, 23] (depth 24)."""
    return [max(0, -(-depth * k // 6) - 1) for k in (2, 3, 4, 6)]


assert default_out_indices(12) == [3, 5, 7, 11] and default_out_indices(24) == [7, 11, 15, 23]
for _name, _c in CASES.items():
    assert default_out_indices(_c["depth"]) == _c["out_indices"], _name


class DenseXcit(nn.Module):
    """The original detection/segmentation backbone, built from timm's modules."""

    def __init__(self, trunk, patch_size, out_indices):
        super().__init__()
        c = trunk.embed_dim
        self.patch_embed, self.pos_embed, self.blocks = trunk.patch_embed, trunk.pos_embed, trunk.blocks
        self.out_indices = out_indices
        if patch_size == 16:
            self.fpn1 = nn.Sequential(nn.ConvTranspose2d(c, c, kernel_size=2, stride=2), nn.SyncBatchNorm(c),
                                      nn.GELU(), nn.ConvTranspose2d(c, c, kernel_size=2, stride=2))
            self.fpn2 = nn.Sequential(nn.ConvTranspose2d(c, c, kernel_size=2, stride=2))
            self.fpn3 = nn.Identity()
            self.fpn4 = nn.MaxPool2d(kernel_size=2, stride=2)
        else:
            self.fpn1 = nn.Sequential(nn.ConvTranspose2d(c, c, kernel_size=2, stride=2))
            self.fpn2 = nn.Identity()
            self.fpn3 = nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=2))
            self.fpn4 = nn.Sequential(nn.MaxPool2d(kernel_size=4, stride=4))

    def forward(self, x):
        b = x.shape[0]
        x, (hp, wp) = self.patch_embed(x)
        x = x + self.pos_embed(b, hp, wp).reshape(b, -1, x.shape[1]).permute(0, 2, 1)
        features = []
        for i, blk in enumerate(self.blocks):
            x = blk(x, hp, wp)
            if i in self.out_indices:
                features.append(x.permute(0, 2, 1).reshape(b, -1, hp, wp))
        ops = [self.fpn1, self.fpn2, self.fpn3, self.fpn4]
        return tuple(ops[i](f) for i, f in enumerate(features))


@torch.no_grad()
def randomize_fpn_(model, seed):
    g = torch.Generator().manual_seed(int(seed))

    def normal(t, mean, std):
        t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64) * std + mean)

    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            normal(m.weight, 0.0, 1.0 / np.sqrt(m.weight.shape[0]))  # each output sees Cin taps
            normal(m.bias, 0.0, 0.1)
        elif isinstance(m, nn.SyncBatchNorm):
            normal(m.weight, 1.0, 0.1)
            normal(m.bias, 0.0, 0.1)
            normal(m.running_mean, 0.0, 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g, dtype=torch.float64) + 0.5)
            m.num_batches_tracked.fill_(1234)


def backbone_state_dict(model):
    """Original naming (pos_embeder.) under 'backbone.', as mmseg/mmdet save it."""
    out = OrderedDict()
    for k, v in model.state_dict().items():
        if k.startswith("pos_embed."):
            k = "pos_embeder." + k[len("pos_embed."):]
        out["backbone." + k] = v.detach().clone().contiguous()
    return out


def head_tensors(c, seed, auxiliary):
    """Small stand-ins for the Semantic FPN neck and heads: loaders must ignore them."""
    g = torch.Generator().manual_seed(int(seed))
    r = lambda *s: torch.randn(s, generator=g)  # noqa: E731
    out = OrderedDict()
    for i in range(4):
        out["neck.lateral_convs.%d.conv.weight" % i] = r(8, c, 1, 1)
        out["neck.lateral_convs.%d.conv.bias" % i] = r(8)
        out["neck.fpn_convs.%d.conv.weight" % i] = r(8, 8, 3, 3)
        out["neck.fpn_convs.%d.conv.bias" % i] = r(8)
    out["decode_head.scale_heads.0.0.conv.weight"] = r(4, 8, 3, 3)
    for leaf in ("weight", "bias", "running_mean", "running_var"):
        out["decode_head.scale_heads.0.0.bn." + leaf] = r(4)
    out["decode_head.scale_heads.0.0.bn.num_batches_tracked"] = torch.tensor(80000)
    out["decode_head.conv_seg.weight"] = r(5, 4, 1, 1)
    out["decode_head.conv_seg.bias"] = r(5)
    if auxiliary:
        out["auxiliary_head.conv_seg.weight"] = r(5, 4, 1, 1)
        out["auxiliary_head.conv_seg.bias"] = r(5)
    return out


def mmcv_meta():
    """What mmcv 1.x / mmseg 0.x write: plain strings, ints, tuples, lists, dicts."""
    return {"mmseg_version": "0.11.0+abc1234", "config": "model = dict(type='EncoderDecoder')\n",
            "CLASSES": ("wall", "building", "sky", "floor", "tree"),
            "PALETTE": [[120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3]],
            "env_info": "sys.platform: linux", "seed": 0, "exp_name": "sem_fpn_xcit.py",
            "mmcv_version": "1.3.0", "time": "Mon Jun 14 12:00:00 2021", "epoch": 0, "iter": 80000,
            "hook_msgs": {"last_ckpt": "/work/iter_80000.pth"}}


class HistoryBuffer:
    """Stands in for mmengine.logging.history_buffer.HistoryBuffer (numpy inside)."""

    def __init__(self):
        self._log_history = np.array([0.5, 0.25])
        self._count_history = np.array([1, 1])
        self.max_length = 1000000


def install_fake_mmengine():
    """Registers a module named like mmengine's so pickle records that global."""
    mod = types.ModuleType("mmengine.logging.history_buffer")
    HistoryBuffer.__module__ = mod.__name__
    mod.HistoryBuffer = HistoryBuffer
    for name in ("mmengine", "mmengine.logging"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[mod.__name__] = mod


def mmengine_meta():
    """mmengine (mmseg 1.x / mmdet 3.x) style: numpy scalars and an mmengine object."""
    install_fake_mmengine()
    return {"mmengine_version": "0.10.4", "cfg": "model = dict(type='EncoderDecoder')\n", "seed": np.int64(42),
            "dataset_meta": {"classes": ("wall", "sky"), "palette": [[120, 120, 120], [6, 230, 230]]},
            "experiment_name": "xcit_p8", "time": "20240101_000000", "epoch": 3, "iter": np.int64(4000),
            "message_hub": {"log_scalars": {"train/loss": HistoryBuffer()},
                            "runtime_info": {"best_score": np.float64(0.4375)}}}


def optimizer_entry(c, seed):
    g = torch.Generator().manual_seed(int(seed))
    return {"state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.randn(c, generator=g)}},
            "param_groups": [{"lr": 6e-5, "betas": (0.9, 0.999), "weight_decay": 0.01, "params": [0]}]}


def make_case(name, case, out_root, base_seed):
    seed = gc.stable_seed(base_seed, name)
    d = out_root / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    p, c = case["patch_size"], case["embed_dim"]
    trunk = gc.build_custom(p, c, case["depth"], case["num_heads"], 0, True)
    gc.randomize_(trunk, seed)
    model = DenseXcit(trunk, p, case["out_indices"]).eval()
    randomize_fpn_(model, seed + 7)
    x = gc.seeded_input(case["input_shape"], seed + 1)
    with torch.no_grad():
        outs = [o.detach().float().numpy().copy() for o in model(x)]
    hp, wp = gc.ceil_grid(p, *case["input_shape"][2:])
    b = case["input_shape"][0]
    scale = {16: (4, 2, 1, 0.5), 8: (2, 1, 0.5, 0.25)}[p]
    for o, s in zip(outs, scale):  # MaxPool floors odd sides
        assert o.shape == (b, c, int(hp * s), int(wp * s)), (name, o.shape, hp, wp, s)
        assert np.all(np.isfinite(o))

    sd = backbone_state_dict(model)
    sd.update(head_tensors(c, seed + 11, auxiliary=case["meta"] == "mmengine"))
    ckpt = {"meta": mmcv_meta() if case["meta"] == "mmcv" else mmengine_meta(), "state_dict": sd}
    if case["meta"] == "mmengine":
        ckpt["optimizer"] = optimizer_entry(c, seed + 13)
    torch.save(ckpt, str(d / "model.pth"))
    np.save(d / "input.npy", x.numpy().astype(np.float32))
    expected = {"stride%d" % s: o.astype(np.float32) for s, o in zip((4, 8, 16, 32), outs)}
    np.savez(d / "expected.npz", **expected)

    # Round trip: the saved checkpoint, stripped of 'backbone.', reproduces the outputs exactly.
    loaded = torch.load(str(d / "model.pth"), map_location="cpu", weights_only=False)["state_dict"]
    back = OrderedDict((k[len("backbone."):].replace("pos_embeder.", "pos_embed."), v)
                       for k, v in loaded.items() if k.startswith("backbone."))
    fresh = DenseXcit(gc.build_custom(p, c, case["depth"], case["num_heads"], 0, True), p, case["out_indices"])
    missing, unexpected = fresh.load_state_dict(back, strict=False)
    # timm's trunk owns cls_token, class attention, norm and head; the dense backbone does not.
    assert not missing or all(k.startswith(("cls_token", "cls_attn_blocks.", "norm.", "head.")) for k in missing), missing
    assert not unexpected, unexpected
    with torch.no_grad():
        again = [o.numpy() for o in fresh.eval()(x)]
    assert all(np.array_equal(a, o) for a, o in zip(again, outs)), name

    config = OrderedDict(patch_size=p, embed_dim=c, depth=case["depth"], num_heads=case["num_heads"],
                         input_shape=case["input_shape"], grid=[hp, wp], out_indices=case["out_indices"],
                         meta=case["meta"], seed=seed,
                         generator="tools/golden/make_dense_goldens.py (timm %s, torch %s)"
                         % (timm.__version__, torch.__version__))
    (d / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print("%-10s grid=%dx%d %s" % (name, hp, wp, " ".join("%s%s max|.|=%.3g" % (k, v.shape, gc.max_abs(v))
                                                          for k, v in expected.items())))


@torch.no_grad()
def cls_attention_maps(case):
    """(B, heads, Hp, Wp) from the last class-attention block of a classification golden."""
    src = REPO / "testdata" / "golden" / case
    cfg = json.loads((src / "config.json").read_text())
    model = gc.load_safetensors_into(
        lambda: gc.build_custom(cfg["patch_size"], cfg["embed_dim"], cfg["depth"], cfg["num_heads"],
                                cfg["num_classes"], cfg["tokens_norm"]), src / "model.safetensors")
    x = torch.from_numpy(np.load(src / "input.npy"))
    attn = model.cls_attn_blocks[-1].attn
    seen = {}
    hook = attn.register_forward_hook(lambda m, i, o: seen.__setitem__("u", i[0]))
    try:
        logits = model(x).numpy()
    finally:
        hook.remove()
    assert np.allclose(logits, np.load(src / "logits.npy"), atol=0, rtol=0), "golden %s is stale" % case
    u = seen["u"]  # LN1 output (B, N + 1, C)
    b, t, c = u.shape
    h = attn.num_heads
    q = attn.q(u[:, 0]).reshape(b, h, 1, c // h) * attn.scale
    k = attn.k(u).reshape(b, t, h, c // h).permute(0, 2, 1, 3)
    weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)[:, :, 0, :]  # (B, heads, N + 1)
    # The recomputation must reproduce the block's own cls output.
    v = attn.v(u).reshape(b, t, h, c // h).permute(0, 2, 1, 3)
    mine = attn.proj((weights.unsqueeze(2) @ v).transpose(1, 2).reshape(b, 1, c))
    assert torch.allclose(mine, attn(u), atol=1e-6), case
    hp, wp = cfg["grid"]
    return weights[:, :, 1:].reshape(b, h, hp, wp).numpy().astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "testdata" / "dense"))
    ap.add_argument("--seed", type=int, default=20261125)
    args = ap.parse_args()
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    for name, case in CASES.items():
        make_case(name, case, out_root, args.seed)
    cls_dir = out_root / "cls_attn"
    cls_dir.mkdir(exist_ok=True)
    for case in CLS_ATTN_CASES:
        maps = cls_attention_maps(case)
        np.save(cls_dir / ("%s.npy" % case), maps)
        print("cls_attn/%s %s sum over patches per head: %.3f..%.3f" % (case, maps.shape,
              maps.sum(axis=(2, 3)).min(), maps.sum(axis=(2, 3)).max()))
    total = sum(f.stat().st_size for f in out_root.rglob("*") if f.is_file())
    print("total %.1f KiB" % (total / 1024.0))
    if total > SIZE_LIMIT:
        print("ERROR: dense goldens exceed %d MiB" % (SIZE_LIMIT >> 20))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
