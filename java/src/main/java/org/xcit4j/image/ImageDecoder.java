package org.xcit4j.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import org.xcit4j.tensor.HostMemory;

/**
 * Decodes an image file to 8-bit RGB as timm's loader sees it: PIL's {@code Image.open},
 * EXIF orientation applied ({@link ExifOrientation}; timm's own loader skips this step, a
 * photo viewer does not), then {@code convert('RGB')} ({@link PilRgb}). Reads JPEG (including
 * CMYK/YCCK through TwelveMonkeys), PNG, BMP, GIF (first frame) and WebP.
 *
 * <p>The pixel count is checked from the header before anything is decoded: above the limit
 * (by default PIL's {@code MAX_IMAGE_PIXELS}, 89,478,485) the file is refused with an
 * {@link ImageTooLargeException}. A truncated file is an error, as in PIL, not a half-grey
 * picture. Every failure is an {@link ImageLoadException} naming the file.
 *
 * <p>Thread-safe: each call uses its own reader.
 */
public final class ImageDecoder {
    /** PIL's {@code Image.MAX_IMAGE_PIXELS}: 1024 * 1024 * 1024 // 4 // 3 (a 1 GB RGBA image / 3). */
    public static final long DEFAULT_MAX_PIXELS = 89_478_485L;

    static {
        // TwelveMonkeys registers through the service loader; the JDK scans only at first use
        // and, under some class loaders (shaded jars, tests), not the context one.
        ImageIO.scanForPlugins();
        ImageIO.setUseCache(false); // decode in memory, never via temporary files
    }

    private final long maxPixels;

    /** A decoder with PIL's default pixel limit. */
    public ImageDecoder() {
        this(DEFAULT_MAX_PIXELS);
    }

    /**
     * A decoder that refuses images with more than {@code maxPixels} pixels.
     *
     * @param maxPixels the pixel limit, positive
     */
    public ImageDecoder(long maxPixels) {
        if (maxPixels < 1) throw new IllegalArgumentException("the pixel limit must be positive, got " + maxPixels);
        this.maxPixels = maxPixels;
    }

    /**
     * The pixel limit.
     *
     * @return the most pixels an image may declare
     */
    public long maxPixels() {
        return maxPixels;
    }

    /**
     * Decodes {@code file} to upright 8-bit RGB.
     *
     * @param file the image file
     * @return the image
     * @throws ImageLoadException if the file is missing, not an image, damaged, or over the limits
     */
    public RgbImage decode(Path file) throws ImageLoadException {
        Source source = fileSource(file);
        return withReader(file, source, (reader, in) -> decoded(file, source, reader, in));
    }

    /**
     * Decodes an image file's bytes held in memory (a Spark binaryFile row, an upload) as
     * {@link #decode(Path)} decodes the file.
     *
     * @param content the file's bytes
     * @param name names the image in errors
     * @return the image
     * @throws ImageLoadException if the bytes are not an image, damaged, or over the limits
     */
    public RgbImage decode(byte[] content, Path name) throws ImageLoadException {
        Source source = () -> ImageIO.createImageInputStream(new ByteArrayInputStream(content));
        return withReader(name, source, (reader, in) -> decoded(name, source, reader, in));
    }

    private RgbImage decoded(Path file, Source source, ImageReader reader, ImageInputStream in) throws IOException {
        Decoded d = read(file, source, reader, in);
        return d.jpeg() ? ExifOrientation.apply(d.rgb(), JpegMarkers.exifOrientation(source)) : d.rgb();
    }

    /**
     * Width and height as the file's header states them (before any EXIF rotation), nothing
     * decoded: lets a caller refuse an image its own processing cannot take before paying for
     * decoding it.
     *
     * @param file the image file
     * @return {width, height}
     * @throws ImageLoadException if the file is missing or not an image
     */
    public int[] size(Path file) throws ImageLoadException {
        return withReader(file, fileSource(file), (reader, in) -> {
            reader.setInput(in, true, true);
            return new int[] {reader.getWidth(0), reader.getHeight(0)};
        });
    }

    /** Opens the image's bytes from the start; called once for the pixels, again for JPEG marker segments. */
    interface Source {
        ImageInputStream open() throws IOException;
    }

    private static Source fileSource(Path file) throws ImageLoadException {
        if (!Files.exists(file)) throw new ImageLoadException(file, "no such file");
        if (!Files.isRegularFile(file)) throw new ImageLoadException(file, "not a regular file");
        return () -> ImageIO.createImageInputStream(file.toFile());
    }

    private interface ReaderTask<T> {
        T run(ImageReader reader, ImageInputStream in) throws IOException;
    }

    /** Opens {@code source} with the reader its content calls for and runs {@code task}; every failure names {@code file}. */
    private static <T> T withReader(Path file, Source source, ReaderTask<T> task) throws ImageLoadException {
        try (ImageInputStream in = source.open()) {
            if (in == null) throw new ImageLoadException(file, "cannot be opened");
            ImageReader reader = readerFor(file, in);
            try {
                return task.run(reader, in);
            } finally {
                reader.dispose();
            }
        } catch (ImageLoadException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageLoadException(file, describe(e), e);
        } catch (OutOfMemoryError e) {
            throw new ImageLoadException(file, "out of memory while decoding (raise the Java heap: -Xmx)", e);
        }
    }

    private record Decoded(RgbImage rgb, boolean jpeg) {
    }

