package org.xcit4j.image;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The string metadata a classifier needs from a checkpoint ({@code labels}, {@code input_size})
 * without loading its tensors: the {@code __metadata__} object of a safetensors header. Other
 * formats (torch .pth zips) have none and give an empty map.
 *
 * <p>Stop-gap until the model exposes the metadata it already reads (the loader has it in
 * {@code StateDict.metadata()}); then this header read can go.
 */
public final class CheckpointMetadata {
    /** Metadata key with the input side the model was trained at, e.g. "32" or "224". */
    public static final String INPUT_SIZE = "input_size";
    /** Same bound as the safetensors reference implementation (100 MB). */
    private static final long MAX_HEADER = 100L << 20;

    private CheckpointMetadata() {
    }

    /** The metadata of {@code file}; empty when it is not a safetensors file or has none. */
    public static Map<String, String> read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] len = in.readNBytes(8);
            if (len.length < 8 || (len[0] == 'P' && len[1] == 'K')) return Map.of();
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 2 || n > MAX_HEADER || n > Files.size(file) - 8) return Map.of(); // the loader reports a bad file
            String json = new String(in.readNBytes((int) n), StandardCharsets.UTF_8);
            JsonElement meta = JsonParser.parseString(json).getAsJsonObject().get("__metadata__");
            Map<String, String> out = new LinkedHashMap<>();
            if (meta instanceof JsonObject o) {
                for (Map.Entry<String, JsonElement> e : o.entrySet()) {
                    if (e.getValue().isJsonPrimitive()) out.put(e.getKey(), e.getValue().getAsString());
                }
            }
            return Map.copyOf(out);
        } catch (JsonParseException | IllegalStateException e) {
            return Map.of(); // not a safetensors header: the loader gives the real error
        }
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
