package org.xcit4j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.xcit4j.TestData;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.serve.Predictor;
import org.xcit4j.serve.PredictorOptions;
import org.xcit4j.tensor.Tensor;

/** The Classifier on a Predictor: a partial last batch runs at its own size; non-square inputs. */
class ClassifierTest {
    static final Path WEIGHTS = TestData.root().resolve("models/xcit_fashion_micro.safetensors");

    static List<Path> examples(int n) throws Exception {
        try (Stream<Path> s = Files.list(TestData.root().resolve("examples/fashion"))) {
            return s.filter(p -> p.toString().endsWith(".png")).sorted().limit(n).toList();
        }
    }

    @Test
    void aPartialLastBatchRunsAtItsOwnSize() throws Exception {
        List<Path> files = examples(5);
        try (Classifier c = Classifier.open(WEIGHTS, ClassifierOptions.DEFAULT.withDevice(Device.CPU).withBatch(2))) {
            List<Classifier.Result> all = c.classifyAll(files, 3, r -> { });
            // Batches of 2, 2 and 1: two sessions, (2, 3, 32, 32) and (1, 3, 32, 32); none padded.
            assertEquals(2, c.predictor().stats().created());
            for (int i = 0; i < files.size(); i++) {
                List<Prediction> one = c.classify(files.get(i), 3);
                Prediction got = all.get(i).top().getFirst(), want = one.getFirst();
                assertEquals(want.label(), got.label(), files.get(i).toString());
                assertEquals(want.probability(), got.probability(), 1e-5, files.get(i).toString());
            }
        }
    }

    @Test
    void nonSquareInputsGoThroughTimmsNonSquareTransform() throws Exception {
        Path file = examples(1).getFirst();
        try (Xcit model = Xcit.load(WEIGHTS);
             Predictor predictor = Predictor.of(model, PredictorOptions.DEFAULT.withDevice(Device.CPU).withConcurrency(1));
             Arena arena = Arena.ofShared()) {
            Labels labels = Labels.forModel("demo", model.metadata(), 10);
            Classifier c = Classifier.of(predictor, labels, new ImageDecoder(), 4, 40, 24);
            assertEquals(40, c.inputHeight());
            assertEquals(24, c.inputWidth());
            assertThrows(IllegalStateException.class, c::inputSize);
            List<Prediction> top = c.classify(file, 10);

            // The same by hand: timm's non-square transform, a plain session of (1, 3, 40, 24)
            // on a backend with the predictor's thread count: the same bits.
            Tensor x = Tensor.allocate(arena, 1, 3, 40, 24);
            Preprocessing.timm(40, 24).apply(new ImageDecoder().decode(file), x, 0);
            try (CpuBackend cpu = new CpuBackend(predictor.threadsPerRequest(), Precision.FP32);
                 Session s = model.session(cpu, 1, 40, 24)) {
                List<Prediction> want = Prediction.topK(s.run(x).logits().toArray(), labels, 10);
                assertEquals(want, top);
            }
        }
    }
}
