package org.xcit4j.io;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.xcit4j.tensor.DType;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Reads and writes NumPy .npy files holding float32 little-endian C-order arrays, the only
 * kind this project exchanges (inputs, expected outputs, dumped features). The header is a
 * Python dict literal; it is parsed by {@link PyLiteral}, never evaluated. Any other dtype,
 * byte order or Fortran order is refused with a message naming what the file holds.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy itself refuses larger headers by default (max_header_size); ours are ~100 bytes. */
    private static final int MAX_HEADER_BYTES = 1 << 20;
    /** numpy pads headers so the data starts at a multiple of 64 bytes. */
    private static final int ALIGN = 64;
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    private static final Set<Object> HEADER_KEYS = Set.of("descr", "fortran_order", "shape");

    /** A parsed header: the array shape and the byte offset at which the data starts. */
    record Header(Shape shape, long dataOffset) {
        long dataBytes() {
            return shape.numel() * Float.BYTES;
        }
    }

    private Npy() {}

    /**
     * Reads a float32 array into {@code arena}.
     *
     * @param file a .npy file
     * @param arena owns the tensor
     * @return the array
     * @throws CheckpointException naming the file and the first problem found
     */
    public static Tensor read(Path file, Arena arena) throws CheckpointException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return read(in, Files.size(file), file, "", arena);
        } catch (IOException e) {
            throw CheckpointException.wrap(file, e);
        }
    }

    /**
     * The shape from the header alone, after the same checks as {@link #read} (dtype, order,
     * exact data length): lets a caller check rank and size before allocating.
     *
     * @param file a .npy file
     * @return its shape
     * @throws CheckpointException naming the file and the first problem found
     */
    public static Shape readShape(Path file) throws CheckpointException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 4096)) {
            Header h = readHeader(in, file, "");
            checkLength(file, "", h, Files.size(file) - h.dataOffset());
            return h.shape();
        } catch (IOException e) {
            throw CheckpointException.wrap(file, e);
        }
    }

    /**
     * Writes {@code tensor} as a version 1.0 .npy file, dtype '&lt;f4', C order.
     *
     * @param file the file written
     * @param tensor the array
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, Tensor tensor) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            write(out, tensor);
        }
    }

    /** Writes the .npy encoding of {@code tensor} to {@code out}. */
    static void write(OutputStream out, Tensor tensor) throws IOException {
        out.write(header(tensor.shape()));
        Elements.writeF32(out, tensor.segment());
    }

    /** The complete v1.0 header (magic, version, length, padded dict) for a float32 array. */
    static byte[] header(Shape shape) {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        // numpy reserves room for the first dimension to grow to 21 digits (appending in place);
        // doing the same makes our files byte-identical to np.save's.
        if (shape.rank() > 0) dict += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape.dim(0)).length()));
        int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
        int total = (unpadded + ALIGN - 1) / ALIGN * ALIGN;
        int headerLen = total - MAGIC.length - 4;
        if (headerLen > 0xffff) throw new IllegalArgumentException("shape " + shape + " is too long for a .npy v1.0 header");
        byte[] out = new byte[total];
        System.arraycopy(MAGIC, 0, out, 0, MAGIC.length);
        out[6] = 1;
        out[7] = 0;
        out[8] = (byte) headerLen;
        out[9] = (byte) (headerLen >>> 8);
        byte[] d = dict.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(d, 0, out, 10, d.length);
        Arrays.fill(out, 10 + d.length, total - 1, (byte) ' ');
        out[total - 1] = '\n';
        return out;
    }

    /**
     * Reads one .npy from {@code in} whose total length is {@code totalBytes}; the length is
     * checked against the header before anything is allocated. {@code entry} names the
     * member of an archive in messages, or is empty for a plain file.
     */
    static Tensor read(InputStream in, long totalBytes, Path file, String entry, Arena arena) throws IOException {
        Header h = readHeader(in, file, entry);
        checkLength(file, entry, h, totalBytes - h.dataOffset());
        MemoryCheck.require(file, h.dataBytes(), prefix(entry) + "the array " + h.shape());
        Tensor t = Tensor.allocate(arena, h.shape());
        try {
            Elements.read(in, DType.F32, t.numel(), t.segment(), 0);
        } catch (EOFException e) {
            throw new CheckpointException(file, prefix(entry) + "array data truncated: " + e.getMessage());
        }
        if (in.read() >= 0) {
            throw new CheckpointException(file, prefix(entry) + "data continues past the " + h.dataBytes()
                    + " bytes of shape " + h.shape());
        }
        return t;
    }

    static Header readHeader(InputStream in, Path file, String entry) throws IOException {
        String where = prefix(entry);
        byte[] start = in.readNBytes(MAGIC.length + 2);
        if (start.length < MAGIC.length + 2 || !Arrays.equals(start, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new CheckpointException(file, where + "not a .npy file (missing the \\x93NUMPY magic)");
        }
        int major = start[6] & 0xff;
        int minor = start[7] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw new CheckpointException(file, where + ".npy format version " + major + "." + minor
                    + " is not supported (expected 1.0, 2.0 or 3.0)");
        }
        int lenBytes = major == 1 ? 2 : 4;
        byte[] len = in.readNBytes(lenBytes);
        if (len.length < lenBytes) throw new CheckpointException(file, where + ".npy header truncated");
        long headerLen = 0;
        for (int i = lenBytes - 1; i >= 0; i--) headerLen = (headerLen << 8) | (len[i] & 0xff);
        if (headerLen > MAX_HEADER_BYTES) {
            throw new CheckpointException(file, where + ".npy header length " + headerLen + " exceeds the "
                    + MAX_HEADER_BYTES + "-byte limit");
        }
        byte[] text = in.readNBytes((int) headerLen);
        if (text.length < headerLen) {
            throw new CheckpointException(file, where + ".npy header truncated (" + text.length + " of " + headerLen + " bytes)");
        }
        // Versions 1 and 2 store the dict in latin-1, version 3 in UTF-8.
        String dict = new String(text, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Shape shape = parseDict(file, where, dict);
        return new Header(shape, MAGIC.length + 2 + lenBytes + headerLen);
    }

    private static Shape parseDict(Path file, String where, String text) throws CheckpointException {
        Object parsed;
        try {
            parsed = PyLiteral.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, where + "malformed .npy header: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> dict) || !dict.keySet().equals(HEADER_KEYS)) {
            throw new CheckpointException(file, where + ".npy header must be a dict with exactly the keys "
                    + "'descr', 'fortran_order' and 'shape', got " + abbreviate(text.strip()));
        }
        Object descr = dict.get("descr");
        if (!"<f4".equals(descr)) {
            throw new CheckpointException(file, where + "dtype " + abbreviate(PyLiteral.repr(descr))
                    + " is not supported, expected float32 ('<f4')");
        }
        Object fortran = dict.get("fortran_order");
        if (!(fortran instanceof Boolean f)) {
            throw new CheckpointException(file, where + ".npy header 'fortran_order' must be True or False, got "
                    + abbreviate(PyLiteral.repr(fortran)));
        }
        if (f) {
            throw new CheckpointException(file, where + "fortran_order=True is not supported, expected C order "
                    + "(save with np.ascontiguousarray)");
        }
        Object shape = dict.get("shape");
        if (!(shape instanceof PyLiteral.Tuple(List<Object> items))) {
            throw new CheckpointException(file, where + ".npy header 'shape' must be a tuple of integers, got "
                    + abbreviate(PyLiteral.repr(shape)));
        }
        long[] dims = new long[items.size()];
        long numel = 1;
        for (int i = 0; i < dims.length; i++) {
            if (!(items.get(i) instanceof Long d) || d < 0) {
                throw new CheckpointException(file, where + ".npy header 'shape' " + abbreviate(shape.toString())
                        + " must hold non-negative integers");
            }
            dims[i] = d;
            try {
                numel = Math.multiplyExact(numel, d);
                Math.multiplyExact(numel, Float.BYTES);
            } catch (ArithmeticException e) {
                throw new CheckpointException(file, where + ".npy header 'shape' " + abbreviate(shape.toString()) + " overflows");
            }
        }
        return Shape.of(dims);
    }

    private static void checkLength(Path file, String entry, Header h, long dataBytes) throws CheckpointException {
        long want = h.dataBytes();
        if (dataBytes < want) {
            throw new CheckpointException(file, prefix(entry) + "array data truncated: " + Math.max(dataBytes, 0)
                    + " bytes present, shape " + h.shape() + " of float32 needs " + want);
        }
        if (dataBytes > want) {
            throw new CheckpointException(file, prefix(entry) + "array data is " + dataBytes + " bytes, but shape "
                    + h.shape() + " of float32 needs " + want + " (header shape does not match the data)");
        }
    }

    private static String prefix(String entry) {
        return entry.isEmpty() ? "" : entry + ": ";
    }

    private static String abbreviate(String s) {
        String line = s.replace('\n', ' ');
        return line.length() <= 200 ? line : line.substring(0, 200) + "...";
    }
}