    private Decoded read(Path file, Source source, ImageReader reader, ImageInputStream in) throws IOException {
        // Metadata is not needed (EXIF is read separately and only for JPEG): skipping it
        // saves time and avoids failures on odd metadata the pixels do not depend on.
        reader.setInput(in, true, true);
        int w = reader.getWidth(0), h = reader.getHeight(0);
        if (w < 1 || h < 1) throw new ImageLoadException(file, "header declares an empty image (" + w + " x " + h + ")");
        if ((long) w * h > maxPixels) throw new ImageTooLargeException(file, w, h, maxPixels);
        requireMemory(file, reader, w, h);
        Truncation truncation = new Truncation();
        reader.addIIOReadWarningListener(truncation);
        String format = reader.getFormatName().toLowerCase(Locale.ROOT);
        boolean jpeg = format.contains("jpeg") || format.contains("jpg");
        RgbImage rgb;
        if (jpeg && isCmyk(reader) && reader.canReadRaster() && JpegMarkers.adobeTransform(source) != JpegMarkers.ADOBE_YCCK) {
            // PIL converts CMYK naively (no ICC) and reads JPEG CMYK as Adobe-inverted
            // ("CMYK;I", always); TwelveMonkeys' read() would colour-manage, so take the
            // stored values and convert as PIL does. YCCK is left to TwelveMonkeys (its raw
            // raster is not CMYK), so it is not bit-exact with PIL.
            Raster raster = reader.readRaster(0, null);
            truncation.check(file);
            rgb = PilRgb.cmyk(raster, true);
        } else {
            ImageReadParam param = reader.getDefaultReadParam();
            ImageTypeSpecifier raw = jpeg ? reader.getRawImageType(0) : null;
            // TwelveMonkeys converts JPEGs with an embedded ICC profile to sRGB; PIL ignores the
            // profile. Asking for the raw type keeps the decoded samples as they are.
            if (raw != null) param.setDestinationType(raw);
            BufferedImage image = reader.read(0, param);
            truncation.check(file);
            rgb = PilRgb.convert(image);
        }
        return new Decoded(rgb, jpeg);
    }

    /**
     * Refuses an image whose decoding would not fit, before decoding: the pixel limit bounds
     * the pixel count, but not the memory there is (a container, a small -Xmx). Decoding holds
     * at once the decoded image (its pixel size), the 8-bit RGB copy (3 bytes a pixel) and,
     * for one row, the decoder's two row buffers and the conversion's int per sample; all on
     * the Java heap, which must also find that memory in the system.
     */
    private static void requireMemory(Path file, ImageReader reader, int w, int h) throws IOException {
        int bytes = 4, bands = 4;
        Iterator<ImageTypeSpecifier> types = reader.getImageTypes(0);
        if (types != null && types.hasNext()) {
            ImageTypeSpecifier t = types.next();
            bytes = Math.max(1, (t.getColorModel().getPixelSize() + 7) / 8);
            bands = Math.max(1, t.getNumBands());
        }
        long need = (long) w * h * (bytes + 3) + (long) w * (4L * bands + 2L * bytes);
        long available = available();
        if (need > available) {
            // The heap's used figure counts garbage left by earlier images; count only what is live.
            System.gc();
            available = available();
        }
        if (need > available) {
            throw new ImageLoadException(file, String.format(Locale.ROOT, "decoding this %d x %d image needs about %,d MiB of"
                    + " memory, more than the %,d MiB available (Java heap and system memory): raise the Java heap"
                    + " (-Xmx) or lower the pixel limit (ImageDecoder.maxPixels)", w, h, need >> 20, available >> 20));
        }
    }

    private static long available() {
        Runtime rt = Runtime.getRuntime();
        long heap = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        return Math.min(heap, HostMemory.available());
    }

    private static boolean isCmyk(ImageReader reader) throws IOException {
        ImageTypeSpecifier raw = reader.getRawImageType(0);
        return raw != null && raw.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_CMYK;
    }

    private static ImageReader readerFor(Path file, ImageInputStream in) throws ImageLoadException {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            throw new ImageLoadException(file, "not a readable image (expected JPEG, PNG, BMP, GIF or WebP content)");
        }
        return readers.next();
    }

    /** Decoders report a premature end of data as a warning and return grey pixels; PIL refuses. */
    private static final class Truncation implements IIOReadWarningListener {
        private String warning;

        @Override
        public void warningOccurred(ImageReader source, String message) {
            String m = message.toLowerCase(Locale.ROOT);
            if (warning == null && (m.contains("premature end") || m.contains("truncated"))) warning = message;
        }

        void check(Path file) throws ImageLoadException {
            if (warning != null) throw new ImageLoadException(file, "image file is truncated (" + warning.strip() + ")");
        }
    }

    /** A one-line reason from a decoder exception, which is often terse or nested. */
    static String describe(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t && (t.getMessage() == null || t.getMessage().isBlank())) t = t.getCause();
        String m = t.getMessage();
        if (t instanceof java.io.EOFException || (m != null && m.toLowerCase(Locale.ROOT).contains("eof"))) {
            return "image file is truncated (" + (m == null ? "unexpected end of file" : m.strip()) + ")";
        }
        String what = m == null || m.isBlank() ? t.getClass().getSimpleName() : m.strip();
        return "cannot decode: " + what.replace('\n', ' ');
    }
}
