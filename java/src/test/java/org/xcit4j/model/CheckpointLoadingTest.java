package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.TestData;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.io.SafeTensors;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** Strict matching, architecture inference and lifecycle errors. */
class CheckpointLoadingTest {
    @TempDir
    Path tmp;

    private static final Path TINY = TestData.golden("tiny_p16").resolve("model.safetensors");
    private static final LoadOptions TN = LoadOptions.DEFAULT.withTokensNorm(true);

    /** The golden tiny_p16 tensors with {@code edit} applied, written to a new file. */
    private Path edited(Arena arena, java.util.function.Consumer<Map<String, Tensor>> edit) throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>(SafeTensors.read(TINY, arena).tensors());
        edit.accept(t);
        Path p = tmp.resolve("edited.safetensors");
        SafeTensors.write(p, t);
        return p;
    }

    @Test
    void missingUnexpectedAndMisShapedKeysAreAllReportedInOneError() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Path p = edited(arena, t -> {
                t.remove("blocks.1.attn.temperature");
                t.put("blocks.0.extra.weight", Tensor.allocate(arena, Shape.of(2)));
                t.put("blocks.2.mlp.fc2.bias", Tensor.allocate(arena, Shape.of(47)));
            });
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Xcit.load(p, TN));
            String m = e.getMessage();
            assertTrue(m.startsWith(p.toString()), m);
            assertTrue(m.contains("missing (1): blocks.1.attn.temperature (4, 1, 1)"), m);
            assertTrue(m.contains("wrong shape (1): blocks.2.mlp.fc2.bias is (47,), expected (48,)"), m);
            assertTrue(m.contains("unexpected (1): blocks.0.extra.weight"), m);
        }
    }

    @Test
    void headlessCheckpointGivesFeaturesButNoLogits() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Path p = edited(arena, t -> {
                t.remove("head.weight");
                t.remove("head.bias");
            });
            try (Xcit m = Xcit.load(p, TN); JavaBackend be = new JavaBackend(); Session s = m.session(be, 1, 32, 32)) {
                assertEquals(0, m.config().numClasses());
                Session.Outputs out = s.run(Tensor.allocate(arena, Shape.of(1, 3, 32, 32)));
                assertEquals(null, out.logits());
                assertEquals(Shape.of(1, 48), out.features().shape());
            }
        }
    }

    @Test
    void notAnXcitCheckpointIsNamed() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Path p = tmp.resolve("resnet.safetensors");
            SafeTensors.write(p, Map.of("conv1.weight", Tensor.allocate(arena, Shape.of(4, 3, 3, 3))));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Xcit.load(p));
            assertTrue(e.getMessage().contains("resnet.safetensors: not an XCiT checkpoint"), e.getMessage());
        }
    }

    @Test
    void customArchitectureNeedsTokensNorm() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Xcit.load(TINY));
        assertTrue(e.getMessage().contains("tokens_norm") && e.getMessage().contains("not a zoo architecture"), e.getMessage());
    }

    @Test
    void closedModelsAndSessionsRefuseUseAndCloseTwiceHarmlessly() throws Exception {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            Xcit m = Xcit.load(TINY, TN);
            Session s = m.session(be, 1, 16, 16);
            Tensor in = Tensor.allocate(arena, Shape.of(1, 3, 16, 16));
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                    () -> s.run(Tensor.allocate(arena, Shape.of(1, 3, 16, 17))));
            assertTrue(shape.getMessage().contains("(1, 3, 16, 17)"), shape.getMessage());
            s.run(in);
            s.close();
            s.close();
            assertThrows(IllegalStateException.class, () -> s.run(in));
            m.close();
            m.close();
            assertThrows(IllegalStateException.class, () -> m.session(be, 1, 16, 16));
        }
    }
}
