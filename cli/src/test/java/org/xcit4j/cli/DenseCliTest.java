package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xcit4j.cli.CliTest.xcit;

import java.awt.image.BufferedImage;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.Approx;
import org.xcit4j.TestData;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.io.Npy;
import org.xcit4j.io.Npz;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** `xcit forward --what dense | cls-attn` and `xcit explain`, end to end. */
class DenseCliTest {
    @TempDir
    Path tmp;

    private static void oneLineError(CliTest.Result r, String... fragments) {
        assertEquals(1, r.code(), r.err());
        assertFalse(r.err().strip().contains("\n"), r.err());
        for (String f : fragments) assertTrue(r.err().contains(f), "stderr lacks '" + f + "': " + r.err());
    }

    @Test
    void denseWritesTheFourMapsOfAnMmsegCheckpoint() throws Exception {
        Path dir = TestData.dense("dense_p16");
        Path y = tmp.resolve("out.npz");
        for (String stream : new String[] {"off", "on"}) {
            CliTest.Result r = xcit("forward", "--weights", dir.resolve("model.pth").toString(), "--input", dir.resolve("input.npy").toString(),
                    "--output", y.toString(), "--what", "dense", "--device", "java", "--stream", stream, "--band-rows", "3");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("xcit: note: mmseg/mmdet checkpoint: using 'backbone.*' only"), r.err());
            try (Arena arena = Arena.ofConfined()) {
                Map<String, Tensor> want = Npz.read(dir.resolve("expected.npz"), arena), got = Npz.read(y, arena);
                assertEquals(want.keySet(), got.keySet());
                for (String k : want.keySet()) Approx.assertGolden(stream + " " + k, want.get(k), got.get(k));
            }
        }
    }

    @Test
    void denseFromAClassificationCheckpointWritesWhatNeedsNoFpnWeightsAndSaysSo() throws Exception {
        Path dir = TestData.golden("tiny_p8");
        Path y = tmp.resolve("out.npz");
        CliTest.Result r = xcit("forward", "--weights", dir.resolve("model.pth").toString(), "--tokens-norm", "true",
                "--input", dir.resolve("input.npy").toString(), "--output", y.toString(), "--what", "dense",
                "--out-indices", "0,1,1,1", "--device", "java");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("not written: stride4 needs fpn1 (fpn1.0) weights"), r.err());
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> got = Npz.read(y, arena);
            assertEquals(java.util.List.of("stride8", "stride16", "stride32"), java.util.List.copyOf(got.keySet()));
            assertEquals(Shape.of(2, 32, 5, 7), got.get("stride8").shape()); // p8: identity of the 5x7 grid
        }
    }

    @Test
    void denseOptionErrors() {
        Path dir = TestData.dense("dense_p8");
        String w = dir.resolve("model.pth").toString(), x = dir.resolve("input.npy").toString();
        oneLineError(xcit("forward", "--weights", w, "--input", x, "--output", tmp.resolve("a.npy").toString(), "--what", "dense", "--device", "java"),
                "ending in .npz");
        oneLineError(xcit("forward", "--weights", w, "--input", x, "--output", tmp.resolve("a.npz").toString(), "--what", "dense",
                "--out-indices", "0,1,9,2", "--device", "java"), "out index 9");
        oneLineError(xcit("forward", "--weights", w, "--input", x, "--output", tmp.resolve("a.npy").toString(), "--what", "cls-attn", "--device", "java"),
                "dense outputs only (--what dense)"); // the library's message names Xcit.denseSession: the CLI its flag
        assertEquals(2, xcit("forward", "--weights", w, "--input", x, "--output", "a.npy", "--what", "attention").code());
    }

    @Test
    void clsAttnMatchesTimm() throws Exception {
        Path dir = TestData.golden("tiny_p8_odd");
        Path y = tmp.resolve("maps.npy");
        CliTest.Result r = xcit("forward", "--weights", dir.resolve("model.pth").toString(), "--tokens-norm", "false",
                "--input", dir.resolve("input.npy").toString(), "--output", y.toString(), "--what", "cls-attn", "--device", "java");
        assertEquals(0, r.code(), r.err());
        try (Arena arena = Arena.ofConfined()) {
            Approx.assertGolden("cls-attn", Npy.read(TestData.dense("cls_attn").resolve("tiny_p8_odd.npy"), arena), Npy.read(y, arena));
        }
    }

    @Test
    void explainOverlaysTheMapWhereAttentionIsHigh() throws Exception {
        int w = 96, h = 64;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, (x * 2) << 16 | (y * 3) << 8 | (x > 60 && y < 30 ? 255 : 40));
        Path in = tmp.resolve("in.png"), out = tmp.resolve("heat.png");
        ImageIO.write(img, "png", in.toFile());
        Path weights = TestData.golden("tiny_p16").resolve("model.safetensors");
        CliTest.Result r = xcit("explain", in.toString(), "--weights", weights.toString(), "--tokens-norm", "true",
                "--size", "64", "--output", out.toString(), "--device", "java");
        assertEquals(0, r.code(), r.err());
        BufferedImage heat = ImageIO.read(out.toFile());
        assertEquals(w, heat.getWidth());
        assertEquals(h, heat.getHeight());

        // The same map, computed here: the overlay must change the image most in the cell of
        // highest attention and least in the cell of lowest.
        float[] mean;
        int gh, gw;
        try (Arena arena = Arena.ofConfined(); Xcit m = Xcit.load(weights, LoadOptions.DEFAULT.withTokensNorm(true));
             JavaBackend be = new JavaBackend(); Session s = m.session(be, 1, h, w)) {
            org.xcit4j.image.RgbImage rgb = new org.xcit4j.image.ImageDecoder().decode(in);
            Tensor x = Tensor.allocate(arena, 1, 3, rgb.height(), rgb.width());
            org.xcit4j.image.Preprocessing.timm(Math.min(rgb.width(), rgb.height())).toTensor(rgb, x, 0);
            mean = Heatmap.meanOverHeads(s.run(x).clsAttention());
            gh = s.gridHeight();
            gw = s.gridWidth();
        }
        int hi = 0, lo = 0;
        for (int i = 0; i < mean.length; i++) {
            if (mean[i] > mean[hi]) hi = i;
            if (mean[i] < mean[lo]) lo = i;
        }
        double dHi = cellDifference(img, heat, hi / gw, hi % gw, h / gh, w / gw);
        double dLo = cellDifference(img, heat, lo / gw, lo % gw, h / gh, w / gw);
        assertTrue(dHi > 20 && dHi > 3 * dLo, "mean |change| in the highest cell " + dHi + ", lowest " + dLo);
        assertTrue(Files.size(out) > 0);
    }

    @Test
    void explainErrors() throws Exception {
        Path weights = TestData.golden("tiny_p16").resolve("model.safetensors");
        Path notImage = tmp.resolve("x.png");
        Files.writeString(notImage, "hello");
        oneLineError(xcit("explain", notImage.toString(), "--weights", weights.toString(), "--tokens-norm", "true",
                "--output", tmp.resolve("h.png").toString(), "--device", "java"), "not a readable image");
        oneLineError(xcit("explain", notImage.toString(), "--weights", weights.toString(), "--output", tmp.resolve("h.jpg").toString()),
                ".png");
    }

    /** Mean absolute RGB change over the pixels of token cell (cy, cx) of size ch x cw. */
    private static double cellDifference(BufferedImage a, BufferedImage b, int cy, int cx, int ch, int cw) {
        double sum = 0;
        for (int y = cy * ch; y < (cy + 1) * ch; y++)
            for (int x = cx * cw; x < (cx + 1) * cw; x++)
                for (int s = 0; s < 24; s += 8) sum += Math.abs(((a.getRGB(x, y) >> s) & 0xff) - ((b.getRGB(x, y) >> s) & 0xff));
        return sum / (3.0 * ch * cw);
    }
}
