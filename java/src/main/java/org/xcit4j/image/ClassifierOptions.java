package org.xcit4j.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.model.ModelZoo;

/**
 * How {@link Classifier#open} sets itself up; every field has a default ({@link #DEFAULT}).
 *
 * @param device     where the session runs
 * @param precision  its arithmetic (refused by the backend where the device cannot do it)
 * @param batch      images per forward (the session's batch size)
 * @param size       input side; when empty, taken from the checkpoint (see {@link #resolveSize})
 * @param model      a zoo name to check the checkpoint against (and to take the size from)
 * @param tokensNorm class-attention norm, for custom architectures without metadata
 * @param labelsFile class names overriding the checkpoint's (see {@link Labels#read})
 * @param maxPixels  decompression-bomb limit of the decoder
 * @param notes      receives device-selection notes and checkpoint warnings; by default the
 *                   {@link System.Logger} named after {@link Classifier} at INFO
 */
public record ClassifierOptions(Device device, Precision precision, int batch, OptionalInt size, Optional<String> model,
                                Optional<Boolean> tokensNorm, Optional<Path> labelsFile, long maxPixels,
                                Consumer<String> notes) {
    public static final ClassifierOptions DEFAULT = new ClassifierOptions(Device.AUTO, Precision.FP32, 1, OptionalInt.empty(),
            Optional.empty(), Optional.empty(), Optional.empty(), ImageDecoder.DEFAULT_MAX_PIXELS,
            note -> System.getLogger(Classifier.class.getName()).log(System.Logger.Level.INFO, note));

    /**
     * Checks the options.
     *
     * @throws NullPointerException if device or precision is null
     * @throws IllegalArgumentException if batch, size or maxPixels is not positive
     */
    public ClassifierOptions {
        Objects.requireNonNull(device);
        Objects.requireNonNull(precision);
        if (batch < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batch);
        if (size.isPresent() && size.getAsInt() < 1) throw new IllegalArgumentException("input size must be positive, got " + size.getAsInt());
        if (maxPixels < 1) throw new IllegalArgumentException("the pixel limit must be positive, got " + maxPixels);
    }

    /**
     * A copy with another device.
     *
     * @param d where the session runs
     * @return the new options
     */
    public ClassifierOptions withDevice(Device d) {
        return new ClassifierOptions(d, precision, batch, size, model, tokensNorm, labelsFile, maxPixels, notes);
    }

    /**
     * A copy with another precision.
     *
     * @param p the arithmetic
     * @return the new options
     */
    public ClassifierOptions withPrecision(Precision p) {
        return new ClassifierOptions(device, p, batch, size, model, tokensNorm, labelsFile, maxPixels, notes);
    }

    /**
     * A copy with another batch size.
     *
     * @param b images per forward, at least 1
     * @return the new options
     */
    public ClassifierOptions withBatch(int b) {
        return new ClassifierOptions(device, precision, b, size, model, tokensNorm, labelsFile, maxPixels, notes);
    }

    /**
     * {@code null} means: from the checkpoint.
     *
     * @param s the input side, or null for the checkpoint's
     * @return the new options
     */
    public ClassifierOptions withSize(Integer s) {
        return new ClassifierOptions(device, precision, batch, s == null ? OptionalInt.empty() : OptionalInt.of(s), model,
                tokensNorm, labelsFile, maxPixels, notes);
    }

    /**
     * A copy with another zoo model name.
     *
     * @param name a zoo name, or null for none
     * @return the new options
     */
    public ClassifierOptions withModel(String name) {
        return new ClassifierOptions(device, precision, batch, size, Optional.ofNullable(name), tokensNorm, labelsFile, maxPixels,
                notes);
    }

    /**
     * A copy with another tokens_norm.
     *
     * @param t the class-attention norm, or null to infer it
     * @return the new options
     */
    public ClassifierOptions withTokensNorm(Boolean t) {
        return new ClassifierOptions(device, precision, batch, size, model, Optional.ofNullable(t), labelsFile, maxPixels, notes);
    }

    /**
     * A copy with another labels file.
     *
     * @param p a labels file, or null for the checkpoint's names
     * @return the new options
     */
    public ClassifierOptions withLabelsFile(Path p) {
        return new ClassifierOptions(device, precision, batch, size, model, tokensNorm, Optional.ofNullable(p), maxPixels, notes);
    }

    /**
     * A copy with another pixel limit.
     *
     * @param m the decoder's pixel limit, positive
     * @return the new options
     */
    public ClassifierOptions withMaxPixels(long m) {
        return new ClassifierOptions(device, precision, batch, size, model, tokensNorm, labelsFile, m, notes);
    }

    /**
     * A copy with another notes receiver.
     *
     * @param n receives the notes instead of the System.Logger
     * @return the new options
     */
    public ClassifierOptions withNotes(Consumer<String> n) {
        return new ClassifierOptions(device, precision, batch, size, model, tokensNorm, labelsFile, maxPixels,
                Objects.requireNonNull(n));
    }

    /**
     * The input side: the explicit size, else the checkpoint metadata's {@code input_size},
     * else the zoo entry of {@link #model()} (224 or 384), else an error asking for one.
     *
     * @param source names the checkpoint in messages
     * @param metadata the checkpoint's metadata
     * @return the input side
     * @throws IllegalArgumentException if nothing gives a size
     */
    public int resolveSize(String source, Map<String, String> metadata) {
        if (size.isPresent()) return size.getAsInt();
        OptionalInt meta = CheckpointMetadata.inputSize(source, metadata);
        if (meta.isPresent()) return meta.getAsInt();
        if (model.isPresent()) return ModelZoo.require(model.get()).inputSize();
        throw new IllegalArgumentException(source + ": the input size is unknown (no '" + CheckpointMetadata.INPUT_SIZE
                + "' metadata and no zoo model name): give ClassifierOptions.withSize (e.g. 224) or ClassifierOptions.withModel (e.g. xcit_small_12_p16_224)");
    }

    /**
     * The class names: {@link #labelsFile()} if given, else as {@link Labels#forModel}.
     *
     * @param source names the checkpoint in messages
     * @param metadata the checkpoint's metadata
     * @param numClasses the model's classes
     * @return one name per class
     * @throws IOException if the labels file cannot be read
     * @throws IllegalArgumentException if the names do not match the classes
     */
    public Labels labelsFor(String source, Map<String, String> metadata, int numClasses) throws IOException {
        if (labelsFile.isPresent()) return Labels.read(labelsFile.get()).requireSize(numClasses, labelsFile.get().toString());
        return Labels.forModel(source, metadata, numClasses);
    }
}
