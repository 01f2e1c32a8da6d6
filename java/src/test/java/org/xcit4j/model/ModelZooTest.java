package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelZooTest {

    @Test
    void everyArchitectureHasTheParameterCountOfTheSpecTable() {
        for (ModelZoo.Architecture a : ModelZoo.ARCHITECTURES) {
            try (Xcit model = Xcit.random(a.config(1000), 7)) {
                assertEquals(a.params(), model.parameters(), a.arch());
            }
        }
    }

    @Test
    void zooHas28NamesAndAcceptsPretrainedTags() {
        assertEquals(28, ModelZoo.entries().size());
        ModelZoo.Entry e = ModelZoo.require("xcit_small_12_p16_384.fb_dist_in1k");
        assertEquals("xcit_small_12_p16_384", e.name());
        assertEquals(384, e.inputSize());
        assertEquals(384, e.architecture().embedDim());
        assertEquals("xcit_nano_12_p8_224", ModelZoo.require("XCIT_NANO_12_P8_224.fb_in1k").name());
        assertEquals("xcit_tiny_24_p16_224", ModelZoo.require("xcit_tiny_24_p16").name());
        assertTrue(ModelZoo.find("xcit_small_12_p16_224.fb_in22k").isEmpty(), "unknown tags are not silently accepted");
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> ModelZoo.require("resnet50"));
        assertTrue(ex.getMessage().contains("unknown model 'resnet50'") && ex.getMessage().contains("xcit_large_24_p8_384"));
    }

    @Test
    void tokensNormIsOffOnlyForNano() {
        for (ModelZoo.Architecture a : ModelZoo.ARCHITECTURES) {
            assertEquals(!a.arch().startsWith("xcit_nano"), a.tokensNorm(), a.arch());
        }
    }

    @Test
    void gridFollowsTheCeilChain() {
        XcitConfig p16 = XcitConfig.of(16, 64, 1, 4, 10, true);
        assertEquals(13, p16.gridSide(200)); // 200 -> 100 -> 50 -> 25 -> 13
        assertEquals(14, p16.gridSide(224));
        assertEquals(5, XcitConfig.of(8, 32, 1, 4, 10, true).gridSide(37)); // 37 -> 19 -> 10 -> 5
    }

    @ParameterizedTest
    @ValueSource(strings = {"patch", "dim", "heads", "depth"})
    void invalidConfigsAreRefusedByName(String which) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            switch (which) {
                case "patch" -> XcitConfig.of(14, 64, 1, 4, 10, true);
                case "dim" -> XcitConfig.of(16, 60, 1, 4, 10, true);
                case "heads" -> XcitConfig.of(16, 64, 1, 5, 10, true);
                default -> XcitConfig.of(16, 64, 0, 4, 10, true);
            }
        });
        assertTrue(e.getMessage().toLowerCase().contains(which.equals("dim") ? "embeddim" : which), e.getMessage());
    }
}
