package org.xcit4j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.TestData;

/** Failures are one-line ImageLoadExceptions naming the file; conversions follow PIL. */
class ImageDecoderTest {
    @TempDir
    Path tmp;

    static Path broken(String name) {
        return TestData.root().resolve("testdata/images/broken").resolve(name);
    }

    private static ImageLoadException fails(ImageDecoder d, Path file, String... fragments) {
        ImageLoadException e = assertThrows(ImageLoadException.class, () -> d.decode(file));
        assertTrue(e.getMessage().startsWith(file.toString() + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
        return e;
    }

    @Test
    void brokenFilesGiveOneClearError() throws Exception {
        ImageDecoder d = new ImageDecoder();
        fails(d, broken("truncated.jpg"), "truncated");
        fails(d, broken("not_an_image.png"), "not a readable image");
        fails(d, broken("empty.jpg"), "not a readable image");
        fails(d, tmp.resolve("missing.png"), "no such file");
        fails(d, tmp, "not a regular file");
        // A PNG cut inside its pixel data.
        byte[] png = Files.readAllBytes(TestData.root().resolve("testdata/images/rgb.png"));
        Path cut = tmp.resolve("cut.png");
        Files.write(cut, java.util.Arrays.copyOf(png, png.length / 2));
        fails(d, cut);
    }

    @Test
    void bytesInMemoryDecodeAsTheFileDoes() throws Exception {
        // EXIF orientation and the Adobe CMYK marker are read from the bytes too.
        ImageDecoder d = new ImageDecoder();
        for (String name : new String[] {"rgb.png", "exif_orientation_6.jpg", "cmyk.jpg", "gray16.png", "anim.gif", "lossless.webp"}) {
            Path file = TestData.root().resolve("testdata/images").resolve(name);
            RgbImage fromFile = d.decode(file), fromBytes = d.decode(Files.readAllBytes(file), file);
            assertEquals(fromFile.width(), fromBytes.width(), name);
            assertEquals(fromFile.height(), fromBytes.height(), name);
            assertTrue(java.util.Arrays.equals(fromFile.pixels(), fromBytes.pixels()), name);
        }
        Path truncated = broken("truncated.jpg");
        ImageLoadException e = assertThrows(ImageLoadException.class, () -> d.decode(Files.readAllBytes(truncated), truncated));
        assertTrue(e.getMessage().startsWith(truncated + ": ") && e.getMessage().contains("truncated"), e.getMessage());
        Path name = Path.of("upload");
        e = assertThrows(ImageLoadException.class, () -> d.decode(new byte[] {1, 2, 3}, name));
        assertEquals("upload: not a readable image (expected JPEG, PNG, BMP, GIF or WebP content)", e.getMessage());
    }

    @Test
    void decompressionBombIsRefusedFromTheHeader() throws Exception {
        // 20000 x 20000 declared in 200 bytes: refused before decoding, whatever the data.
        ImageTooLargeException e = (ImageTooLargeException) fails(new ImageDecoder(), broken("bomb.png"),
                "20000 x 20000", "400,000,000 pixels", "89,478,485");
        assertEquals(400_000_000L, e.pixels());
        // The limit applies to ordinary images too: rgb.png is 97 x 64 = 6208 pixels.
        Path rgb = TestData.root().resolve("testdata/images/rgb.png");
        fails(new ImageDecoder(6207), rgb, "6,208 pixels", "6,207");
        assertEquals(97, new ImageDecoder(6208).decode(rgb).width());
    }

    @Test
    void grayBufferedImageIsNotColourManaged() {
        // Java's getRGB() maps TYPE_BYTE_GRAY through linear gray -> sRGB (100 -> 170-ish);
        // PIL's L -> RGB replicates the value.
        BufferedImage g = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(0, 0, 0, 100);
        g.getRaster().setSample(1, 0, 0, 7);
        RgbImage rgb = RgbImage.of(g);
        for (int c = 0; c < 3; c++) {
            assertEquals(100, rgb.get(0, 0, c));
            assertEquals(7, rgb.get(1, 0, c));
        }
    }

    @Test
    void alphaIsDroppedNotComposited() {
        BufferedImage argb = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(0, 0, 0x10_C8_64_32); // alpha 16, RGB (200, 100, 50)
        RgbImage rgb = RgbImage.of(argb);
        assertEquals(200, rgb.get(0, 0, 0));
        assertEquals(100, rgb.get(0, 0, 1));
        assertEquals(50, rgb.get(0, 0, 2));
    }

    @Test
    void exifOrientationsMoveTheCorners() {
        // A 3 x 2 image whose pixel (x, y) has red = 10 * x + y; check where the corners go.
        RgbImage im = RgbImage.blank(3, 2);
        for (int y = 0; y < 2; y++) for (int x = 0; x < 3; x++) im.pixels()[(y * 3 + x) * 3] = (byte) (10 * x + y);
        int[][] topLeftAndSize = {
            {0, 3, 2}, {20, 3, 2}, {21, 3, 2}, {1, 3, 2},  // 1 normal, 2 mirror, 3 rotate 180, 4 flip
            {0, 2, 3}, {1, 2, 3}, {21, 2, 3}, {20, 2, 3}}; // 5 transpose, 6 cw, 7 transverse, 8 ccw
        for (int o = 1; o <= 8; o++) {
            RgbImage r = ExifOrientation.apply(im, o);
            assertEquals(topLeftAndSize[o - 1][1], r.width(), "orientation " + o);
            assertEquals(topLeftAndSize[o - 1][2], r.height(), "orientation " + o);
            assertEquals(topLeftAndSize[o - 1][0], r.get(0, 0, 0), "top-left after orientation " + o);
        }
    }
}
