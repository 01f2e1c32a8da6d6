package org.xcit4j.cli;

import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Minimal image input for {@code xcit explain}, kept in this one class until the project's
 * image package (decode + timm preprocessing) replaces it: ImageIO decoding (PNG, JPEG, BMP,
 * GIF), a Java2D resize (halving steps, then bicubic: close to, not equal to, PIL's
 * antialiased bicubic) and timm's normalisation (mean 0.485/0.456/0.406, std 0.229/0.224/0.225).
 */
final class SimpleImageInput {
    private static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] STD = {0.229f, 0.224f, 0.225f};

    private SimpleImageInput() {
    }

    static BufferedImage read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new java.nio.file.NoSuchFileException(file.toString());
        BufferedImage img = ImageIO.read(file.toFile());
        if (img == null) throw new IOException(file + ": not an image ImageIO can decode (PNG, JPEG, BMP, GIF)");
        return toRgb(img, img.getWidth(), img.getHeight());
    }

    /** The image scaled so its shorter side is {@code side}, aspect ratio kept (no crop). */
    static BufferedImage resizeShortSide(BufferedImage img, int side) {
        double scale = (double) side / Math.min(img.getWidth(), img.getHeight());
        int w = Math.max(1, (int) Math.round(img.getWidth() * scale)), h = Math.max(1, (int) Math.round(img.getHeight() * scale));
        BufferedImage cur = img;
        // Halving first averages pixels away that a single bicubic step would skip (aliasing).
        while (cur.getWidth() / 2 >= w && cur.getHeight() / 2 >= h) {
            cur = scaled(cur, cur.getWidth() / 2, cur.getHeight() / 2, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        }
        return cur.getWidth() == w && cur.getHeight() == h ? cur : scaled(cur, w, h, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
    }

    /** (1, 3, H, W) float32: RGB / 255, normalised per channel. */
    static Tensor normalised(BufferedImage img, Arena arena) {
        int w = img.getWidth(), h = img.getHeight();
        Tensor t = Tensor.allocate(arena, Shape.of(1, 3, h, w));
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    float v = ((rgb >> (16 - 8 * c)) & 0xff) / 255f;
                    t.set(((long) c * h + y) * w + x, (v - MEAN[c]) / STD[c]);
                }
            }
        }
        return t;
    }

    private static BufferedImage scaled(BufferedImage src, int w, int h, Object interpolation) {
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        var g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, interpolation);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
        g.drawImage(src, 0, 0, w, h, null);
        g.dispose();
        return out;
    }

    private static BufferedImage toRgb(BufferedImage img, int w, int h) {
        if (img.getType() == BufferedImage.TYPE_INT_RGB) return img;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        var g = out.createGraphics();
        g.drawImage(img, 0, 0, java.awt.Color.WHITE, null); // transparent pixels over white
        g.dispose();
        return out;
    }
}
