package org.xcit4j.image;

import java.nio.file.Path;

/**
 * An image whose header declares more pixels than the decoder's limit (a possible
 * decompression bomb: a few kilobytes of file that would decode to gigabytes). Raised from
 * the header alone, before any pixel is decoded.
 */
public final class ImageTooLargeException extends ImageLoadException {
    /**
     * Pixels the header declares.
     */
    private final long pixels;
    /**
     * The decoder's limit.
     */
    private final long limit;

    /**
     * An exception for {@code file}, declared {@code width} x {@code height}.
     *
     * @param file the image file
     * @param width the declared width
     * @param height the declared height
     * @param limit the decoder's pixel limit
     */
    public ImageTooLargeException(Path file, int width, int height, long limit) {
        super(file, String.format("image is %d x %d = %,d pixels, over the limit of %,d"
                + " (decompression-bomb guard, as PIL's MAX_IMAGE_PIXELS)", width, height, (long) width * height, limit));
        this.pixels = (long) width * height;
        this.limit = limit;
    }

    /**
     * The pixels the header declares.
     *
     * @return width times height
     */
    public long pixels() {
        return pixels;
    }

    /**
     * The limit that refused the image.
     *
     * @return the pixel limit
     */
    public long limit() {
        return limit;
    }
}
