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
import org.xcit4j.serve.Predictor;
import org.xcit4j.serve.PredictorOptions;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Image classification with one model: decode ({@link ImageDecoder}), timm's preprocessing
 * ({@link Preprocessing}, square or not) into an input batch, forward on a {@link Predictor},
 * softmax, top-K with class names ({@link Labels}). Owns the predictor and model when
 * {@link #open} made them.
 *
 * <pre>{@code
 * try (Classifier c = Classifier.open(Path.of("models/xcit_fashion_micro.safetensors"))) {
 *     List<Prediction> top = c.classify(Path.of("examples/fashion/ankle-boot_0.png"), 3);
 * }
 * }</pre>
 *
 * Thread-safe: every call preprocesses into its own input (shared memory: the Java reference
 * backend parallelises only over memory any thread may read) and runs on the predictor, which
 * plans a session per input shape, so a last batch of fewer files than {@link #batchSize()}
 * runs at its own size. {@link #open} makes a predictor for one caller at a time (one forward
 * with all cores); to classify from many threads, give {@link #of} a predictor with more
 * concurrency.
 */
public final class Classifier implements AutoCloseable {

    /**
     * The outcome for one file: predictions, or why it failed ({@code error} null on success).
     *
     * @param file the image file
     * @param top its top classes, most probable first; empty on failure
     * @param error why it failed, or null
     */
    public record Result(Path file, List<Prediction> top, ImageLoadException error) {
        /**
         * Whether the file was classified.
         *
         * @return true when {@code error} is null
         */
        public boolean ok() {
            return error == null;
        }

        /**
         * The failure in one line without the file name, or null.
         *
         * @return the reason, or null on success
         */
        public String reason() {
            return error == null ? null : error.reason();
        }
    }

    private final Xcit model; // null when the caller owns model and predictor
    private final Predictor predictor;
    private final Labels labels;
    private final Preprocessing preprocessing;
    private final ImageDecoder decoder;
    private final int batch;
    private volatile boolean closed;

    private Classifier(Xcit ownedModel, Predictor predictor, Labels labels, ImageDecoder decoder, int batch, int height, int width) {
        if (batch < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batch);
        this.model = ownedModel;
        this.predictor = predictor;
        this.labels = labels;
        this.decoder = decoder;
        this.batch = batch;
        this.preprocessing = Preprocessing.timm(height, width);
    }

    /**
     * Loads {@code weights} with default {@link ClassifierOptions} (auto device, batch 1).
     *
     * @param weights a .safetensors or .pth checkpoint
     * @return the classifier, owning its model
     * @throws IOException if the checkpoint or a labels file cannot be read
     */
    public static Classifier open(Path weights) throws IOException {
        return open(weights, ClassifierOptions.DEFAULT);
    }

    /**
     * Loads {@code weights} and classifies in batches of {@code options.batch()} images at the
     * input size {@link ClassifierOptions#resolveSize} picks; labels as
     * {@link ClassifierOptions#labelsFor}. One forward at a time, with all cores.
     *
     * @param weights a .safetensors or .pth checkpoint
     * @param options device, precision, batch, size, labels, ...
     * @return the classifier, owning its model
     * @throws IOException if the checkpoint or a labels file cannot be read
     */
    public static Classifier open(Path weights, ClassifierOptions options) throws IOException {
        LoadOptions load = LoadOptions.DEFAULT.withModel(options.model().orElse(null))
                .withTokensNorm(options.tokensNorm().orElse(null));
        Xcit model = Xcit.load(weights, load);
        model.warnings().forEach(w -> options.notes().accept("warning: " + w));
        Map<String, String> metadata = model.metadata();
        Predictor predictor = null;
        try {
            int size = options.resolveSize(weights.toString(), metadata);
            if (model.config().numClasses() == 0) {
                throw new IllegalArgumentException(weights + ": the checkpoint has no classifier head, so it cannot classify");
            }
            Labels labels = options.labelsFor(weights.toString(), metadata, model.config().numClasses());
            predictor = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(options.device()).withPrecision(options.precision())
                    .withConcurrency(1).withNotes(options.notes()));
            return new Classifier(model, predictor, labels, new ImageDecoder(options.maxPixels()), options.batch(), size, size);
        } catch (IOException | RuntimeException e) {
            if (predictor != null) predictor.close();
            model.close();
            throw e;
        }
    }

    /**
     * A classifier over a predictor the caller keeps owning (closing the classifier closes
     * nothing), for inputs of {@code height} x {@code width} in batches of {@code batch}.
     *
     * @param predictor runs the model; the caller closes it
     * @param labels the class names
     * @param decoder decodes files (its pixel limit applies)
     * @param batch images per forward in {@link #classifyAll}
     * @param height the model input's height
     * @param width the model input's width
     * @return the classifier
     */
    public static Classifier of(Predictor predictor, Labels labels, ImageDecoder decoder, int batch, int height, int width) {
        return new Classifier(null, Objects.requireNonNull(predictor), Objects.requireNonNull(labels), Objects.requireNonNull(decoder),
                batch, height, width);
    }

    /**
     * One image through {@code session} (its first batch slot), for callers that hold a session and want one answer.
     *
     * @param session a classification session; its first batch slot is used
     * @param labels the class names
     * @param image the decoded image
     * @param topK how many classes, most probable first
     * @return the top classes, most probable first
     */
    public static List<Prediction> classify(Session session, Labels labels, RgbImage image, int topK) {
        Shape s = session.inputShape();
        try (Arena arena = Arena.ofShared()) {
            Tensor input = Tensor.allocate(arena, s);
            Preprocessing.timm(s.size(2), s.size(3)).apply(image, input, 0);
            return Prediction.topK(logitsRow(session.forward(input).logits(), 0), labels, topK);
        }
    }

    /**
     * Like {@link #classify(Session, Labels, RgbImage, int)}, decoding {@code file} first.
     *
     * @param session a classification session; its first batch slot is used
     * @param labels the class names
     * @param file the image file
     * @param topK how many classes, most probable first
     * @return the top classes, most probable first
     * @throws ImageLoadException if the file cannot be decoded
     */
    public static List<Prediction> classify(Session session, Labels labels, Path file, int topK) throws ImageLoadException {
        return classify(session, labels, new ImageDecoder().decode(file), topK);
    }

    /**
     * The top {@code topK} classes of the image in {@code file}.
     *
     * @param file the image file
     * @param topK how many classes, most probable first
     * @return the top classes, most probable first
     * @throws ImageLoadException if the file cannot be decoded
     */
    public List<Prediction> classify(Path file, int topK) throws ImageLoadException {
        return classify(decoder.decode(file), topK);
    }

    /**
     * The top classes of a decoded image, converted as PIL's {@code convert('RGB')} would.
     *
     * @param image the image
     * @param topK how many classes, most probable first
     * @return the top classes, most probable first
     */
    public List<Prediction> classify(BufferedImage image, int topK) {
        return classify(RgbImage.of(image), topK);
    }

    /**
     * The top classes of an image already converted to RGB.
     *
     * @param image the image
     * @param topK how many classes, most probable first
     * @return the top classes, most probable first
     */
    public List<Prediction> classify(RgbImage image, int topK) {
        ensureOpen();
        try (Arena arena = Arena.ofShared()) {
            Tensor input = Tensor.allocate(arena, 1, 3, preprocessing.height(), preprocessing.width());
            preprocessing.apply(image, input, 0);
            return predictor.run(input, out -> Prediction.topK(logitsRow(out.logits(), 0), labels, topK));
        }
    }

    /**
     * Classifies {@code files} in batches of {@link #batchSize()}; the last batch, and a batch
     * with files that failed to decode, run at the size of the images they have. A file that
     * fails to decode gets a {@link Result} with its error and does not stop the others.
     * Results come in input order, each handed to {@code onResult} as soon as its batch is done.
     *
     * @param files the image files
     * @param topK how many classes, most probable first
     * @param onResult called with each result in input order
     * @return every result, in input order
     */
    public List<Result> classifyAll(List<Path> files, int topK, Consumer<Result> onResult) {
        ensureOpen();
        List<Result> all = new ArrayList<>(files.size());
        List<Result> pending = new ArrayList<>();
        List<Integer> slotOf = new ArrayList<>(); // pending index -> batch slot, or -1 for a failure
        int filled = 0;
        try (Arena arena = Arena.ofShared()) {
            Tensor input = Tensor.allocate(arena, batch, 3, preprocessing.height(), preprocessing.width());
            for (int i = 0; i < files.size(); i++) {
                Path f = files.get(i);
                try {
                    preprocess(f, input, filled);
                    slotOf.add(filled++);
                    pending.add(null);
                } catch (ImageLoadException e) {
                    slotOf.add(-1);
                    pending.add(new Result(f, List.of(), e));
                }
                if (filled == batch || i == files.size() - 1) {
                    List<List<Prediction>> tops = filled == 0 ? List.of() : predictor.run(input.slice(0, filled), out -> {
                        List<List<Prediction>> rows = new ArrayList<>();
                        for (int r = 0; r < out.logits().shape().size(0); r++) rows.add(Prediction.topK(logitsRow(out.logits(), r), labels, topK));
                        return rows;
                    });
                    int start = i + 1 - pending.size();
                    for (int p = 0; p < pending.size(); p++) {
                        Result r = pending.get(p);
                        if (r == null) r = new Result(files.get(start + p), tops.get(slotOf.get(p)), null);
                        all.add(r);
                        onResult.accept(r);
                    }
                    pending.clear();
                    slotOf.clear();
                    filled = 0;
                }
            }
        }
        return all;
    }

    /**
     * Decodes {@code file} into batch slot {@code slot}. An image timm's resize cannot take (so
     * long and thin that the resized side overflows) fails like a bad file, from its header,
     * before it is decoded.
     */
    private void preprocess(Path file, Tensor input, int slot) throws ImageLoadException {
        int[] size = decoder.size(file);
        try {
            if (size[0] > 0 && size[1] > 0) preprocessing.resizeOf(size[0], size[1]);
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

    /**
     * The class names.
     *
     * @return the labels
     */
    public Labels labels() {
        return labels;
    }

    /**
     * Side of the square model input (an IllegalStateException for a non-square one: see {@link #inputHeight()}).
     *
     * @return the input side
     */
    public int inputSize() {
        return preprocessing.size();
    }

    /**
     * The height of the model input.
     *
     * @return the height in pixels
     */
    public int inputHeight() {
        return preprocessing.height();
    }

    /**
     * The width of the model input.
     *
     * @return the width in pixels
     */
    public int inputWidth() {
        return preprocessing.width();
    }

    /**
     * Images per forward in {@link #classifyAll}.
     *
     * @return the batch size
     */
    public int batchSize() {
        return batch;
    }

    /**
     * The predictor that runs the model.
     *
     * @return the predictor
     */
    public Predictor predictor() {
        return predictor;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the classifier has been closed");
    }

    /** Closes the predictor and model if {@link #open} made them; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (model != null) {
            try {
                predictor.close();
            } finally {
                model.close();
            }
        }
    }
}
