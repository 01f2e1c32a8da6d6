package org.xcit4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.xcit4j.backend.Device;
import org.xcit4j.image.Classifier;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.Prediction;
import org.xcit4j.image.Preprocessing;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.serve.Predictor;
import org.xcit4j.serve.PredictorOptions;
import org.xcit4j.tensor.Tensor;

/**
 * The README's API examples, verbatim except that paths are resolved against the repository
 * (the README runs from its root): if this stops compiling, the README is wrong.
 */
class ReadmeExampleTest {
    static final Path REPO = TestData.root();

    static Path of(String relative) {
        return REPO.resolve(relative);
    }

    @Test
    void classifyAnImage() throws IOException {
        // --- README: classify ---
        try (Classifier classifier = Classifier.open(of("models/xcit_fashion_micro.safetensors"))) {
            List<Prediction> top = classifier.classify(of("examples/fashion/ankle-boot_0.png"), 3);
            for (Prediction p : top) System.out.printf("%-12s %.3f%n", p.label(), p.probability());
            // --- end ---
            assertEquals("ankle boot", top.getFirst().label());
            assertEquals(9, top.getFirst().index());
            assertTrue(top.getFirst().probability() > 0.5, "confident on a correctly classified example");
        }
    }

    @Test
    void forwardATensor() throws IOException {
        float[] values;
        // --- README: forward ---
        try (Xcit model = Xcit.load(of("models/xcit_fashion_micro.safetensors"));
             Session session = model.session(Device.AUTO, 1, 32, 32);
             Arena arena = Arena.ofConfined()) {
            Tensor input = Tensor.allocate(arena, 1, 3, 32, 32);
            Preprocessing.timm(32).apply(new ImageDecoder().decode(of("examples/fashion/ankle-boot_0.png")), input, 0);
            Tensor logits = session.forward(input).logits();   // (1, 10), valid until the next forward
            values = logits.toArray();
        }
        // --- end ---
        assertEquals(10, values.length);
        int best = 0;
        for (int i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
        assertEquals(9, best); // ankle boot
    }

    @Test
    void serveFromManyThreads() throws Exception {
        float[][] logits;
        // --- README: serve ---
        try (Predictor predictor = Predictor.open(of("models/xcit_fashion_micro.safetensors"), PredictorOptions.DEFAULT);
             ExecutorService requests = Executors.newFixedThreadPool(8)) {   // a server's request threads
            Future<float[][]> answer = requests.submit(() -> {
                try (Arena arena = Arena.ofConfined()) {
                    Tensor input = Tensor.allocate(arena, 1, 3, 48, 40);          // any (B, 3, H, W), from any thread
                    Preprocessing.timm(48, 40).apply(new ImageDecoder().decode(of("examples/fashion/bag_18.png")), input, 0);
                    return predictor.logits(input);                              // (B, classes): one row per image
                }
            });
            logits = answer.get();
        }
        // --- end ---
        assertEquals(1, logits.length);
        int best = 0;
        for (int i = 1; i < logits[0].length; i++) if (logits[0][i] > logits[0][best]) best = i;
        assertEquals(8, best); // bag
    }

    /** The README's Maven snippet names the library as the poms do. */
    @Test
    void dependencySnippetMatchesThePoms() throws IOException {
        Matcher readme = Pattern.compile("<dependency>\\s*<groupId>([^<]+)</groupId>\\s*<artifactId>([^<]+)</artifactId>"
                + "\\s*<version>([^<]+)</version>\\s*</dependency>").matcher(Files.readString(of("README.md")));
        assertTrue(readme.find(), "README.md shows no <dependency> snippet");
        String parent = Files.readString(of("pom.xml"));
        String library = Files.readString(of("java/pom.xml"));
        assertEquals(element(parent, "groupId"), readme.group(1));
        assertEquals(element(library.substring(library.indexOf("</parent>")), "artifactId"), readme.group(2));
        assertEquals(element(parent, "version"), readme.group(3));
    }

    /** The first {@code <name>} element's text in {@code xml} (the project's own, before any dependency). */
    private static String element(String xml, String name) {
        Matcher m = Pattern.compile("<" + name + ">([^<]+)</" + name + ">").matcher(xml);
        assertTrue(m.find(), "no <" + name + ">");
        return m.group(1);
    }
}
