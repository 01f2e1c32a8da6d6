package org.xcit4j.cli;

import java.awt.image.BufferedImage;
import org.xcit4j.tensor.Tensor;

/**
 * Attention overlay for {@code xcit explain}. The map (mean over heads) is min-max normalised
 * to m in [0, 1], upsampled bilinearly to the image (pixel centres aligned, as
 * F.interpolate(align_corners=False)), coloured with the "hot" colormap (black -> red ->
 * yellow -> white: r = 3m, g = 3m - 1, b = 3m - 2, clamped) and blended with weight
 * {@code strength * m}: low-attention regions keep the photo, high ones take the colour.
 */
final class Heatmap {
    private Heatmap() {
    }

    /** Mean over heads of maps (1, heads, hp, wp), min-max normalised; a constant map becomes 0. */
    static float[] meanOverHeads(Tensor maps) {
        int heads = maps.shape().size(1), cells = maps.shape().size(2) * maps.shape().size(3);
        float[] m = new float[cells];
        for (int h = 0; h < heads; h++) for (int i = 0; i < cells; i++) m[i] += maps.get((long) h * cells + i) / heads;
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (float v : m) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        for (int i = 0; i < cells; i++) m[i] = hi > lo ? (m[i] - lo) / (hi - lo) : 0f;
        return m;
    }

    static BufferedImage overlay(BufferedImage image, float[] map, int hp, int wp, double strength) {
        int w = image.getWidth(), h = image.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double m = sample(map, hp, wp, (y + 0.5) * hp / h - 0.5, (x + 0.5) * wp / w - 0.5);
                double a = strength * m;
                double[] color = {clamp(3 * m), clamp(3 * m - 1), clamp(3 * m - 2)};
                int rgb = image.getRGB(x, y), px = 0;
                for (int c = 0; c < 3; c++) {
                    double v = ((rgb >> (16 - 8 * c)) & 0xff) * (1 - a) + 255 * color[c] * a;
                    px |= (int) Math.round(Math.min(255, Math.max(0, v))) << (16 - 8 * c);
                }
                out.setRGB(x, y, px);
            }
        }
        return out;
    }

    /** Bilinear sample of a (hp, wp) grid at fractional cell coordinates, edges clamped. */
    private static double sample(float[] map, int hp, int wp, double fy, double fx) {
        fy = Math.max(0, Math.min(hp - 1, fy));
        fx = Math.max(0, Math.min(wp - 1, fx));
        int y0 = (int) fy, x0 = (int) fx, y1 = Math.min(hp - 1, y0 + 1), x1 = Math.min(wp - 1, x0 + 1);
        double dy = fy - y0, dx = fx - x0;
        double top = map[y0 * wp + x0] * (1 - dx) + map[y0 * wp + x1] * dx;
        double bottom = map[y1 * wp + x0] * (1 - dx) + map[y1 * wp + x1] * dx;
        return top * (1 - dy) + bottom * dy;
    }

    private static double clamp(double v) {
        return Math.max(0, Math.min(1, v));
    }
}
