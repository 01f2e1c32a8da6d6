package org.xcit4j.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DirectColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * Converts a decoded image to 8-bit RGB with the arithmetic of PIL's {@code Image.convert('RGB')},
 * which is what timm feeds its transforms. Reads raw raster samples rather than
 * {@link BufferedImage#getRGB}, because Java colour-manages there (a gray image goes through a
 * linear-gray to sRGB conversion that changes every value) and PIL does not:
 * <ul>
 * <li>gray (L): R = G = B = value; below 8 bits scaled to 0..255 as PIL unpacks L;1/L;2/L;4;
 * 16-bit gray (PIL mode I;16) is CLIPPED to 255, exactly as PIL does (so a 16-bit gray PNG
 * with values above 255 turns white in timm too);</li>
 * <li>alpha (LA, RGBA, palette transparency) is dropped without compositing;</li>
 * <li>palette: looked up; 1-bit images are a black/white palette;</li>
 * <li>16-bit RGB(A): the high byte, as PIL's RGB;16B unpacker keeps;</li>
 * <li>CMYK (raw ink amounts, 0 = none): PIL's cmyk2rgb, {@code R = 255 - K - C*(255-K)/255}
 * with PIL's rounding, no ICC profile.</li>
 * </ul>
 * Anything else (YCbCr rasters, other colour spaces, packed 5-6-5) falls back to Java's own
 * sRGB conversion.
 */
final class PilRgb {
    private PilRgb() {
    }

    static RgbImage convert(BufferedImage image) {
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        if (cm instanceof IndexColorModel icm) return palette(raster, icm);
        int type = cm.getColorSpace().getType();
        if (cm instanceof ComponentColorModel && raster.getTransferType() <= DataBuffer.TYPE_USHORT) {
            int bits = cm.getComponentSize(0);
            if (type == ColorSpace.TYPE_GRAY && cm.getNumColorComponents() == 1) return gray(raster, bits);
            if (type == ColorSpace.TYPE_RGB && cm.getNumColorComponents() == 3 && (bits == 8 || bits == 16)) {
                return rgb(raster, bits - 8);
            }
            if (type == ColorSpace.TYPE_CMYK && cm.getNumColorComponents() == 4 && bits == 8) return cmyk(raster, false);
        }
        if (cm instanceof DirectColorModel dcm && type == ColorSpace.TYPE_RGB && eightBitsEach(dcm)) return rgb(raster, 0);
        return viaGetRgb(image);
    }

    /**
     * Converts CMYK samples the way PIL's cmyk2rgb does; {@code inverted} samples (255 = no
     * ink, Adobe's convention in JPEG files) are inverted first, as PIL's CMYK;I unpacker does.
     */
    static RgbImage cmyk(Raster raster, boolean inverted) {
        int w = raster.getWidth(), h = raster.getHeight();
        RgbImage out = RgbImage.blank(w, h);
        byte[] px = out.pixels();
        int[] row = new int[w * 4];
        for (int y = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            if (inverted) for (int i = 0; i < row.length; i++) row[i] = 255 - row[i];
            for (int x = 0, o = y * w * 3; x < w; x++) {
                int nk = 255 - row[x * 4 + 3];
                for (int c = 0; c < 3; c++) px[o++] = (byte) clip8(nk - mulDiv255(row[x * 4 + c], nk));
            }
        }
        return out;
    }

    private static RgbImage palette(Raster raster, IndexColorModel icm) {
        int w = raster.getWidth(), h = raster.getHeight(), n = icm.getMapSize();
        byte[] lut = new byte[n * 3];
        for (int i = 0; i < n; i++) {
            lut[i * 3] = (byte) icm.getRed(i);
            lut[i * 3 + 1] = (byte) icm.getGreen(i);
            lut[i * 3 + 2] = (byte) icm.getBlue(i);
        }
        RgbImage out = RgbImage.blank(w, h);
        byte[] px = out.pixels();
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            raster.getSamples(raster.getMinX(), raster.getMinY() + y, w, 1, 0, row);
            for (int x = 0, o = y * w * 3; x < w; x++, o += 3) {
                // An index past the palette (possible in damaged files) reads as black, as in PIL.
                int i = row[x] < n ? row[x] * 3 : -1;
                if (i >= 0) System.arraycopy(lut, i, px, o, 3);
            }
        }
        return out;
    }

    private static RgbImage gray(Raster raster, int bits) {
        int w = raster.getWidth(), h = raster.getHeight(), max = (1 << bits) - 1;
        RgbImage out = RgbImage.blank(w, h);
        byte[] px = out.pixels();
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            raster.getSamples(raster.getMinX(), raster.getMinY() + y, w, 1, 0, row);
            for (int x = 0, o = y * w * 3; x < w; x++) {
                int v = row[x];
                // < 8 bits: PIL's L;1/L;2/L;4 unpackers scale by 255/max exactly (255, 85, 17);
                // 16 bits: PIL keeps I;16 and its I;16 -> RGB conversion clips.
                int g = bits < 8 ? v * 255 / max : Math.min(v, 255);
                byte b = (byte) g;
                px[o++] = b;
                px[o++] = b;
                px[o++] = b;
            }
        }
        return out;
    }

    /** RGB or RGBA samples; {@code shift} 8 keeps the high byte of 16-bit samples. */
    private static RgbImage rgb(Raster raster, int shift) {
        int w = raster.getWidth(), h = raster.getHeight(), bands = raster.getNumBands();
        RgbImage out = RgbImage.blank(w, h);
        byte[] px = out.pixels();
        int[] row = new int[w * bands];
        for (int y = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            for (int x = 0, o = y * w * 3; x < w; x++) {
                for (int c = 0; c < 3; c++) px[o++] = (byte) (row[x * bands + c] >>> shift);
            }
        }
        return out;
    }

    private static boolean eightBitsEach(DirectColorModel dcm) {
        for (int c = 0; c < 3; c++) if (dcm.getComponentSize(c) != 8) return false;
        return true;
    }

    private static RgbImage viaGetRgb(BufferedImage image) {
        int w = image.getWidth(), h = image.getHeight();
        RgbImage out = RgbImage.blank(w, h);
        byte[] px = out.pixels();
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0, o = y * w * 3; x < w; x++) {
                px[o++] = (byte) (row[x] >>> 16);
                px[o++] = (byte) (row[x] >>> 8);
                px[o++] = (byte) row[x];
            }
        }
        return out;
    }

    /** PIL's MULDIV255: a * b / 255 rounded, without a division. */
    private static int mulDiv255(int a, int b) {
        int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    }

    private static int clip8(int v) {
        return v < 0 ? 0 : Math.min(v, 255);
    }
}
