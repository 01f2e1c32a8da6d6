package org.xcit4j.image;

import java.util.Map;
import java.util.OptionalInt;

/**
 * Reading the classifier-relevant entries of a checkpoint's metadata ({@link
 * org.xcit4j.model.Xcit#metadata()}): the input side the model was trained at.
 */
final class CheckpointMetadata {
    /** Metadata key with the input side the model was trained at, e.g. "32" or "224". */
    public static final String INPUT_SIZE = "input_size";

    private CheckpointMetadata() {
    }

    /** The {@value #INPUT_SIZE} entry as a positive integer, if present; malformed is an error. */
    public static OptionalInt inputSize(String source, Map<String, String> metadata) {
        String v = metadata.get(INPUT_SIZE);
        if (v == null) return OptionalInt.empty();
        try {
            int s = Integer.parseInt(v.strip());
            if (s > 0) return OptionalInt.of(s);
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(source + ": metadata '" + INPUT_SIZE + "' is '" + v + "', expected a positive integer");
    }
}
