package org.xcit4j.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.xcit4j.Inputs;
import org.xcit4j.TestData;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;

/**
 * A Predictor on CUDA (the emulated device in every build): concurrent requests of several
 * shapes, each on a session with its own backend and stream, give the single-threaded bits,
 * and the weights are uploaded once for all of them (CudaWeights), not once per session.
 */
@Tag("cuda")
class CudaPredictorTest {

    @Test
    void concurrentRequestsShareOneUploadOfTheWeights() throws Exception {
        int[][] shapes = {{1, 32, 32}, {2, 24, 40}, {1, 48, 32}};
        try (Xcit model = Xcit.load(TestData.root().resolve("models/xcit_fashion_micro.safetensors"));
             Arena arena = Arena.ofShared();
             Predictor predictor = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CUDA)
                     .withPrecision(Precision.BF16).withConcurrency(2))) {
            Tensor[] inputs = new Tensor[shapes.length];
            float[][][] want = new float[shapes.length][][];
            for (int k = 0; k < shapes.length; k++) {
                inputs[k] = Inputs.gaussian(arena, k, shapes[k][0], 3, shapes[k][1], shapes[k][2]);
                want[k] = predictor.logits(inputs[k]);
            }
            long uploaded = predictor.packedWeightBytes();
            assertTrue(uploaded > 0, "the weights are on the device");
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    int offset = t;
                    done.add(pool.submit(() -> {
                        for (int i = 0; i < 6; i++) {
                            int k = (offset + i) % shapes.length;
                            float[][] got = predictor.logits(inputs[k]);
                            for (int b = 0; b < got.length; b++) assertArrayEquals(want[k][b], got[b], "shape " + k + " row " + b);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) f.get();
            } finally {
                pool.shutdownNow();
            }
            assertTrue(predictor.stats().sessions() >= shapes.length, "one session per shape at least");
            assertEquals(uploaded, predictor.packedWeightBytes(), "more sessions uploaded no more weights");
        }
    }

    /** What the CUDA backend finds (here: that it is the emulated device) reaches the caller once, not per session. */
    @Test
    void theBackendsNotesReachTheCallerOnce() throws Exception {
        List<String> notes = new CopyOnWriteArrayList<>();
        try (Xcit model = Xcit.load(TestData.root().resolve("models/xcit_fashion_micro.safetensors"));
             Arena arena = Arena.ofShared();
             Predictor predictor = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CUDA)
                     .withPrecision(Precision.FP32).withConcurrency(1).withNotes(notes::add))) {
            predictor.logits(Inputs.gaussian(arena, 1, 1, 3, 32, 32));
            predictor.logits(Inputs.gaussian(arena, 2, 2, 3, 24, 40));
        }
        assertEquals(1, notes.stream().filter(n -> n.startsWith("cuda: EMULATED device")).count(), notes.toString());
    }
}
