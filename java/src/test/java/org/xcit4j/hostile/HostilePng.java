package org.xcit4j.hostile;

import static org.xcit4j.io.IoTestSupport.concat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.DeflaterOutputStream;

/** PNG files written chunk by chunk, so a header can declare any size and the data be anything. */
public final class HostilePng {
    private HostilePng() {
    }

    /** An 8-bit gray PNG of {@code width x height} whose filtered scanlines ({@code 1 + width} bytes each) are {@code raw}. */
    public static byte[] gray(int width, int height, byte[] raw) throws IOException {
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(idat)) {
            z.write(raw);
        }
        return assemble(width, height, idat.toByteArray());
    }

    /** A valid all-black 8-bit gray PNG; the rows are streamed into the compressor, so any size costs little memory. */
    public static byte[] grayZeros(int width, int height) throws IOException {
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(idat)) {
            byte[] zeros = new byte[1 << 20];
            long total = (long) height * (width + 1L);
            for (long done = 0; done < total; done += zeros.length) z.write(zeros, 0, (int) Math.min(zeros.length, total - done));
        }
        return assemble(width, height, idat.toByteArray());
    }

    private static byte[] assemble(int width, int height, byte[] idat) {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) 0)
                .put((byte) 0).put((byte) 0).put((byte) 0);
        byte[] signature = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        return concat(signature, chunk("IHDR", ihdr.array()), chunk("IDAT", idat), chunk("IEND", new byte[0]));
    }

    private static byte[] chunk(String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        return concat(ByteBuffer.allocate(4).putInt(data.length).array(), t, data, ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }
}
