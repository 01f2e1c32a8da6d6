package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.xcit4j.cli.CliTest.xcit;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xcit4j.TestData;
import org.xcit4j.model.Flops;
import org.xcit4j.model.ModelZoo;

/** {@code xcit bench}: one JSON line with sane fields; no timing assertions (speed is not tested). */
class BenchCommandTest {
    private static final List<String> FIELDS = List.of("model", "size", "batch", "device", "threads", "precision",
            "streamed", "activation_mb", "median_ms", "min_ms", "max_ms", "rss_loaded_mb", "peak_rss_mb", "gflops", "peak_gflops", "percent_of_peak");

    private static JsonObject json(CliTest.Result r) {
        assertEquals(0, r.code(), r.err());
        String out = r.out().strip();
        assertFalse(out.contains("\n"), "one line expected:\n" + out);
        JsonObject o = JsonParser.parseString(out).getAsJsonObject();
        for (String f : FIELDS) assertTrue(o.has(f), "missing " + f + ": " + out);
        double min = o.get("min_ms").getAsDouble(), median = o.get("median_ms").getAsDouble();
        assertTrue(min > 0 && min <= median && median <= o.get("max_ms").getAsDouble(), out);
        double loaded = o.get("rss_loaded_mb").getAsDouble();
        assertTrue(loaded > 0 && loaded <= o.get("peak_rss_mb").getAsDouble(), out);
        assertTrue(o.get("gflops").getAsDouble() > 0, out);
        return o;
    }

    @Test
    void checkpointGivesOneJsonLine() {
        String weights = TestData.golden("tiny_p16").resolve("model.safetensors").toString();
        JsonObject o = json(xcit("bench", "--weights", weights, "--tokens-norm", "true", "--size", "32x48",
                "--device", "java", "--threads", "2", "--runs", "3", "--warmup", "1"));
        assertEquals("custom", o.get("model").getAsString());
        assertEquals("32x48", o.get("size").getAsString());
        assertEquals(1, o.get("batch").getAsInt());
        assertEquals("java", o.get("device").getAsString());
        assertEquals(2, o.get("threads").getAsInt());
        assertEquals("fp32", o.get("precision").getAsString());
    }

    @Test
    void zooNameAloneTimesRandomWeights() {
        JsonObject o = json(xcit("bench", "--model", "xcit_nano_12_p16_224", "--size", "32", "--batch", "2",
                "--device", "java", "--runs", "1", "--warmup", "0"));
        assertEquals("xcit_nano_12_p16", o.get("model").getAsString());
        assertEquals("32x32", o.get("size").getAsString());
        long flops = Flops.forward(ModelZoo.require("xcit_nano_12_p16").config(), 2, 32, 32);
        assertEquals(flops / 1e9, o.get("gflop").getAsDouble(), 1e-3);
    }

    @Test
    void streamOptionsReachTheSession() {
        String[] base = {"bench", "--model", "xcit_nano_12_p16", "--size", "64x48", "--device", "java", "--runs", "1", "--warmup", "0"};
        JsonObject on = json(xcit(concat(base, "--stream", "on", "--band-rows", "2")));
        JsonObject off = json(xcit(concat(base, "--stream", "off")));
        assertTrue(on.get("streamed").getAsBoolean());
        assertFalse(off.get("streamed").getAsBoolean());
        double a = on.get("activation_mb").getAsDouble(), b = off.get("activation_mb").getAsDouble();
        assertTrue(a > 0 && b > 0, on + " / " + off);
        assertOneLine(xcit(concat(base, "--stream", "sometimes")), 2, "--stream");
    }

    @Test
    void refusalsAreOneLine() {
        String[] base = {"bench", "--model", "xcit_nano_12_p16", "--size", "32x32", "--runs", "1", "--warmup", "0"};
        assertOneLine(xcit(concat(base, "--device", "java", "--precision", "bf16")), 2, "--device java", "fp32 only");
        assertOneLine(xcit(concat(base, "--device", "cuda")), 1, "device 'cuda' is not available");
        assertOneLine(xcit(concat(base, "--precision", "fp8")), 2, "--precision", "fp32, tf32, fp16 or bf16");
        assertOneLine(xcit("bench", "--size", "224"), 2, "--weights", "--model");
        assertOneLine(xcit("bench", "--model", "xcit_nano_12_p16", "--size", "224x"), 2, "HxW");
        assertOneLine(xcit("bench", "--model", "xcit_huge", "--size", "224"), 1, "unknown model 'xcit_huge'");
        // Sizes no machine holds are refused before anything is allocated, not left to the OOM killer.
        assertOneLine(xcit("bench", "--model", "xcit_nano_12_p16", "--size", "400000x400000"), 2, "--size", "MiB", "available");
    }

    private static void assertOneLine(CliTest.Result r, int code, String... fragments) {
        assertEquals(code, r.code(), r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line expected:\n" + err);
        for (String f : fragments) assertTrue(err.contains(f), "stderr lacks '" + f + "': " + err);
        assertTrue(r.out().isEmpty(), "no JSON on failure: " + r.out());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
