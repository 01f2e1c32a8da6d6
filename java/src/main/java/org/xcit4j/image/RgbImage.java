package org.xcit4j.image;

import java.awt.image.BufferedImage;

/**
 * An 8-bit RGB image, pixels interleaved row by row ({@code R G B R G B ...}), the form PIL's
 * {@code Image.convert('RGB')} gives and timm's preprocessing starts from. Plain data: the
 * array is shared, not copied, so a caller that keeps a reference can see changes.
 *
 * @param width  pixels per row, at least 1
 * @param height rows, at least 1
 * @param pixels {@code width * height * 3} bytes, read as unsigned
 */
public record RgbImage(int width, int height, byte[] pixels) {

    /**
     * Checks the size against the pixels.
     *
     * @throws IllegalArgumentException if a side is not positive or the pixels do not fit
     */
    public RgbImage {
        if (width < 1 || height < 1) throw new IllegalArgumentException("image size " + width + "x" + height + " must be positive");
        if (pixels.length != (long) width * height * 3) {
            throw new IllegalArgumentException(pixels.length + " bytes for a " + width + "x" + height + " RGB image");
        }
    }

    /**
     * A black image.
     *
     * @param width pixels per row
     * @param height rows
     * @return the image
     */
    public static RgbImage blank(int width, int height) {
        return new RgbImage(width, height, new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)]);
    }

    /**
     * Converts a decoded image the way PIL's {@code convert('RGB')} would (see {@link PilRgb}).
     *
     * @param image any decoded image
     * @return its RGB pixels
     */
    public static RgbImage of(BufferedImage image) {
        return PilRgb.convert(image);
    }

    /**
     * Channel {@code c} (0 R, 1 G, 2 B) of pixel (x, y), 0..255.
     *
     * @param x the column
     * @param y the row
     * @param c the channel
     * @return the value
     */
    public int get(int x, int y, int c) {
        return pixels[(y * width + x) * 3 + c] & 0xff;
    }

    /**
     * This image as a {@link BufferedImage#TYPE_INT_RGB}, for display or saving.
     *
     * @return a new image
     */
    public BufferedImage toBufferedImage() {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) row[x] = get(x, y, 0) << 16 | get(x, y, 1) << 8 | get(x, y, 2);
            out.setRGB(0, y, width, 1, row, 0, width);
        }
        return out;
    }
}
