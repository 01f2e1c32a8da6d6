package org.xcit4j.image;

import java.nio.file.Path;

/**
 * An image whose header declares more pixels than the decoder's limit (a possible
 * decompression bomb: a few kilobytes of file that would decode to gigabytes). Raised from
 * the header alone, before any pixel is decoded.
 */
public final class ImageTooLargeException extends ImageLoadException {
    private final long pixels;
    private final long limit;

    public ImageTooLargeException(Path file, int width, int height, long limit) {
        super(file, String.format("image is %d x %d = %,d pixels, over the limit of %,d"
                + " (decompression-bomb guard, as PIL's MAX_IMAGE_PIXELS)", width, height, (long) width * height, limit));
        this.pixels = (long) width * height;
        this.limit = limit;
    }

    public long pixels() {
        return pixels;
    }

    public long limit() {
        return limit;
    }
}
