package org.xcit4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.xcit4j.Inputs;
import org.xcit4j.backend.Precision;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Tensor;

/**
 * Backends given one CpuWeights pack each weight of a model once between them (a server runs
 * one backend per session), and compute the same bits as a backend with its own weights.
 */
class CpuWeightsTest {
    static final XcitConfig CFG = XcitConfig.of(16, 48, 2, 4, 5, true);

    @Test
    void backendsSharingWeightsPackEachOnceAndAgreeBitForBit() {
        try (Xcit model = Xcit.random(CFG, 7); CpuWeights weights = new CpuWeights(); Arena arena = Arena.ofConfined();
             CpuBackend own = new CpuBackend(1, Precision.FP32); Session ref = model.session(own, 1, 96, 80)) {
            Tensor x = Tensor.allocate(arena, 1, 3, 96, 80);
            for (long i = 0; i < x.numel(); i++) x.set(i, (float) Math.cos(i * 0.11));
            float[] want = ref.run(x).logits().toArray();
            try (CpuBackend a = new CpuBackend(1, Precision.FP32, weights); Session sa = model.session(a, 1, 96, 80)) {
                long packed = weights.packedBytes();
                assertTrue(packed > 0, "the first session packed the model's weights");
                assertEquals(own.packedWeightBytes(), packed, "the same packing as a backend of its own");
                try (CpuBackend b = new CpuBackend(1, Precision.FP32, weights); Session sb = model.session(b, 1, 96, 80)) {
                    assertEquals(packed, weights.packedBytes(), "a second backend packed nothing again");
                    assertArrayEquals(want, sa.run(x).logits().toArray(), "backend a");
                    assertArrayEquals(want, sb.run(x).logits().toArray(), "backend b");
                    // Another row count may get another layout from oneDNN, packed once for all backends too.
                    try (Session other = model.session(b, 2, 64, 64)) {
                        long more = weights.packedBytes();
                        try (Session again = model.session(a, 2, 64, 64)) {
                            assertEquals(more, weights.packedBytes(), "the other shape on the first backend packed nothing again");
                        }
                    }
                }
            }
        }
    }

    @Test
    void closingTheWeightsFirstKeepsThemForTheBackendsStillUsingThem() {
        try (Xcit model = Xcit.random(CFG, 7); Arena arena = Arena.ofConfined()) {
            CpuWeights weights = new CpuWeights();
            Tensor x = Inputs.gaussian(arena, 3, 1, 3, 64, 64);
            try (CpuBackend a = new CpuBackend(1, Precision.FP32, weights); Session s = model.session(a, 1, 64, 64)) {
                float[] before = s.run(x).logits().toArray();
                weights.close();
                assertArrayEquals(before, s.run(x).logits().toArray(), "still packed while the backend is open");
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> new CpuBackend(1, Precision.FP32, weights));
                assertTrue(e.getMessage().contains("closed"), e.getMessage());
            }
            weights.close(); // twice: harmless
        }
    }
}
