package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.io.Npy;
import org.xcit4j.io.Npz;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Dense outputs against the original detection/segmentation backbone (timm modules plus the
 * original FPN ops, testdata/dense), read from mmseg-style checkpoints, unchunked and streamed.
 */
class DenseGoldenTest {

    @ParameterizedTest(name = "{0} {1} band {2}")
    @CsvSource({"dense_p16, FULL, 0", "dense_p16, STREAMED, 2", "dense_p8, FULL, 0", "dense_p8, STREAMED, 1",
            "dense_p8, STREAMED, 4"})
    void matchesOriginalBackbone(String name, SessionOptions.Execution execution, int bandRows) throws Exception {
        Path dir = TestData.dense(name);
        JsonObject cfg = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        try (Xcit model = Xcit.load(dir.resolve("model.pth"));
             JavaBackend backend = new JavaBackend();
             Arena arena = Arena.ofConfined()) {
            assertFalse(model.hasClassifier());
            assertTrue(model.hasFpnWeights());
            assertEquals(cfg.get("depth").getAsInt(), model.config().depth());
            assertEquals(cfg.get("patch_size").getAsInt(), model.config().patchSize());
            assertTrue(model.notes().stream().anyMatch(n -> n.contains("neck.* (16)") && n.contains("decode_head.*")),
                    model.notes().toString());
            Tensor input = Npy.read(dir.resolve("input.npy"), arena);
            Map<String, Tensor> expected = Npz.read(dir.resolve("expected.npz"), arena);
            Shape s = input.shape();
            SessionOptions options = SessionOptions.DEFAULT.withExecution(execution).withBandRows(bandRows);
            try (DenseSession session = model.denseSession(backend, s.size(0), s.size(2), s.size(3), DenseOptions.DEFAULT, options)) {
                assertEquals(execution == SessionOptions.Execution.STREAMED, session.streamed());
                int[] want = cfg.getAsJsonArray("out_indices").asList().stream().mapToInt(e -> e.getAsInt()).toArray();
                assertArrayEquals(want, session.outIndices(), "default out indices");
                assertTrue(session.missing().isEmpty(), session.missing().toString());
                Map<String, Tensor> got = session.run(input).present();
                assertEquals(expected.keySet(), got.keySet());
                for (String level : expected.keySet()) Approx.assertGolden(name + " " + level, expected.get(level), got.get(level));
            }
        }
    }

    @Test
    void mmengineMetaWithNumpyAndForeignObjectsIsTolerated() throws Exception {
        // dense_p8's 'meta' holds numpy scalars and an mmengine HistoryBuffer, beside an 'optimizer'.
        try (Xcit model = Xcit.load(TestData.dense("dense_p8").resolve("model.pth"))) {
            assertTrue(model.notes().stream().anyMatch(n -> n.contains("auxiliary_head.* (2)")), model.notes().toString());
            assertTrue(model.notes().stream().noneMatch(n -> n.contains("classification")), model.notes().toString());
        }
    }

    @Test
    void classificationCheckpointGivesTheParameterFreeLevelsAndSaysWhichNeedWeights() throws Exception {
        Path dir = TestData.golden("tiny_p16");
        try (Xcit model = Xcit.load(dir.resolve("model.safetensors"), LoadOptions.DEFAULT.withTokensNorm(true));
             JavaBackend backend = new JavaBackend();
             Arena arena = Arena.ofConfined()) {
            assertTrue(model.hasClassifier());
            assertFalse(model.hasFpnWeights());
            Tensor input = Npy.read(dir.resolve("input.npy"), arena);
            try (DenseSession session = model.denseSession(backend, 2, 64, 64, DenseOptions.DEFAULT, SessionOptions.DEFAULT)) {
                assertEquals(2, session.missing().size());
                assertTrue(session.missing().get(0).startsWith("stride4 needs fpn1"), session.missing().toString());
                assertTrue(session.missing().get(1).startsWith("stride8 needs fpn2"), session.missing().toString());
                DenseSession.Outputs out = session.run(input);
                assertNull(out.stride4());
                assertNull(out.stride8());
                assertEquals(Shape.of(2, 48, 4, 4), out.stride16().shape());
                // Depth 3: default indices [0, 1, 1, 2]; stride32 pools the last block's output,
                // which timm's golden holds as tokens (B, N, C).
                assertArrayEquals(new int[] {0, 1, 1, 2}, session.outIndices());
                Tensor tokens = Npy.read(dir.resolve("tokens.npy"), arena);
                Approx.assertGolden("stride32", maxPool2ChannelFirst(arena, tokens, 2, 4, 4, 48), out.stride32());
            }
        }
    }

    @Test
    void outIndicesRuleAndValidation() {
        assertArrayEquals(new int[] {3, 5, 7, 11}, DenseOptions.defaultOutIndices(12));
        assertArrayEquals(new int[] {7, 11, 15, 23}, DenseOptions.defaultOutIndices(24));
        assertArrayEquals(new int[] {1, 2, 3, 4}, DenseOptions.defaultOutIndices(5));
        assertArrayEquals(new int[] {0, 0, 0, 0}, DenseOptions.defaultOutIndices(1));
        assertThrows(IllegalArgumentException.class, () -> DenseOptions.of(1, 2, 3));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DenseOptions.of(0, 1, 2, 12).resolve(12))
                .getMessage().contains("out index 12"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DenseOptions.of(3, 1, 2, 4).resolve(12))
                .getMessage().contains("must not decrease"));
    }

    @Test
    void tooSmallGridForPoolingIsRefused() throws Exception {
        try (Xcit model = Xcit.load(TestData.dense("dense_p8").resolve("model.pth"));
             JavaBackend backend = new JavaBackend()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.denseSession(backend, 1, 24, 64, DenseOptions.DEFAULT, SessionOptions.DEFAULT));
            assertTrue(e.getMessage().contains("3x8 token grid, too small for stride32"), e.getMessage());
        }
    }

    @Test
    void denseBackboneRefusesClassificationSessions() throws Exception {
        try (Xcit model = Xcit.load(TestData.dense("dense_p16").resolve("model.pth"));
             JavaBackend backend = new JavaBackend()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> model.session(backend, 1, 32, 32));
            assertTrue(e.getMessage().contains("dense outputs only"), e.getMessage());
        }
    }

    /** Reference 2x2 max pooling of tokens (B, h*w, C) to channel-first (B, C, h/2, w/2). */
    static Tensor maxPool2ChannelFirst(Arena arena, Tensor tokens, int b, int h, int w, int c) {
        Tensor out = Tensor.allocate(arena, Shape.of(b, c, h / 2, w / 2));
        for (int n = 0; n < b; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h / 2; y++)
                    for (int x = 0; x < w / 2; x++) {
                        float m = Float.NEGATIVE_INFINITY;
                        for (int i = 0; i < 2; i++)
                            for (int j = 0; j < 2; j++) m = Math.max(m, tokens.get(((long) n * h * w + (2L * y + i) * w + 2 * x + j) * c + ch));
                        out.set((((long) n * c + ch) * (h / 2) + y) * (w / 2) + x, m);
                    }
        return out;
    }
}
