package org.xcit4j.io;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.xcit4j.tensor.DType;

/**
 * The JSON header of a safetensors file, parsed and checked against the size of the byte
 * buffer that follows it before a single tensor byte is trusted: every dtype known, every
 * shape non-negative without overflow, every payload exactly numel * itemsize bytes inside
 * the buffer, no two payloads overlapping, no key twice.
 */
final class SafeTensorsHeader {
    /** One tensor's description; offsets are relative to the start of the byte buffer. */
    record Info(String key, DType type, long[] shape, long numel, long begin, long end) {}

    private static final Map<String, DType> DTYPES = Map.of(
            "F32", DType.F32, "F16", DType.F16, "BF16", DType.BF16, "F64", DType.F64,
            "I64", DType.I64, "I32", DType.I32, "I16", DType.I16, "I8", DType.I8,
            "U8", DType.U8, "BOOL", DType.BOOL);

    private final List<Info> tensors;
    private final Map<String, String> metadata;

    private SafeTensorsHeader(List<Info> tensors, Map<String, String> metadata) {
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Tensors in header order. */
    List<Info> tensors() {
        return tensors;
    }

    Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Parses {@code json} (the header bytes) of {@code file} whose byte buffer holds
     * {@code bufferSize} bytes.
     */
    static SafeTensorsHeader parse(Path file, byte[] json, long bufferSize) throws CheckpointException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file, "safetensors header is not valid UTF-8");
        }
        List<Info> tensors = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try (JsonReader r = new JsonReader(new StringReader(text))) {
            // STRICT: a weight file is machine-written; anything lenient parsing would forgive
            // (comments, single quotes, NaN) means it is corrupt or not what it claims to be.
            r.setStrictness(Strictness.STRICT);
            expect(file, r, JsonToken.BEGIN_OBJECT, "the safetensors header");
            r.beginObject();
            Set<String> seen = new HashSet<>();
            boolean metadataSeen = false;
            while (r.hasNext()) {
                String key = r.nextName();
                if (key.equals("__metadata__")) {
                    if (metadataSeen) throw new CheckpointException(file, "duplicate '__metadata__' in safetensors header");
                    metadataSeen = true;
                    readMetadata(file, r, metadata);
                } else {
                    if (!seen.add(key)) throw new CheckpointException(file, "duplicate tensor '" + key + "' in safetensors header");
                    tensors.add(readInfo(file, r, key, bufferSize));
                }
            }
            r.endObject();
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new CheckpointException(file, "malformed safetensors header JSON: data after the top-level object");
            }
        } catch (MalformedJsonException | IllegalStateException | NumberFormatException | java.io.EOFException e) {
            throw new CheckpointException(file, "malformed safetensors header JSON: " + firstLine(e.getMessage()));
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw new CheckpointException(file, "malformed safetensors header JSON: " + firstLine(e.getMessage()));
        }
        checkOverlaps(file, tensors);
        return new SafeTensorsHeader(List.copyOf(tensors), metadata);
    }

    private static void readMetadata(Path file, JsonReader r, Map<String, String> out) throws IOException {
        expect(file, r, JsonToken.BEGIN_OBJECT, "'__metadata__'");
        r.beginObject();
        while (r.hasNext()) {
            String k = r.nextName();
            // The format defines metadata as a string-to-string map.
            expect(file, r, JsonToken.STRING, "'__metadata__' entry '" + k + "'");
            if (out.put(k, r.nextString()) != null) {
                throw new CheckpointException(file, "duplicate '__metadata__' entry '" + k + "'");
            }
        }
        r.endObject();
    }

    private static Info readInfo(Path file, JsonReader r, String key, long bufferSize) throws IOException {
        String where = "tensor '" + key + "'";
        expect(file, r, JsonToken.BEGIN_OBJECT, where);
        r.beginObject();
        DType type = null;
        long[] shape = null;
        long[] offsets = null;
        while (r.hasNext()) {
            String field = r.nextName();
            switch (field) {
                case "dtype" -> {
                    if (type != null) throw new CheckpointException(file, where + ": duplicate field 'dtype'");
                    expect(file, r, JsonToken.STRING, where + " field 'dtype'");
                    String name = r.nextString();
                    type = DTYPES.get(name);
                    if (type == null) {
                        throw new CheckpointException(file, where + ": dtype '" + name
                                + "' is not supported (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
                    }
                }
                case "shape" -> {
                    if (shape != null) throw new CheckpointException(file, where + ": duplicate field 'shape'");
                    shape = readLongs(file, r, where + " field 'shape'");
                }
                case "data_offsets" -> {
                    if (offsets != null) throw new CheckpointException(file, where + ": duplicate field 'data_offsets'");
                    offsets = readLongs(file, r, where + " field 'data_offsets'");
                }
                // Other writers may add fields; they describe nothing this reader uses.
                default -> r.skipValue();
            }
        }
        r.endObject();
        if (type == null || shape == null || offsets == null) {
            String missing = type == null ? "dtype" : shape == null ? "shape" : "data_offsets";
            throw new CheckpointException(file, where + ": missing field '" + missing + "'");
        }
        if (offsets.length != 2) {
            throw new CheckpointException(file, where + ": 'data_offsets' must be [begin, end], got " + offsets.length + " numbers");
        }
        long numel = 1;
        long bytes;
        try {
            for (long d : shape) numel = Math.multiplyExact(numel, d);
            bytes = Math.multiplyExact(numel, type.byteSize());
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, where + ": shape " + java.util.Arrays.toString(shape) + " overflows");
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw new CheckpointException(file, where + ": data_offsets [" + begin + ", " + end + "] end before begin");
        }
        if (end > bufferSize) {
            throw new CheckpointException(file, where + ": data_offsets [" + begin + ", " + end
                    + "] lie outside the " + bufferSize + "-byte data buffer (file truncated?)");
        }
        if (end - begin != bytes) {
            throw new CheckpointException(file, where + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes but shape " + java.util.Arrays.toString(shape) + " of " + type + " needs " + bytes);
        }
        return new Info(key, type, shape, numel, begin, end);
    }

    /** A JSON array of non-negative integers. */
    private static long[] readLongs(Path file, JsonReader r, String where) throws IOException {
        expect(file, r, JsonToken.BEGIN_ARRAY, where);
        r.beginArray();
        List<Long> values = new ArrayList<>();
        while (r.hasNext()) {
            if (r.peek() != JsonToken.NUMBER) {
                throw new CheckpointException(file, where + " must hold non-negative integers, found " + r.peek());
            }
            String s = r.nextString();
            long v;
            try {
                v = Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new CheckpointException(file, where + " must hold non-negative integers, found " + s);
            }
            if (v < 0) throw new CheckpointException(file, where + " must hold non-negative integers, found " + s);
            values.add(v);
        }
        r.endArray();
        return values.stream().mapToLong(Long::longValue).toArray();
    }

    private static void expect(Path file, JsonReader r, JsonToken token, String what) throws IOException {
        JsonToken got = r.peek();
        if (got != token) {
            throw new CheckpointException(file, "malformed safetensors header: expected " + describe(token)
                    + " for " + what + ", found " + describe(got));
        }
    }

    private static String describe(JsonToken t) {
        return switch (t) {
            case BEGIN_OBJECT -> "an object";
            case BEGIN_ARRAY -> "an array";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case END_DOCUMENT -> "the end of the header";
            default -> t.name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    /** Payloads may leave gaps but must never share bytes: a shared byte is a corrupt or hostile file. */
    private static void checkOverlaps(Path file, List<Info> tensors) throws CheckpointException {
        List<Info> sorted = new ArrayList<>();
        for (Info i : tensors) if (i.end() > i.begin()) sorted.add(i);
        sorted.sort(Comparator.comparingLong(Info::begin));
        for (int k = 1; k < sorted.size(); k++) {
            Info a = sorted.get(k - 1);
            Info b = sorted.get(k);
            if (b.begin() < a.end()) {
                throw new CheckpointException(file, "tensors '" + a.key() + "' [" + a.begin() + ", " + a.end() + ") and '"
                        + b.key() + "' [" + b.begin() + ", " + b.end() + ") overlap in the data buffer");
            }
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unexpected end";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
