package org.xcit4j.cli;

import java.awt.image.BufferedImage;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.xcit4j.backend.Backend;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.Preprocessing;
import org.xcit4j.image.RgbImage;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code xcit explain}: where the class token looks. The whole image (short side resized to
 * --size, aspect kept, no crop, so the maps cover all of it) goes through the model; the last
 * class-attention block's cls->patch weights, averaged over heads, are drawn over the
 * original image as a heatmap (see {@link Heatmap}).
 */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = "Overlay the last class-attention block's attention map (mean over heads) on an image; write a PNG.")
final class ExplainCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "PNG, JPEG, BMP or GIF.")
    Path image;

    @Option(names = "--weights", required = true, paramLabel = "FILE", description = "A classification checkpoint (timm or original).")
    Path weights;

    @Option(names = "--output", required = true, paramLabel = "HEAT.png", description = "Where to write the overlay (PNG, the image's size).")
    Path output;

    @Option(names = "--model", paramLabel = "NAME", description = "Zoo name; optional, checked against the checkpoint.")
    String model;

    @Option(names = "--tokens-norm", paramLabel = "BOOL", arity = "1", description = "For architectures outside the zoo.")
    Boolean tokensNorm;

    @Option(names = "--size", defaultValue = "224", paramLabel = "PIXELS",
            description = "Short side the image is resized to for the model. Default: ${DEFAULT-VALUE}.")
    int size;

    @Option(names = "--strength", defaultValue = "0.7", paramLabel = "A",
            description = "Heatmap opacity at the strongest attention (0..1). Default: ${DEFAULT-VALUE}.")
    double strength;

    @Mixin
    ExecutionOptions execution;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE", description = "auto, java, cpu or cuda.")
    String device;

    @Override
    public Integer call() throws Exception {
        if (size < 1) throw new IllegalArgumentException("--size must be positive, got " + size);
        if (!(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("--strength must be in [0, 1], got " + strength);
        if (!output.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
            throw new IllegalArgumentException("--output must be a .png file, got " + output);
        }
        // Fail before the work, not after it: ImageIO would only find out when writing.
        Path parent = output.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) throw new IllegalArgumentException("--output " + output + ": no such directory " + parent);
        PrintWriter err = spec.commandLine().getErr();
        Device dev = Device.parse(device);
        Precision precision = execution.precision(dev, spec);
        ImageDecoder decoder = new ImageDecoder();
        Preprocessing preprocessing = Preprocessing.timm(size);
        requireResizable(preprocessing, decoder.size(image)); // from the header: before paying for decoding
        RgbImage original = decoder.decode(image);
        RgbImage resized = preprocessing.resizeShortSide(original);
        try (Arena arena = Arena.ofConfined();
             Xcit net = Xcit.load(weights, LoadOptions.DEFAULT.withModel(model).withTokensNorm(tokensNorm));
             Backend backend = Backends.open(dev, 0, precision, note -> err.println("xcit: " + note))) {
            Tensor x = Tensor.allocate(arena, 1, 3, resized.height(), resized.width());
            preprocessing.toTensor(resized, x, 0);
            try (Session session = net.session(backend, 1, resized.height(), resized.width(), execution.options())) {
                net.notes().forEach(n -> err.println("xcit: note: " + n));
                net.warnings().forEach(w -> err.println("xcit: warning: " + w));
                Tensor maps = session.run(x).clsAttention();
                float[] mean = Heatmap.meanOverHeads(maps);
                BufferedImage heat = Heatmap.overlay(original.toBufferedImage(), mean, session.gridHeight(), session.gridWidth(), strength);
                write(heat);
            }
        }
        return 0;
    }

    /**
     * The whole image is resized (no crop), so its resized size is what gets allocated: it
     * must stay within the decoder's pixel limit (an 80,000,000 x 1 image at 224 would be
     * 17.9 billion pixels wide).
     */
    private void requireResizable(Preprocessing preprocessing, int[] original) {
        if (original[0] < 1 || original[1] < 1) return; // an empty image: decoding refuses it by name
        int[] wh;
        try {
            wh = preprocessing.resizedSize(original[0], original[1]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(image + ": " + e.getMessage() + " (lower --size)", e);
        }
        long pixels = (long) wh[0] * wh[1];
        if (pixels > ImageDecoder.DEFAULT_MAX_PIXELS) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s: a %d x %d image resized to a short side"
                    + " of %d is %d x %d = %,d pixels, over the limit of %,d (lower --size)", image, original[0],
                    original[1], size, wh[0], wh[1], pixels, ImageDecoder.DEFAULT_MAX_PIXELS));
        }
    }

    /** Through our own stream: ImageIO.write(File) prints a stack trace and reports no file name when it cannot open it. */
    private void write(BufferedImage heat) throws IOException {
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(output))) {
            if (!ImageIO.write(heat, "png", os)) throw new IllegalStateException("no PNG writer in this Java runtime");
        } catch (IOException e) {
            throw new IOException("cannot write " + output + ": " + (e.getMessage() == null ? e.getClass().getSimpleName()
                    : e.getClass().getSimpleName() + " " + e.getMessage()), e);
        }
    }
}
