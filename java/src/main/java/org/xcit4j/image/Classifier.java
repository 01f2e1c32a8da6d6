package org.xcit4j.image;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Image classification with one model: decode ({@link ImageDecoder}), timm's preprocessing
 * ({@link Preprocessing}) into a reused input batch, forward, softmax, top-K with class names
 * ({@link Labels}). Owns its input buffer, and the model and session when it opened them.
 *
 * <pre>{@code
 * try (Classifier c = Classifier.open(Path.of("models/xcit_fashion_micro.safetensors"))) {
 *     List<Prediction> top = c.classify(Path.of("examples/fashion/ankle-boot_0.png"), 3);
 * }
 * }</pre>
 *
 * Not thread-safe: one classifier runs one batch at a time.
 */
public final class Classifier implements AutoCloseable {

    /** The outcome for one file: predictions, or why it failed ({@code error} null on success). */
    public record Result(Path file, List<Prediction> top, ImageLoadException error) {
        public boolean ok() {
            return error == null;
        }

        /** The failure in one line without the file name, or null. */
        public String reason() {
            return error == null ? null : error.reason();
        }
    }

    private final Xcit model; // null when the caller owns model and session
    private final Session session;
    private final Labels labels;
    private final Preprocessing preprocessing;
    private final ImageDecoder decoder;
    private final Arena arena = Arena.ofShared();
    private final Tensor input; // (B, 3, S, S)
    private boolean closed;

    private Classifier(Xcit ownedModel, Session session, Labels labels, ImageDecoder decoder) {
        Shape s = session.inputShape();
        if (s.dim(2) != s.dim(3)) {
            throw new IllegalArgumentException("classification needs a square input; the session's is " + s);
        }
        this.model = ownedModel;
        this.session = session;
        this.labels = labels;
        this.decoder = decoder;
        this.preprocessing = Preprocessing.timm(s.size(2));
        this.input = Tensor.allocate(arena, s);
    }

    /** Loads {@code weights} with default {@link ClassifierOptions} (auto device, batch 1). */
    public static Classifier open(Path weights) throws IOException {
        return open(weights, ClassifierOptions.DEFAULT);
    }

    /**
     * Loads {@code weights} and opens a session of {@code options.batch()} images at the input
     * size {@link ClassifierOptions#resolveSize} picks; labels as {@link ClassifierOptions#labelsFor}.
     */
    public static Classifier open(Path weights, ClassifierOptions options) throws IOException {
        LoadOptions load = LoadOptions.DEFAULT.withModel(options.model().orElse(null))
                .withTokensNorm(options.tokensNorm().orElse(null));
        Xcit model = Xcit.load(weights, load);
        model.warnings().forEach(w -> options.notes().accept("warning: " + w));
        Map<String, String> metadata = model.metadata();
        Session session = null;
        try {
            int size = options.resolveSize(weights.toString(), metadata);
            if (model.config().numClasses() == 0) {
                throw new IllegalArgumentException(weights + ": the checkpoint has no classifier head, so it cannot classify");
            }
            Labels labels = options.labelsFor(weights.toString(), metadata, model.config().numClasses());
            session = model.session(options.device(), options.precision(), options.batch(), size, size, options.notes());
            return new Classifier(model, session, labels, new ImageDecoder(options.maxPixels()));
        } catch (IOException | RuntimeException e) {
            if (session != null) session.close();
            model.close();
            throw e;
        }
    }

    /**
     * A classifier over a session the caller keeps owning (closing the classifier frees only
     * its input buffer).
     */
    public static Classifier of(Session session, Labels labels, ImageDecoder decoder) {
        return new Classifier(null, session, Objects.requireNonNull(labels), Objects.requireNonNull(decoder));
    }

    /**
     * One image through {@code session} (its first batch slot), for callers that hold a
     * session and want one answer; allocates a temporary input buffer.
     */
    public static List<Prediction> classify(Session session, Labels labels, RgbImage image, int topK) {
        try (Classifier c = of(session, labels, new ImageDecoder())) {
            return c.classify(image, topK);
        }
    }

