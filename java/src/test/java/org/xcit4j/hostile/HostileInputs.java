package org.xcit4j.hostile;

import static org.xcit4j.io.IoTestSupport.concat;
import static org.xcit4j.io.IoTestSupport.npy;
import static org.xcit4j.io.IoTestSupport.write;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.xcit4j.TestData;
import org.xcit4j.image.ImageLoadException;
import org.xcit4j.image.ImageTooLargeException;
import org.xcit4j.io.CheckpointException;

/** Hostile model inputs: .npy arrays and images that lie about their size or hide a bomb. */
final class HostileInputs {
    private static final Case.Reader NPY = Case.Reader.NPY, IMAGE = Case.Reader.IMAGE;

    private HostileInputs() {
    }

    static List<Case> npyFiles(Path dir) throws IOException {
        List<Case> c = new ArrayList<>();
        byte[] v2 = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f};
        c.add(Case.of("header length 2 GiB", NPY, write(dir.resolve("hlen.npy"), concat(v2, new byte[64])),
                CheckpointException.class, "exceeds the 1048576-byte limit"));
        // A well-formed 384 GiB array: sparse, so it takes no disk; reading it must be refused
        // against the memory available, not attempted.
        Path huge = write(dir.resolve("huge.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 262144, 131072), }",
                new byte[0]));
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(f.length() + 3L * 262144 * 131072 * Float.BYTES);
        }
        c.add(Case.of("valid 384 GiB array (sparse file)", NPY, huge, CheckpointException.class, "memory available"));
        c.add(Case.of("shape overflowing 64 bits", NPY, write(dir.resolve("overflow.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", new byte[4])),
                CheckpointException.class, "overflows"));
        c.add(Case.of("data shorter than the shape", NPY, write(dir.resolve("short.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }", new byte[8])),
                CheckpointException.class, "array data truncated"));
        String deep = "(".repeat(100_000) + ")".repeat(100_000);
        c.add(Case.of("header literal nested 100,000 deep", NPY, write(dir.resolve("deep.npy"),
                npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + deep + ", }", new byte[0])),
                CheckpointException.class, "malformed .npy header"));
        return c;
    }

    static List<Case> imageFiles(Path dir) throws IOException {
        List<Case> c = new ArrayList<>();
        c.add(Case.of("PNG header declaring 100,000 x 100,000", IMAGE, write(dir.resolve("bomb.png"), HostilePng.gray(100_000, 100_000, new byte[0])),
                ImageTooLargeException.class, "over the limit"));
        byte[] noise = new byte[256 * 257];
        new java.util.Random(14).nextBytes(noise);
        for (int y = 0; y < 256; y++) noise[y * 257] = 0; // filter type None
        byte[] small = HostilePng.gray(256, 256, noise);
        c.add(Case.of("PNG truncated inside its data", IMAGE, write(dir.resolve("cut.png"), Arrays.copyOf(small, small.length / 2)),
                ImageLoadException.class));
        ByteBuffer bmp = ByteBuffer.allocate(54).order(ByteOrder.LITTLE_ENDIAN);
        bmp.put((byte) 'B').put((byte) 'M').putInt(54).putInt(0).putInt(54).putInt(40).putInt(60_000).putInt(60_000)
                .putShort((short) 1).putShort((short) 24).putInt(0).putInt(0).putInt(0).putInt(0).putInt(0).putInt(0);
        c.add(Case.of("BMP header declaring 60,000 x 60,000", IMAGE, write(dir.resolve("bomb.bmp"), bmp.array()),
                ImageLoadException.class));
        byte[] jpeg = Files.readAllBytes(TestData.root().resolve("testdata/images/photo444.jpg"));
        patchJpegSize(jpeg, 65_000, 65_000);
        c.add(Case.of("JPEG frame of 65,000 x 65,000", IMAGE, write(dir.resolve("bomb.jpg"), jpeg),
                ImageTooLargeException.class, "over the limit"));
        // 80 million pixels in one row (under the pixel limit): resized to a short side of 224 it
        // would be 17.9 billion pixels wide.
        c.add(Case.of("PNG of 80,000,000 x 1", IMAGE, write(dir.resolve("row.png"), HostilePng.grayZeros(80_000_000, 1)),
                ImageLoadException.class, "needs about", "memory"));
        return c;
    }

    /** Rewrites the height and width of the first SOFn marker. */
    private static void patchJpegSize(byte[] jpeg, int width, int height) {
        for (int i = 2; i + 9 < jpeg.length; ) {
            int marker = jpeg[i + 1] & 0xff, len = ((jpeg[i + 2] & 0xff) << 8) | (jpeg[i + 3] & 0xff);
            if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc) {
                ByteBuffer.wrap(jpeg, i + 5, 4).putShort((short) height).putShort((short) width);
                return;
            }
            i += 2 + len;
        }
        throw new IllegalArgumentException("no SOF marker");
    }
}
