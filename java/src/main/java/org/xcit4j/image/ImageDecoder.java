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

    /** A decoder that refuses images with more than {@code maxPixels} pixels. */
    public ImageDecoder(long maxPixels) {
        if (maxPixels < 1) throw new IllegalArgumentException("the pixel limit must be positive, got " + maxPixels);
        this.maxPixels = maxPixels;
    }

    public long maxPixels() {
        return maxPixels;
    }

    /** Decodes {@code file} to upright 8-bit RGB. */
    public RgbImage decode(Path file) throws ImageLoadException {
        if (!Files.exists(file)) throw new ImageLoadException(file, "no such file");
        if (!Files.isRegularFile(file)) throw new ImageLoadException(file, "not a regular file");
        return decode(file, () -> ImageIO.createImageInputStream(file.toFile()));
    }

    /**
     * Decodes an image file's bytes held in memory (a Spark binaryFile row, an upload) as
     * {@link #decode(Path)} decodes the file; {@code name} names it in errors.
     */
    public RgbImage decode(byte[] content, Path name) throws ImageLoadException {
        return decode(name, () -> ImageIO.createImageInputStream(new ByteArrayInputStream(content)));
    }

    /** Opens the image's bytes from the start; called once for the pixels, again for JPEG marker segments. */
    interface Source {
        ImageInputStream open() throws IOException;
    }

    private RgbImage decode(Path file, Source source) throws ImageLoadException {
        try (ImageInputStream in = source.open()) {
            if (in == null) throw new ImageLoadException(file, "cannot be opened");
            ImageReader reader = readerFor(file, in);
            try {
                Decoded d = read(file, source, reader, in);
                RgbImage rgb = d.rgb();
                return d.jpeg() ? ExifOrientation.apply(rgb, JpegMarkers.exifOrientation(source)) : rgb;
            } finally {
                reader.dispose();
            }
        } catch (ImageLoadException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageLoadException(file, describe(e), e);
        } catch (OutOfMemoryError e) {
            throw new ImageLoadException(file, "out of memory while decoding (raise -Xmx through XCIT_JAVA_OPTS)", e);
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
