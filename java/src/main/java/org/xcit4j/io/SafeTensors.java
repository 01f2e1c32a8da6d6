package org.xcit4j.io;

import com.google.gson.stream.JsonWriter;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.xcit4j.tensor.DType;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes
 * of UTF-8 JSON ({@code {key: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
 * {...}}}), then the byte buffer the offsets index. Reading maps the file and converts each
 * tensor into the caller's arena, so an 800 MB checkpoint never passes through the Java heap.
 */
public final class SafeTensors {
    /**
     * Headers above this are refused before allocation: real headers are a few hundred bytes
     * per tensor, so 100 MiB would describe far more tensors than any model has.
     */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private SafeTensors() {}

    /**
     * Reads every tensor of {@code file} as float32, after validating the whole header (see
     * {@link SafeTensorsHeader}) against the file size. Native-order F32 payloads are
     * read-only views of the file mapped in {@code arena} (like the safetensors library, the
     * file must then stay unmodified while the arena is open); other types are converted into
     * {@code arena} memory.
     *
     * @throws CheckpointException naming the file and the first problem found
     *
     * @param file a .safetensors file
     * @param arena owns the tensors (and the mapping)
     * @return the tensors and metadata
     */
    public static StateDict read(Path file, Arena arena) throws CheckpointException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena mapping = Arena.ofConfined()) {
            long size = ch.size();
            if (size < 8) {
                throw new CheckpointException(file, "file is " + size + " bytes, too short for a safetensors header");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(file, ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (Long.compareUnsigned(n, size - 8) > 0) {
                throw new CheckpointException(file, "safetensors header length " + Long.toUnsignedString(n)
                        + " exceeds the file size (" + size + " bytes): file truncated or not a safetensors file");
            }
            if (n < 2 || n > MAX_HEADER_BYTES) {
                throw new CheckpointException(file, "safetensors header length " + n
                        + " is implausible (expected 2 to " + MAX_HEADER_BYTES + " bytes); not a safetensors file?");
            }
            byte[] json = new byte[(int) n];
            readFully(file, ch, ByteBuffer.wrap(json), 8);
            long bufferSize = size - 8 - n;
            SafeTensorsHeader header = SafeTensorsHeader.parse(file, json, bufferSize);
            long converted = 0;
            for (SafeTensorsHeader.Info info : header.tensors()) if (!viewable(info, 8 + n)) converted += info.numel() * Float.BYTES;
            MemoryCheck.require(file, converted, "converting its tensors to float32");

            // Tensors that need converting are copied through a mapping in a private arena,
            // released as soon as the copies are made. F32 payloads that are already native
            // float32 are not copied at all: they become views of a read-only mapping that lives
            // as long as `arena`, so a weight occupies memory only while it is paged in, and a
            // backend that packs it into its own layout can give the pages back (unload()).
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 8 + n, bufferSize, mapping);
            MemorySegment views = null;
            StateDict out = new StateDict(file, header.metadata());
            for (SafeTensorsHeader.Info info : header.tensors()) {
                Shape shape = Shape.of(info.shape());
                Tensor t;
                if (viewable(info, 8 + n)) {
                    if (views == null) views = ch.map(FileChannel.MapMode.READ_ONLY, 8 + n, bufferSize, arena);
                    t = Tensor.wrap(views.asSlice(info.begin(), info.numel() * Float.BYTES), shape);
                } else {
                    t = Tensor.allocate(arena, shape);
                    Elements.decode(data, info.begin(), info.type(), info.numel(), t.segment(), 0);
                }
                out.put(info.key(), t, info.type());
            }
            return out;
        } catch (IOException e) {
            throw CheckpointException.wrap(file, e);
        }
    }

    /** An F32 payload at a float-aligned file offset on a little-endian machine: usable in place. */
    private static boolean viewable(SafeTensorsHeader.Info info, long dataStart) {
        return info.type() == DType.F32 && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN
                && (dataStart + info.begin()) % Float.BYTES == 0 && info.numel() > 0;
    }

    /**
     * Writes {@code tensors} as F32 in map order, with no metadata.
     *
     * @param file the file written
     * @param tensors the tensors by name
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} as F32, payloads packed in map order, with string
     * {@code metadata} under {@code __metadata__} when it is non-empty.
     *
     * @param file the file written
     * @param tensors the tensors by name
     * @param metadata string metadata, possibly empty
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = headerJson(tensors, metadata).getBytes(StandardCharsets.UTF_8);
        // Pad with spaces to a multiple of 8 so the buffer starts aligned, as the reference writer does.
        int padded = (header.length + 7) & ~7;
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
            out.write(len.array());
            out.write(header);
            for (int i = header.length; i < padded; i++) out.write(' ');
            for (Tensor t : tensors.values()) Elements.writeF32(out, t.segment());
        }
    }

    private static String headerJson(Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        StringWriter s = new StringWriter();
        try (JsonWriter w = new JsonWriter(s)) {
            w.beginObject();
            if (!metadata.isEmpty()) {
                w.name("__metadata__").beginObject();
                for (Map.Entry<String, String> e : metadata.entrySet()) w.name(e.getKey()).value(e.getValue());
                w.endObject();
            }
            long offset = 0;
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
                }
                Tensor t = e.getValue();
                long bytes = t.numel() * Float.BYTES;
                w.name(e.getKey()).beginObject();
                w.name("dtype").value("F32");
                w.name("shape").beginArray();
                for (long d : t.shape().dims()) w.value(d);
                w.endArray();
                w.name("data_offsets").beginArray().value(offset).value(offset + bytes).endArray();
                w.endObject();
                offset += bytes;
            }
            w.endObject();
        }
        return s.toString();
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) throw new CheckpointException(file, "unexpected end of file at byte " + pos);
            pos += n;
        }
    }
}
