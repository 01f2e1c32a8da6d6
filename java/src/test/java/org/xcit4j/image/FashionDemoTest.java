package org.xcit4j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.backend.Device;
import org.xcit4j.io.Npy;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;

/**
 * The bundled demo model (models/xcit_fashion_micro.safetensors, trained by
 * tools/demo/train_fashion.py) through our decoding, preprocessing and Java forward, against
 * what PyTorch computed when it was trained: logits on the committed examples, predictions on
 * the first 200 test images (of the 500 committed).
 */
class FashionDemoTest {
    static final Path REPO = TestData.root();
    static final Path WEIGHTS = REPO.resolve("models/xcit_fashion_micro.safetensors");
    static final Path FASHION = REPO.resolve("testdata/images/fashion");
    static final int SIZE = 32, TILE = 28;

    static List<Path> examples() throws IOException {
        try (Stream<Path> s = Files.list(REPO.resolve("examples/fashion"))) {
            return s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
    }

    /** "ankle-boot_0.png" -> "ankle boot"; "t-shirt-top_12.png" -> "t-shirt/top". */
    static String trueLabel(Path example) {
        String stem = example.getFileName().toString().replaceFirst("_\\d+\\.png$", "");
        return stem.equals("t-shirt-top") ? "t-shirt/top" : stem.replace('-', ' ');
    }

    @Test
    void examplesGetTheirClassAndPyTorchsLogits() throws Exception {
        List<Path> files = examples();
        try (Xcit model = Xcit.load(WEIGHTS);
             Session session = model.session(Device.JAVA, files.size(), SIZE, SIZE);
             Arena arena = Arena.ofConfined()) {
            Labels labels = Labels.forModel("demo", model.metadata(), model.config().numClasses());
            Tensor input = Tensor.allocate(arena, files.size(), 3, SIZE, SIZE);
            ImageDecoder decoder = new ImageDecoder();
            for (int i = 0; i < files.size(); i++) Preprocessing.timm(SIZE).apply(decoder.decode(files.get(i)), input, i);
            Tensor logits = session.forward(input).logits();
            // Same inputs bit for bit (see PreprocessingGoldenTest), so the golden criterion applies.
            Approx.assertGolden("example logits", Npy.read(FASHION.resolve("examples_logits.npy"), arena), logits);
            for (int i = 0; i < files.size(); i++) {
                float[] row = logits.slice(i, i + 1).toArray();
                assertEquals(trueLabel(files.get(i)), Prediction.topK(row, labels, 1).getFirst().label(), files.get(i).toString());
            }
        }
    }

    @Test
    void firstTestImagesAgreeWithPyTorch() throws Exception {
        int n = 200, batch = 50; // of the 500 committed: the Java reference backend needs ~0.1 s per image on a busy machine
        int[] torch = torchPredictions(n);
        RgbImage grid = new ImageDecoder().decode(FASHION.resolve("test_first_500.png")); // 20 x 25 tiles of 28 x 28
        int agree = 0, correct = 0;
        int[] labels = trueLabels(n);
        try (Xcit model = Xcit.load(WEIGHTS);
             Session session = model.session(Device.JAVA, batch, SIZE, SIZE);
             Arena arena = Arena.ofConfined()) {
            Tensor input = Tensor.allocate(arena, batch, 3, SIZE, SIZE);
            for (int start = 0; start < n; start += batch) {
                for (int b = 0; b < batch; b++) Preprocessing.timm(SIZE).apply(tile(grid, start + b), input, b);
                Tensor logits = session.forward(input).logits();
                for (int b = 0; b < batch; b++) {
                    int pred = Prediction.topK(logits.slice(b, b + 1).toArray(), Labels.numbered(10), 1).getFirst().index();
                    if (pred == torch[start + b]) agree++;
                    if (pred == labels[start + b]) correct++;
                }
            }
        }
        System.out.printf("first %d Fashion-MNIST test images: agreement with PyTorch %d/%d, accuracy %.3f%n",
                n, agree, n, correct / (double) n);
        assertEquals(n, agree, "predictions that differ from PyTorch's");
    }

    private static RgbImage tile(RgbImage grid, int index) {
        int tx = index % 20 * TILE, ty = index / 20 * TILE;
        RgbImage t = RgbImage.blank(TILE, TILE);
        for (int y = 0; y < TILE; y++) {
            System.arraycopy(grid.pixels(), ((ty + y) * grid.width() + tx) * 3, t.pixels(), y * TILE * 3, TILE * 3);
        }
        return t;
    }

    /** Column {@code column} of models/xcit_fashion_micro.torch_predictions.txt ("index label prediction"). */
    private static int[] column(int n, int column) throws IOException {
        List<String> lines = Files.readAllLines(REPO.resolve("models/xcit_fashion_micro.torch_predictions.txt"))
                .stream().filter(l -> !l.startsWith("#")).limit(n).toList();
        return lines.stream().mapToInt(l -> Integer.parseInt(l.split(" ")[column])).toArray();
    }

    static int[] torchPredictions(int n) throws IOException {
        return column(n, 2);
    }

    static int[] trueLabels(int n) throws IOException {
        return column(n, 1);
    }
}
