#!/usr/bin/env python3
"""Generate the committed image-preprocessing goldens for xcit4j (testdata/images/).

Makes small synthetic images in every format and colour mode the image package reads
(PNG RGB/RGBA/L/LA/P/1/16-bit, JPEG YCbCr/gray/CMYK and with every EXIF orientation,
BMP 24-bit and palette, GIF, WebP) and writes, for each, what timm's eval transform makes
of it: PIL open -> ImageOps.exif_transpose -> convert('RGB') -> timm's
create_transform(crop_pct=1.0, bicubic, ImageNet mean/std), i.e. torchvision Resize(short
side) with PIL's antialiased bicubic, CenterCrop, ToTensor, Normalize. The tensor goes to
<name>.npy as float32 (1, 3, S, S); manifest.json lists file, size S and notes.

Also writes broken files for the error tests (truncated JPEG, text named .png, a PNG whose
header claims 20000 x 20000 pixels: a decompression bomb that must be refused before any
pixel is decoded).

timm's own dataset loader does not apply EXIF orientation (it calls convert('RGB') on the
opened image); xcit4j does, as a camera's viewer would, so the goldens do too.

    python3 tools/golden/make_image_goldens.py          # writes testdata/images/
"""
import io
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timm_compat import torch, timm  # noqa: E402,F401  (must precede torchvision users)
from timm.data import create_transform  # noqa: E402
from PIL import Image, ImageFilter, ImageOps  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "testdata" / "images"
SIZE_LIMIT = 2 * 1024 * 1024
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def transform(size):
    return create_transform(input_size=(3, size, size), interpolation="bicubic", crop_pct=1.0,
                            crop_mode="center", mean=MEAN, std=STD, is_training=False)


def scene(w, h, seed):
    """A smooth colour scene plus edges and noise: exercises both filter lobes and clipping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 127.5 * np.sin(x / max(w, 1) * 6.3 + seed)
    g = 255.0 * (y / max(h - 1, 1))
    b = np.where(((x // 7) + (y // 5)) % 2 == 0, 250.0, 5.0)  # hard edges -> overshoot, clip
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def png_bytes(width, height, bit_depth, color_type, raw_rows):
    """A PNG written by hand, for layouts PIL cannot save (16-bit RGB) or must not (bombs)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = b"".join(b"\x00" + row for row in raw_rows)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(body, 9))
            + png_chunk(b"IEND", b""))


def exif_with_orientation(o):
    exif = Image.Exif()
    exif[0x0112] = o
    return exif.tobytes()


def non_srgb_icc():
    """PIL's sRGB profile with the red primary moved: a profile a colour-managing decoder would
    apply, and PIL (so timm) ignores."""
    from PIL import ImageCms
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", icc[128:132])[0]
    for i in range(count):
        sig, off, _ = struct.unpack(">4sII", icc[132 + 12 * i:144 + 12 * i])
        if sig == b"rXYZ":
            x = struct.unpack(">i", icc[off + 8:off + 12])[0]
            icc[off + 8:off + 12] = struct.pack(">i", int(x * 0.8))
    icc[84:100] = bytes(16)  # profile ID (MD5) no longer matches: clear it, as the spec allows
    return bytes(icc)


