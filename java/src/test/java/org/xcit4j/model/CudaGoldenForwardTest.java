package org.xcit4j.model;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xcit4j.Approx;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;

/**
 * The golden cases of {@link GoldenForwardTest} on the CUDA backend (the emulated device in
 * every build, see CudaBackendTest), in fp32 with the golden criterion and in the 16-bit
 * storage types with their whole-forward bounds against timm's fp32 outputs.
 */
@Tag("cuda")
class CudaGoldenForwardTest {

    static Stream<Arguments> cases() {
        return GoldenForwardTest.cases(List.of(Precision.FP32, Precision.FP16, Precision.BF16));
    }

    @ParameterizedTest(name = "cuda {0}: {1}/{2}")
    @MethodSource("cases")
    void matchesTimm(Precision precision, String name, String weightsFile) throws Exception {
        try (Backend backend = Backends.open(Device.CUDA, 0, precision, note -> { })) {
            GoldenForwardTest.check(backend, Approx.relToMax(precision), name, weightsFile);
        }
    }
}
