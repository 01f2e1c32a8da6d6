package org.xcit4j.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.xcit4j.backend.Device;
import org.xcit4j.image.Classifier;
import org.xcit4j.image.ClassifierOptions;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.ImageFiles;
import org.xcit4j.image.ImageTooLargeException;
import org.xcit4j.image.Prediction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code xcit classify}: top-K classes of image files with timm's preprocessing. Results go to
 * stdout (one line, or one JSON object, per image, in input order); progress, per-file errors
 * and the failure count go to stderr. A file that fails does not stop the others; the exit
 * code is 1 when any failed.
 */
@Command(name = "classify", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Classify images (JPEG, PNG, BMP, GIF, WebP; directories recursively) with timm's eval preprocessing.",
                "Example: xcit classify examples/fashion --weights models/xcit_fashion_micro.safetensors"})
final class ClassifyCommand implements Callable<Integer> {
    private static final Gson JSON = new GsonBuilder().disableHtmlEscaping().create();
    /** Checkpoints above this size get a loading note: reading them takes noticeable time. */
    private static final long BIG_CHECKPOINT = 64L << 20;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "Image files or directories (searched recursively, sorted).")
    List<Path> images;

    @Option(names = "--weights", required = true, paramLabel = "FILE",
            description = "Checkpoint: timm .safetensors or torch .pth (its metadata may carry labels and input_size).")
    Path weights;

    @Option(names = "--model", paramLabel = "NAME", description = "Zoo name (e.g. xcit_small_12_p16_384): checked against the checkpoint; gives the input size.")
    String model;

    @Option(names = "--top", defaultValue = "5", paramLabel = "K", description = "Classes to show per image. Default: ${DEFAULT-VALUE}.")
    int top;

    @Option(names = "--labels", paramLabel = "FILE", description = "Class names: one per line, or a JSON array. Default: the checkpoint's, else ImageNet-1k for 1000 classes.")
    Path labels;

    @Option(names = "--json", description = "One JSON object per image: {\"file\", \"top\": [{\"label\", \"index\", \"probability\"}]} or {\"file\", \"error\"}.")
    boolean json;

    @Option(names = "--size", paramLabel = "N", description = "Input side. Default: checkpoint metadata input_size, else the --model's (224/384).")
    Integer size;

    @Option(names = "--batch", defaultValue = "8", paramLabel = "N", description = "Images per forward pass. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE", description = "auto, java, cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String device;

    @Mixin
    ExecutionOptions.PrecisionOption precision;

    @Option(names = "--tokens-norm", paramLabel = "BOOL", arity = "1",
            description = "Class-attention norm for custom architectures (default: checkpoint metadata, else the zoo).")
    Boolean tokensNorm;

    @Option(names = "--max-pixels", defaultValue = "" + ImageDecoder.DEFAULT_MAX_PIXELS, paramLabel = "N",
            description = "Refuse images with more pixels (decompression-bomb guard). Default: ${DEFAULT-VALUE}, as PIL.")
    long maxPixels;

    @Option(names = {"-q", "--quiet"}, description = "No progress and no notes on stderr (errors still appear).")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (top < 1) throw new IllegalArgumentException("--top must be at least 1, got " + top);
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        List<Classifier.Result> unwalkable = new java.util.ArrayList<>();
        List<Path> files = ImageFiles.expand(images, e -> unwalkable.add(new Classifier.Result(e.file(), List.of(), e)));
        if (files.isEmpty() && unwalkable.isEmpty()) {
            throw new IllegalArgumentException("no images found in " + images.stream().map(Path::toString).collect(Collectors.joining(", "))
                    + " (looked for " + String.join(", ", ImageFiles.EXTENSIONS.stream().sorted().toList()) + ")");
        }
        Device dev = Device.parse(device);
        ClassifierOptions options = ClassifierOptions.DEFAULT.withDevice(dev).withPrecision(precision.on(dev, spec))
                .withBatch(Math.max(1, Math.min(batch, files.size()))).withSize(size).withModel(model).withTokensNorm(tokensNorm)
                .withLabelsFile(labels).withMaxPixels(maxPixels)
                .withNotes(note -> { if (!quiet) err.println("xcit: " + note); });
        Progress.Mode mode = Progress.Mode.auto(quiet);
        long t0 = System.nanoTime();
        boolean big = !quiet && Files.isRegularFile(weights) && Files.size(weights) > BIG_CHECKPOINT;
        if (big) err.printf(Locale.ROOT, "xcit: loading %s (%.0f MB)...%n", weights, Files.size(weights) / 1e6);
        int failed = 0;
        try (Classifier classifier = Classifier.open(weights, options)) {
            if (big) err.printf(Locale.ROOT, "xcit: loaded in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            int[] failures = {0};
            for (Classifier.Result r : unwalkable) failures[0] += print(r, out, err) ? 0 : 1;
            try (Progress progress = Progress.start(files.size() > 1 ? mode : Progress.Mode.QUIET, "classify", files.size(), err)) {
                classifier.classifyAll(files, top, r -> {
                    failures[0] += print(r, out, err) ? 0 : 1;
                    progress.step();
                });
            }
            failed = failures[0];
        }
        out.flush();
        int total = files.size() + unwalkable.size();
        if (failed > 0) {
            err.println("xcit: " + failed + " of " + total + " image" + (total == 1 ? "" : "s") + " failed");
            return 1;
        }
        return 0;
    }

    /**
     * The logits of an image are not finite when the weights (see the load warning) or the
     * image's values are not: such "predictions" are failures, never numbers (JSON has no NaN).
     */
    private static boolean finite(Classifier.Result r) {
        return r.top().stream().allMatch(p -> Double.isFinite(p.probability()));
    }

    /** Prints one result; false when it is a failure. */
    private boolean print(Classifier.Result r, PrintWriter out, PrintWriter err) {
        String error = !r.ok() ? FlagNames.of(r.reason()) + hint(r)
                : finite(r) ? null : "the model's logits for it are NaN or infinite (non-finite weights or input)";
        if (json) {
            JsonObject o = new JsonObject();
            o.addProperty("file", r.file().toString());
            if (error == null) {
                JsonArray a = new JsonArray();
                for (Prediction p : r.top()) {
                    JsonObject e = new JsonObject();
                    e.addProperty("label", p.label());
                    e.addProperty("index", p.index());
                    e.addProperty("probability", p.probability());
                    a.add(e);
                }
                o.add("top", a);
            } else {
                o.addProperty("error", error);
            }
            out.println(JSON.toJson(o));
        } else if (error == null) {
            out.println(r.file() + ": " + r.top().stream()
                    .map(p -> String.format(Locale.ROOT, "%s %.3f", p.label(), p.probability()))
                    .collect(Collectors.joining(" | ")));
        } else {
            err.println("xcit: " + r.file() + ": " + error);
        }
        out.flush();
        return error == null;
    }

    private static String hint(Classifier.Result r) {
        return r.error() instanceof ImageTooLargeException ? "; raise the limit with --max-pixels" : "";
    }
}
