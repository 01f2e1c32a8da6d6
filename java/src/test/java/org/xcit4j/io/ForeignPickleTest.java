package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.xcit4j.io.IoTestSupport.assertRefused;
import static org.xcit4j.io.IoTestSupport.leFloats;
import static org.xcit4j.io.IoTestSupport.zip;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Objects of data libraries beside the state dict (mmengine's numpy scalars and HistoryBuffer
 * in 'meta' / 'message_hub') are inert placeholders; they cannot become state dict entries,
 * and every other global is still refused wherever it appears.
 */
class ForeignPickleTest {
    @TempDir
    Path dir;

    /** {'meta': META, 'state_dict': {'w': tensor(2)}} with META built by {@code meta}. */
    private Path checkpoint(java.util.function.Consumer<Pickle> meta) throws IOException {
        Pickle p = Pickle.proto(2).emptyDict().str("meta");
        meta.accept(p);
        p.setitem().str("state_dict").emptyDict().str("w")
                .tensor("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1}).setitem().setitem().stop();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", p.bytes());
        entries.put("archive/byteorder", "little".getBytes());
        entries.put("archive/data/0", leFloats(1.5f, -2f));
        entries.put("archive/version", "3\n".getBytes());
        return zip(Files.createTempFile(dir, "ckpt", ".pth"), entries);
    }

    @Test
    void numpyScalarAndMmengineObjectInMetaAreIgnored() throws IOException {
        Path f = checkpoint(p -> {
            p.emptyDict().str("seed");
            // numpy._core.multiarray.scalar(numpy.dtype('i8', False, True), b'...') with BUILD state on the dtype
            p.global("numpy._core.multiarray", "scalar").global("numpy", "dtype").str("i8").op(0x89, 0x88, 0x87).reduce()
                    .mark().integer(3).str("<").op('N').tuple().op('b')
                    .global("_codecs", "encode").str("*\0\0\0\0\0\0\0").str("latin1").op(0x86).reduce().op(0x86).reduce().setitem();
            // mmengine HistoryBuffer via NEWOBJ, its __dict__ applied by BUILD
            p.str("hub").global("mmengine.logging.history_buffer", "HistoryBuffer").emptyTuple().op(0x81)
                    .emptyDict().str("max_length").integer(10).setitem().op('b').setitem();
        });
        try (Arena arena = Arena.ofConfined()) {
            StateDict sd = TorchCheckpoint.read(f, arena);
            assertEquals(List.of("w"), List.copyOf(sd.keys()));
            assertEquals(-2f, sd.get("w").get(1));
        }
    }

    @Test
    void osSystemInMetaIsStillRefused() throws IOException {
        Path marker = dir.resolve("pwned");
        Path f = checkpoint(p -> p.global("os", "system").str("touch " + marker).op(0x85).reduce());
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(UnsafePickleException.class, f, () -> TorchCheckpoint.read(f, arena), "refusing to unpickle global 'os.system'");
        }
        assertFalse(Files.exists(marker));
    }

    @Test
    void aForeignObjectCannotStandInForATensor() throws IOException {
        Pickle p = Pickle.proto(2).emptyDict().str("state_dict").emptyDict().str("w")
                .global("numpy", "ndarray").emptyTuple().op(0x81).setitem().setitem().stop();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", p.bytes());
        Path f = zip(Files.createTempFile(dir, "ckpt", ".pth"), entries);
        try (Arena arena = Arena.ofConfined()) {
            assertRefused(f, () -> TorchCheckpoint.read(f, arena), "state dict entry 'w' is a numpy.ndarray (ignored), not a tensor");
        }
    }
}
