package org.xcit4j.image;

/**
 * The EXIF orientation tag (0x0112) of a JPEG and the transposition that undoes it, as PIL's
 * {@code ImageOps.exif_transpose} does: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
 * 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise. Cameras store portrait
 * photos sideways with this tag; without it a classifier sees them rotated.
 */
final class ExifOrientation {
    /** The value meaning "as stored". */
    public static final int NORMAL = 1;

    private ExifOrientation() {
    }

    /** {@code image} turned upright for {@code orientation} (1..8); NORMAL returns it as is. */
    public static RgbImage apply(RgbImage image, int orientation) {
        if (orientation == NORMAL) return image;
        if (orientation < 1 || orientation > 8) throw new IllegalArgumentException("EXIF orientation " + orientation + " is not 1..8");
        int w = image.width(), h = image.height();
        boolean swap = orientation >= 5;
        int ow = swap ? h : w, oh = swap ? w : h;
        RgbImage out = RgbImage.blank(ow, oh);
        byte[] src = image.pixels(), dst = out.pixels();
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                // Source pixel (sx, sy) of output (x, y), per PIL's transpose method.
                int sx, sy;
                switch (orientation) {
                    case 2 -> { sx = w - 1 - x; sy = y; }           // FLIP_LEFT_RIGHT
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }   // ROTATE_180
                    case 4 -> { sx = x; sy = h - 1 - y; }           // FLIP_TOP_BOTTOM
                    case 5 -> { sx = y; sy = x; }                   // TRANSPOSE
                    case 6 -> { sx = y; sy = h - 1 - x; }           // ROTATE_270 (90 clockwise)
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }   // TRANSVERSE
                    default -> { sx = w - 1 - y; sy = x; }          // 8: ROTATE_90 (counter-clockwise)
                }
                System.arraycopy(src, (sy * w + sx) * 3, dst, (y * ow + x) * 3, 3);
            }
        }
        return out;
    }
}