    /** Like {@link #classify(Session, Labels, RgbImage, int)}, decoding {@code file} first. */
    public static List<Prediction> classify(Session session, Labels labels, Path file, int topK) throws ImageLoadException {
        return classify(session, labels, new ImageDecoder().decode(file), topK);
    }

    /** The top {@code topK} classes of the image in {@code file}. */
    public List<Prediction> classify(Path file, int topK) throws ImageLoadException {
        return classify(decoder.decode(file), topK);
    }

    /** The top classes of a decoded image, converted as PIL's {@code convert('RGB')} would. */
    public List<Prediction> classify(BufferedImage image, int topK) {
        return classify(RgbImage.of(image), topK);
    }

    public List<Prediction> classify(RgbImage image, int topK) {
        ensureOpen();
        preprocessing.apply(image, input, 0);
        return Prediction.topK(logitsRow(session.forward(input).logits(), 0), labels, topK);
    }

    /**
     * Classifies {@code files} in batches of the session's batch size. A file that fails to
     * decode gets a {@link Result} with its error and does not stop the others. Results come in
     * input order, each handed to {@code onResult} as soon as its batch is done.
     */
    public List<Result> classifyAll(List<Path> files, int topK, Consumer<Result> onResult) {
        ensureOpen();
        int batch = input.shape().size(0);
        List<Result> all = new ArrayList<>(files.size());
        List<Result> pending = new ArrayList<>();
        List<Integer> slotOf = new ArrayList<>(); // pending index -> batch slot, or -1 for a failure
        int filled = 0;
        for (int i = 0; i < files.size(); i++) {
            Path f = files.get(i);
            try {
                preprocess(f, filled);
                slotOf.add(filled++);
                pending.add(null);
            } catch (ImageLoadException e) {
                slotOf.add(-1);
                pending.add(new Result(f, List.of(), e));
            }
            if (filled == batch || i == files.size() - 1) {
                // Unused slots keep the previous batch's images: batch items are independent in
                // XCiT (eval-mode BatchNorm, per-token LayerNorm), so they cannot affect these.
                Tensor logits = filled > 0 ? session.forward(input).logits() : null;
                int start = i + 1 - pending.size();
                for (int p = 0; p < pending.size(); p++) {
                    Result r = pending.get(p);
                    if (r == null) {
                        r = new Result(files.get(start + p), Prediction.topK(logitsRow(logits, slotOf.get(p)), labels, topK), null);
                    }
                    all.add(r);
                    onResult.accept(r);
                }
                pending.clear();
                slotOf.clear();
                filled = 0;
            }
        }
        return all;
    }

    /**
     * Decodes {@code file} into batch slot {@code slot}. An image timm's resize cannot take (so
     * long and thin that the resized side overflows) fails like a bad file, from its header,
     * before it is decoded.
     */
    private void preprocess(Path file, int slot) throws ImageLoadException {
        int[] size = decoder.size(file);
        try {
            if (size[0] > 0 && size[1] > 0) preprocessing.resizedSize(size[0], size[1]);
        } catch (IllegalArgumentException e) {
            throw new ImageLoadException(file, e.getMessage(), e);
        }
        preprocessing.apply(decoder.decode(file), input, slot);
    }

    private static float[] logitsRow(Tensor logits, int row) {
        int classes = logits.shape().size(1);
        MemorySegment s = logits.segment().asSlice((long) row * classes * Float.BYTES, (long) classes * Float.BYTES);
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }

    public Labels labels() {
        return labels;
    }

    /** Side of the square model input. */
    public int inputSize() {
        return preprocessing.size();
    }

    public int batchSize() {
        return input.shape().size(0);
    }

    public Session session() {
        return session;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the classifier has been closed");
    }

    /** Frees the input buffer, and the session and model if {@link #open} made them; idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        arena.close();
        if (model != null) {
            session.close();
            model.close();
        }
    }
}
