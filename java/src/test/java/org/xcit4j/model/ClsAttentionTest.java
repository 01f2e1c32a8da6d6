package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import com.google.gson.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.io.Npy;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The last class-attention block's cls -> patch weights against timm (recomputed from the
 * block's LN1 output captured by a forward hook: tools/golden/make_dense_goldens.py).
 */
class ClsAttentionTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny_p16", "tiny_p16_nontn_nonsquare", "tiny_p8_odd"})
    void matchesTimm(String name) throws Exception {
        Path dir = TestData.golden(name);
        JsonObject cfg = TestData.goldenConfig(name);
        LoadOptions options = LoadOptions.DEFAULT.withTokensNorm(cfg.get("tokens_norm").getAsBoolean());
        try (Xcit model = Xcit.load(dir.resolve("model.safetensors"), options);
             JavaBackend backend = new JavaBackend();
             Arena arena = Arena.ofConfined()) {
            Tensor input = Npy.read(dir.resolve("input.npy"), arena);
            Tensor expected = Npy.read(TestData.dense("cls_attn").resolve(name + ".npy"), arena);
            Shape s = input.shape();
            for (SessionOptions.Execution e : SessionOptions.Execution.values()) {
                SessionOptions opts = SessionOptions.DEFAULT.withExecution(e).withBandRows(2);
                try (Session session = model.session(backend, s.size(0), s.size(2), s.size(3), opts)) {
                    Tensor maps = session.run(input).clsAttention();
                    assertEquals(Shape.of(s.dim(0), model.config().numHeads(), session.gridHeight(), session.gridWidth()), maps.shape());
                    Approx.assertGolden(name + " cls attention " + e, expected, maps);
                }
            }
        }
    }
}
