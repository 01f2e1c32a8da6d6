package org.xcit4j.bench;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.DeviceUnavailableException;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** Setup helpers shared by the benchmarks; nothing here runs inside a measured method. */
final class BenchSupport {
    private BenchSupport() {
    }

    /**
     * Opens the backend a {@code @Param} names. A device that is not available fails the
     * benchmark at setup with the reason (JMH prints it and goes on with the other params),
     * rather than timing a fallback under the wrong name.
     */
    static Backend open(String name) {
        Device device = Device.parse(name);
        try {
            return Backends.open(device, note -> { });
        } catch (DeviceUnavailableException e) {
            throw new IllegalStateException("backend '" + name + "' unavailable, so this benchmark stops at setup: " + e.getMessage(), e);
        }
    }

    /** "196x384x1152" -> {196, 384, 1152}, checking the count so a typo in -p fails loudly. */
    static int[] dims(String spec, int count, String meaning) {
        int[] d = Arrays.stream(spec.trim().split("x")).mapToInt(Integer::parseInt).toArray();
        if (d.length != count) throw new IllegalArgumentException("shape '" + spec + "' must be " + meaning);
        return d;
    }

    /**
     * Uniform values in [-1, 1) in a shared arena: JavaBackend only parallelises over memory
     * any thread may touch, and the native backends need off-heap memory anyway.
     */
    static Tensor random(Arena arena, SplittableRandom random, long... dims) {
        Tensor t = Tensor.allocate(arena, Shape.of(dims));
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) (2 * random.nextDouble() - 1));
        return t;
    }
}
