package org.xcit4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Properties of the PIL resampler the goldens (center crops only) do not pin down. */
class PilResizeTest {
    private static RgbImage random(int w, int h, long seed) {
        RgbImage im = RgbImage.blank(w, h);
        new Random(seed).nextBytes(im.pixels());
        return im;
    }

    @Test
    void anyCropEqualsTheSameRegionOfTheFullResize() {
        RgbImage im = random(53, 37, 1);
        int[][] sizes = {{20, 14}, {80, 61}, {53, 20}, {19, 37}};
        for (int[] s : sizes) {
            RgbImage full = PilResize.resize(im, s[0], s[1]);
            int left = s[0] / 3, top = s[1] / 4, cw = s[0] - left - 1, ch = s[1] - top;
            RgbImage crop = PilResize.resizeCrop(im, s[0], s[1], left, top, cw, ch);
            for (int y = 0; y < ch; y++) {
                for (int x = 0; x < cw; x++) {
                    for (int c = 0; c < 3; c++) assertEquals(full.get(left + x, top + y, c), crop.get(x, y, c));
                }
            }
        }
    }

    @Test
    void sameSizeIsACopyAndTapsSumToOne() {
        RgbImage im = random(9, 7, 2);
        assertArrayEquals(im.pixels(), PilResize.resize(im, 9, 7).pixels());
        // A constant image stays constant: the fixed-point taps of every position sum to 2^22
        // up to rounding, which the 2^21 offset absorbs.
        RgbImage flat = RgbImage.blank(31, 17);
        java.util.Arrays.fill(flat.pixels(), (byte) 201);
        RgbImage r = PilResize.resize(flat, 7, 45);
        for (byte b : r.pixels()) assertEquals(201, b & 0xff);
    }

    @Test
    void bicubicKernelIsKeysWithAMinusHalf() {
        assertEquals(1.0, PilResize.bicubic(0), 0);
        assertEquals(0.0, PilResize.bicubic(1), 0);
        assertEquals(0.0, PilResize.bicubic(2), 0);
        assertEquals(0.5625, PilResize.bicubic(0.5), 1e-15);   // (1.5*0.5 - 2.5)*0.25 + 1
        assertEquals(-0.0625, PilResize.bicubic(1.5), 1e-15);  // ((1.5-5)*1.5+8)*1.5-4 = 0.125, * -0.5
    }

    @Test
    void torchvisionResizeAndCropArithmetic() {
        Preprocessing p = Preprocessing.timm(224);
        assertArrayEquals(new int[] {298, 224}, p.resizedSize(400, 300)); // int(224 * 400 / 300) = int(298.67)
        assertArrayEquals(new int[] {224, 298}, p.resizedSize(300, 400));
        assertArrayEquals(new int[] {224, 224}, p.resizedSize(10, 10));
        assertEquals(2, Preprocessing.cropOffset(45, 40)); // round(2.5) = 2 in Python
        assertEquals(2, Preprocessing.cropOffset(43, 40)); // round(1.5) = 2
        assertEquals(37, Preprocessing.cropOffset(298, 224));
    }
}
