package org.xcit4j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabelsTest {
    @TempDir
    Path tmp;

    @Test
    void bundledImageNetNamesAreTimmsInIndexOrder() {
        Labels l = Labels.imageNet1k();
        assertEquals(1000, l.size());
        assertEquals("tench, Tinca tinca", l.name(0));
        assertEquals("golden retriever", l.name(207));
        assertEquals("toilet tissue, toilet paper, bathroom tissue", l.name(999));
    }

    @Test
    void sourcesInOrderOfPreference() throws Exception {
        Map<String, String> meta = Map.of("labels", "[\"cat\", \"dog\"]");
        assertEquals(List.of("cat", "dog"), Labels.forModel("m", meta, 2).names());
        assertEquals("class 2", Labels.forModel("m", Map.of(), 3).name(2));
        assertEquals(1000, Labels.forModel("m", Map.of(), 1000).size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Labels.forModel("m.safetensors", meta, 3));
        assertTrue(e.getMessage().contains("has 2 class names but the model has 3 classes"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Labels.forModel("m", Map.of("labels", "{\"a\": 1}"), 1));

        Path lines = tmp.resolve("labels.txt");
        Files.writeString(lines, "zero\n one \n\n");
        assertEquals(List.of("zero", "one"), Labels.read(lines).names());
        Path json = tmp.resolve("labels.json");
        Files.writeString(json, "[\"a, b\", \"c\"]");
        assertEquals(List.of("a, b", "c"), Labels.read(json).names());
    }

    @Test
    void topKIsASoftmaxInDescendingOrder() {
        Labels l = Labels.of(List.of("a", "b", "c", "d"));
        List<Prediction> top = Prediction.topK(new float[] {1f, 3f, 3f, -1000f}, l, 3);
        assertEquals(List.of(1, 2, 0), top.stream().map(Prediction::index).toList()); // ties: lower index first
        double z = 2 * Math.exp(0) + Math.exp(-2) + Math.exp(-1003);
        assertEquals(1 / z, top.get(0).probability(), 1e-15);
        assertEquals(Math.exp(-2) / z, top.get(2).probability(), 1e-15);
        assertEquals("b", top.get(0).label());
        // Huge logits do not overflow.
        assertEquals(1.0, Prediction.topK(new float[] {3e38f, 0f}, Labels.numbered(2), 1).get(0).probability(), 0);
        assertEquals(4, Prediction.topK(new float[] {0, 0, 0, 0}, l, 10).size());
    }
}
