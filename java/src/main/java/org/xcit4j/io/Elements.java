package org.xcit4j.io;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.xcit4j.tensor.DType;
import org.xcit4j.tensor.Tensor;

/**
 * Element conversion between the little-endian bytes of weight files and float32 tensors,
 * shared by every reader so each dtype is decoded in exactly one place. Sources may be
 * mapped files or heap chunks, so all layouts are unaligned.
 */
final class Elements {
    private static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Chunk for streamed reads and writes; a multiple of every element size. */
    private static final int CHUNK = 1 << 20;

    private Elements() {}

    /**
     * Decodes {@code count} little-endian elements of {@code type} at byte {@code srcOffset} of
     * {@code src} into float32 elements {@code [dstIndex, dstIndex + count)} of {@code dst}.
     * Every conversion is exact except F64, I64 and I32 beyond 2^24, which round to nearest.
     */
    static void decode(MemorySegment src, long srcOffset, DType type, long count, MemorySegment dst, long dstIndex) {
        long d = dstIndex * Float.BYTES;
        switch (type) {
            case F32 -> MemorySegment.copy(src, LE_F32, srcOffset, dst, Tensor.F32, d, count);
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    short h = src.get(LE_I16, srcOffset + 2 * i);
                    dst.set(Tensor.F32, d + 4 * i, Float.float16ToFloat(h));
                }
            }
            case BF16 -> {
                // bfloat16 is the upper half of a float32: widening is a shift, exact for all values.
                for (long i = 0; i < count; i++) {
                    int bits = (src.get(LE_I16, srcOffset + 2 * i) & 0xffff) << 16;
                    dst.set(Tensor.F32, d + 4 * i, Float.intBitsToFloat(bits));
                }
            }
            case F64 -> {
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, (float) src.get(LE_F64, srcOffset + 8 * i));
            }
            case I64 -> {
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, (float) src.get(LE_I64, srcOffset + 8 * i));
            }
            case I32 -> {
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, (float) src.get(LE_I32, srcOffset + 4 * i));
            }
            case I16 -> {
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, src.get(LE_I16, srcOffset + 2 * i));
            }
            case I8 -> {
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, src.get(ValueLayout.JAVA_BYTE, srcOffset + i));
            }
            case U8 -> {
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, src.get(ValueLayout.JAVA_BYTE, srcOffset + i) & 0xff);
            }
            case BOOL -> {
                // torch and numpy store bools as one byte 0/1; any non-zero byte reads as true.
                for (long i = 0; i < count; i++) dst.set(Tensor.F32, d + 4 * i, src.get(ValueLayout.JAVA_BYTE, srcOffset + i) != 0 ? 1f : 0f);
            }
        }
    }

    /**
     * Reads exactly {@code count} elements of {@code type} from {@code in} into float32
     * elements starting at {@code dstIndex} of {@code dst}, without buffering the whole
     * payload on the heap.
     *
     * @throws EOFException if the stream ends first; the message says how many bytes came
     */
    static void read(InputStream in, DType type, long count, MemorySegment dst, long dstIndex) throws IOException {
        int size = type.byteSize();
        long total = Math.multiplyExact(count, size);
        byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(total, 1))];
        MemorySegment chunkSeg = MemorySegment.ofArray(chunk);
        long done = 0;
        while (done < total) {
            int want = (int) Math.min(chunk.length, total - done);
            int got = in.readNBytes(chunk, 0, want);
            if (got < want) {
                throw new EOFException((done + got) + " of " + total + " bytes present");
            }
            decode(chunkSeg, 0, type, want / size, dst, dstIndex + done / size);
            done += want;
        }
    }

    /** Writes the float32 elements of {@code src} to {@code out} little-endian. */
    static void writeF32(OutputStream out, MemorySegment src) throws IOException {
        long count = src.byteSize() / Float.BYTES;
        byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(src.byteSize(), 1))];
        MemorySegment chunkSeg = MemorySegment.ofArray(chunk);
        for (long i = 0; i < count; ) {
            int n = (int) Math.min(chunk.length / Float.BYTES, count - i);
            MemorySegment.copy(src, Tensor.F32, i * Float.BYTES, chunkSeg, LE_F32, 0, n);
            out.write(chunk, 0, n * Float.BYTES);
            i += n;
        }
    }
}
