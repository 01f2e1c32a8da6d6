package org.xcit4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.DeviceUnavailableException;

/**
 * Machines without a usable GPU (every build machine of this project): --device cuda fails
 * with one line naming the first missing piece; auto falls back and says why. Skipped where
 * CUDA works (CudaBackendTest covers those machines).
 */
class CudaUnavailableTest {

    @BeforeEach
    void requireNoDevice() {
        assumeFalse(Cuda.probe().available(), "a CUDA device is present: this test is about machines without one");
    }

    @Test
    void cudaFailsWithOneClearLine() {
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> Backends.open(Device.CUDA, note -> { }));
        String m = e.getMessage();
        assertTrue(m.startsWith("device 'cuda' is not available: "), m);
        assertFalse(m.contains("\n"), m);
        String reason = Backends.cudaUnavailableReason();
        assertTrue(m.endsWith(reason), m);
        assertTrue(reason.matches(".*(NVIDIA driver|libcudart|libxcit_cuda|too old|no CUDA device).*"), reason);
    }

    @Test
    void autoFallsBackAndSaysWhy() {
        List<String> notes = new ArrayList<>();
        try (Backend b = Backends.open(Device.AUTO, notes::add)) {
            // Without CUDA, auto takes the native CPU backend where it loads, else the reference.
            assertEquals(Backends.cpuUnavailableReason() == null ? "cpu" : "java", b.name());
        }
        assertEquals(1, notes.size(), notes.toString());
        assertTrue(notes.get(0).contains("cuda: " + Backends.cudaUnavailableReason()), notes.get(0));
    }
}
