#!/usr/bin/env python3
"""Write the bundled ImageNet-1k class names (java/src/main/resources/org/xcit4j/labels/imagenet1k.txt).

One line per class index 0..999: the WordNet lemmas of the class's synset, as timm's
ImageNetInfo gives them (timm/data/_info/imagenet_synsets.txt in index order, names from
imagenet_synset_to_lemma.txt), e.g. "tench, Tinca tinca".
"""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "golden"))
from timm_compat import timm  # noqa: E402  (the torchvision workaround comes first)
import timm.data  # noqa: E402
info = Path(timm.data.__file__).parent / "_info"
lemma = dict(line.rstrip("\n").split("\t", 1) for line in open(info / "imagenet_synset_to_lemma.txt", encoding="utf-8"))
synsets = [s.strip() for s in open(info / "imagenet_synsets.txt", encoding="utf-8") if s.strip()]
assert len(synsets) == 1000, len(synsets)
out = REPO / "java/src/main/resources/org/xcit4j/labels/imagenet1k.txt"
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("".join(lemma[s] + "\n" for s in synsets), encoding="utf-8")
print(f"wrote {out}")
