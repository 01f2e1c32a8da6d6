package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The analytic count against torch.utils.flop_counter.FlopCounterMode on timm 1.0.29 (same
 * rules as fvcore: 2 x multiply-adds of convolutions and matmuls), computed once with
 * bench/peers/flops_reference.py (timm's unfused attention, so class attention's matmuls
 * are counted). Spec section 10 gives 4.8 GMACs for small at 224.
 */
class FlopsTest {

    @ParameterizedTest(name = "{0} at {1}x{2}")
    @CsvSource({
            "xcit_nano_12_p16_224,  224, 224, 1101904896",
            "xcit_small_12_p16_224, 224, 224, 9591665664",
            "xcit_tiny_12_p8_224,   200, 152, 5782046208",
            "xcit_nano_12_p16_224,  100,  75, 196180096",
    })
    void matchesTorchFlopCounter(String model, int height, int width, long torchFlops) {
        XcitConfig config = ModelZoo.require(model).config();
        assertEquals(torchFlops, Flops.forward(config, 1, height, width));
        assertEquals(3 * torchFlops, Flops.forward(config, 3, height, width), "linear in the batch");
    }

    @Test
    void smallAt224IsTheSpecsFourPointEightGigaMacs() {
        double gmacs = Flops.forward(ModelZoo.require("xcit_small_12_p16_224").config(), 1, 224, 224) / 2e9;
        assertEquals(4.8, gmacs, 0.05);
    }
}
