package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.io.Npy;
import org.xcit4j.tensor.Tensor;

/**
 * The forward of every backend (the Java reference and the native CPU one) against timm's
 * outputs, for every golden case and weight file, with the same criterion.
 */
class GoldenForwardTest {

    static Stream<Arguments> cases() {
        return cases(List.of("java", "cpu"));
    }

    /** (first, golden case, weight file) for each of {@code first} and every case and weight file. */
    static Stream<Arguments> cases(List<?> firsts) {
        List<Arguments> out = new ArrayList<>();
        for (Object device : firsts) {
            for (String name : TestData.goldenCases()) {
                for (String file : TestData.goldenConfig(name).getAsJsonObject("weights").keySet()) {
                    out.add(Arguments.of(device, name, file));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1}/{2}")
    @MethodSource("cases")
    void matchesTimm(String device, String name, String weightsFile) throws Exception {
        try (Backend backend = Backends.open(Device.parse(device), note -> { })) {
            check(backend, Approx.GOLDEN_REL_TO_MAX, name, weightsFile);
        }
    }

    /** Every output of golden case {@code name} on {@code backend} within rel * max(1, max|timm|). */
    static void check(Backend backend, double rel, String name, String weightsFile) throws Exception {
        JsonObject cfg = TestData.goldenConfig(name);
        Path dir = TestData.golden(name);
        // Custom configs are not in the zoo, so tokens_norm must be given; zoo ones infer it.
        LoadOptions options = cfg.get("arch").isJsonNull()
                ? LoadOptions.DEFAULT.withTokensNorm(cfg.get("tokens_norm").getAsBoolean())
                : LoadOptions.DEFAULT.withModel(cfg.get("arch").getAsString());
        try (Xcit model = Xcit.load(dir.resolve(weightsFile), options); Arena arena = Arena.ofConfined()) {
            XcitConfig c = model.config();
            assertEquals(cfg.get("patch_size").getAsInt(), c.patchSize(), "patch size");
            assertEquals(cfg.get("embed_dim").getAsInt(), c.embedDim(), "embed dim");
            assertEquals(cfg.get("depth").getAsInt(), c.depth(), "depth");
            assertEquals(cfg.get("num_heads").getAsInt(), c.numHeads(), "heads");
            assertEquals(cfg.get("num_classes").getAsInt(), c.numClasses(), "classes");
            assertEquals(cfg.get("tokens_norm").getAsBoolean(), c.tokensNorm(), "tokens_norm");

            Tensor input = Npy.read(dir.resolve("input.npy"), arena);
            try (Session session = model.session(backend, input.shape().size(0), input.shape().size(2), input.shape().size(3))) {
                Session.Outputs out = session.run(input);
                Approx.assertCloseToMax(name + " logits", Npy.read(dir.resolve("logits.npy"), arena), out.logits(), rel);
                Approx.assertCloseToMax(name + " features", Npy.read(dir.resolve("features.npy"), arena), out.features(), rel);
                Approx.assertCloseToMax(name + " tokens", Npy.read(dir.resolve("tokens.npy"), arena), out.tokens(), rel);
            }
        }
    }
}