def make_images():
    """name -> (bytes of the file, target size, note)."""
    out = {}

    def save(name, im, size, note, **kw):
        buf = io.BytesIO()
        im.save(buf, format=kw.pop("format", None) or name.rsplit(".", 1)[1].upper().replace("JPG", "JPEG"), **kw)
        out[name] = (buf.getvalue(), size, note)

    rgb = Image.fromarray(scene(97, 64, 1))
    save("rgb.png", rgb, 48, "RGB, landscape: downscale by 1.33, crop left 12")
    save("rgb_portrait.png", Image.fromarray(scene(45, 131, 2)), 40, "RGB, portrait: resize to 40x116, crop top 38")
    save("no_resize_crop.png", Image.fromarray(scene(40, 45, 16)), 40,
         "RGB already 40 wide: no resize, crop top round(2.5) = 2 (Python rounds half to even)")
    save("rgb_odd_crop.png", Image.fromarray(scene(33, 36, 3)), 32, "RGB: resize 33x36 -> 32x34, crop top 1")
    save("rgb_big_down.png", Image.fromarray(scene(203, 150, 4)), 24, "RGB, downscale by 6.25: wide antialias support")
    save("tall.png", Image.fromarray(scene(4, 500, 17)), 3,
         "RGB taller than 100x its width: PIL resizes vertically first (Image.resize special case)")
    save("small_up.png", Image.fromarray(scene(20, 13, 5)), 48, "RGB smaller than the target: upsampling")
    rgba = np.concatenate([scene(50, 70, 6), np.random.default_rng(6).integers(0, 256, (70, 50, 1), dtype=np.uint8)], -1)
    save("rgba.png", Image.fromarray(rgba, "RGBA"), 32, "RGBA: PIL convert('RGB') drops alpha, no compositing")
    gray = Image.fromarray(scene(61, 61, 7)[..., 0])
    save("gray.png", gray, 32, "L: replicated to R=G=B")
    la = Image.merge("LA", [gray, Image.fromarray(scene(61, 61, 8)[..., 1])])
    save("gray_alpha.png", la, 32, "LA: alpha dropped")
    pal = rgb.quantize(colors=37, method=Image.Quantize.MEDIANCUT)
    save("palette.png", pal, 48, "P (37 colours): palette lookup")
    pal_t = pal.copy()
    pal_t.info["transparency"] = 3
    save("palette_trns.png", pal_t, 48, "P with a transparent index: transparency ignored by convert('RGB')")
    save("bilevel.png", gray.convert("1"), 32, "1-bit: 0 -> 0, 1 -> 255 (dithered by PIL when made)")
    g16 = (np.arange(40 * 45).reshape(45, 40) * 7 % 1200).astype(np.uint16)
    save("gray16.png", Image.fromarray(g16), 32, "16-bit gray (PIL I;16): convert('RGB') CLIPS to 255, as PIL does")
    rgb16 = scene(30, 34, 9).astype(np.uint16) * 257 + np.random.default_rng(9).integers(0, 257, (34, 30, 3)).astype(np.uint16)
    rows = [rgb16[i].astype(">u2").tobytes() for i in range(rgb16.shape[0])]
    out["rgb16.png"] = (png_bytes(30, 34, 16, 2, rows), 32, "16-bit RGB (hand-written PNG): PIL keeps the high byte")
    photo = Image.fromarray(scene(120, 90, 10)).filter(ImageFilter.SMOOTH)
    save("photo.jpg", photo, 64, "JPEG YCbCr 4:2:0, quality 90", quality=90)
    save("photo444.jpg", photo, 64, "JPEG YCbCr 4:4:4, quality 95", quality=95, subsampling=0)
    save("photo_icc.jpg", photo, 64, "JPEG with a non-sRGB ICC profile: ignored, as PIL ignores it",
         quality=90, icc_profile=non_srgb_icc())
    save("photo_icc.png", photo, 48, "PNG with a non-sRGB iCCP profile: ignored, as PIL ignores it",
         icc_profile=non_srgb_icc())
    save("gray.jpg", gray, 32, "JPEG grayscale", quality=90)
    save("cmyk.jpg", Image.fromarray(scene(64, 48, 11)).convert("CMYK"), 32,
         "JPEG CMYK written by PIL (Adobe, inverted): PIL's naive CMYK -> RGB, no ICC", quality=95)
    small = Image.fromarray(scene(24, 16, 12))
    for o in range(1, 9):
        save(f"exif_orientation_{o}.jpg", small, 16, f"JPEG with EXIF orientation {o}: exif_transpose applied",
             quality=95, exif=exif_with_orientation(o))
    save("rgb.bmp", Image.fromarray(scene(37, 29, 13)), 24, "BMP 24-bit, bottom-up")
    save("palette.bmp", pal, 48, "BMP 8-bit palette")
    frames = [pal, Image.fromarray(scene(97, 64, 14)).quantize(colors=16)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["anim.gif"] = (buf.getvalue(), 48, "GIF, 2 frames: the first is used")
    save("lossless.webp", Image.fromarray(scene(50, 40, 15)), 32, "WebP lossless", lossless=True)
    save("lossy.webp", photo, 32, "WebP lossy (VP8): libwebp upsamples chroma (fancy), TwelveMonkeys does not", quality=90)
    return out


def make_broken():
    """name -> bytes: files that must give one clear error each."""
    rgb = io.BytesIO()
    Image.fromarray(scene(64, 64, 20)).save(rgb, format="JPEG", quality=90)
    # The header says 20000 x 20000 (4e8 pixels > PIL's 89,478,485); the data is one row.
    bomb = png_bytes(20000, 20000, 8, 0, [b"\x00" * 20000])
    return {
        "broken/truncated.jpg": rgb.getvalue()[: len(rgb.getvalue()) // 3],
        "broken/not_an_image.png": b"this is a text file, not a PNG\n",
        "broken/empty.jpg": b"",
        "broken/bomb.png": bomb,
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "broken").mkdir(exist_ok=True)
    manifest = []
    for name, (data, size, note) in make_images().items():
        path = OUT / name
        path.write_bytes(data)
        im = Image.open(path)
        im.seek(0)
        rgb = ImageOps.exif_transpose(im).convert("RGB")
        x = transform(size)(rgb).unsqueeze(0).numpy().astype(np.float32)
        assert x.shape == (1, 3, size, size), (name, x.shape)
        stem = name.replace(".", "_")
        np.save(OUT / f"{stem}.npy", x)
        manifest.append(dict(file=name, size=size, npy=f"{stem}.npy", mode=im.mode,
                             width=rgb.width, height=rgb.height, note=note))
        print(f"{name:28s} {im.mode:5s} {rgb.width}x{rgb.height} -> {size}: {note}")
    for name, data in make_broken().items():
        (OUT / name).write_bytes(data)
    (OUT / "manifest.json").write_text(json.dumps(dict(
        pillow=Image.__version__, torch=torch.__version__, timm=timm.__version__,
        mean=MEAN, std=STD, images=manifest), indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(manifest)} images, {total / 1024:.0f} KiB in {OUT}")
    if total > SIZE_LIMIT:
        sys.exit(f"image goldens are {total} bytes, over the {SIZE_LIMIT}-byte budget")


if __name__ == "__main__":
    main()
