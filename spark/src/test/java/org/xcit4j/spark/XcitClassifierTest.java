package org.xcit4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.Preprocessing;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Tensor;

/**
 * The stage on a local[2] SparkSession with the bundled demo model: the CLI's exact answers on
 * binaryFile DataFrames, Session's features, error rows, early checkpoint failures, and
 * save/load in a Pipeline.
 */
class XcitClassifierTest {
    static final int TEST_IMAGES = 300;

    @TempDir
    static Path tmp;
    static SparkSession spark;
    static Path images;

    @BeforeAll
    static void setUp() throws Exception {
        spark = Fixtures.spark();
        images = Fixtures.fashionImages(tmp.resolve("images"), TEST_IMAGES);
    }

    static Dataset<Row> binaryFiles(Path dir) {
        return spark.read().format("binaryFile").option("recursiveFileLookup", "true").load(dir.toString());
    }

    static XcitClassifier stage() {
        return new XcitClassifier().setWeights(Fixtures.WEIGHTS.toString());
    }

    /** Each row by its local path. */
    static Map<String, Row> byPath(Dataset<Row> result) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : result.drop("content").collectAsList()) m.put(Fixtures.local(r.getString(r.fieldIndex("path"))), r);
        return m;
    }

    @Test
    void binaryFilesGetExactlyTheClisPredictionsAndProbabilities() {
        Map<String, JsonObject> cli = Fixtures.cli(images.toString(), "--weights", Fixtures.WEIGHTS.toString(), "--top", "10");
        assertEquals(20 + TEST_IMAGES, cli.size());
        Dataset<Row> in = binaryFiles(images);
        assertTrue(in.rdd().getNumPartitions() > 2, "several partitions per task slot: " + in.rdd().getNumPartitions());
        long loadsBefore = ExecutorModels.loads();
        Map<String, Row> got = byPath(stage().setTopK(10).transform(in));
        assertEquals(cli.keySet(), got.keySet());
        for (Map.Entry<String, JsonObject> e : cli.entrySet()) {
            Row row = got.get(e.getKey());
            JsonArray want = e.getValue().getAsJsonArray("top");
            assertEquals(want, Fixtures.topAsJson(row, "top"), e.getKey());
            JsonObject best = want.get(0).getAsJsonObject();
            assertEquals(best.get("label").getAsString(), row.getString(row.fieldIndex("label")), e.getKey());
            assertEquals(best.get("probability").getAsDouble(), row.getDouble(row.fieldIndex("probability")), e.getKey());
            assertNull(row.get(row.fieldIndex("error")), e.getKey());
        }
        // Both tasks of every partition used one model, loaded once in this JVM (unless another test loaded it first).
        assertTrue(ExecutorModels.loads() - loadsBefore <= 1, "model loads: " + (ExecutorModels.loads() - loadsBefore));
        System.out.printf("XcitClassifierTest: %d images in %d partitions equal to xcit classify's; %d model(s) loaded%n",
                got.size(), in.rdd().getNumPartitions(), ExecutorModels.loaded());
    }

    @Test
    void aPartitionOfOneImageGetsTheBitsOfABatch() {
        // A lone image runs as a batch of two: its answer does not depend on the partitioning.
        Map<String, JsonObject> cli = Fixtures.cli(images.resolve("examples").toString(), "--weights", Fixtures.WEIGHTS.toString());
        for (String name : List.of("ankle-boot_0.png", "trouser_3.png")) {
            Path file = images.resolve("examples").resolve(name);
            Dataset<Row> one = spark.read().format("binaryFile").load(file.toString());
            assertEquals(1, one.rdd().getNumPartitions());
            Row row = stage().transform(one).collectAsList().getFirst();
            assertEquals(cli.get(file.toString()).getAsJsonArray("top"), Fixtures.topAsJson(row, "top"), name);
        }
    }

    @Test
    void imagePathsAsStringsGiveWhatTheirBytesGive() {
        Dataset<Row> files = binaryFiles(images.resolve("examples"));
        Map<String, Row> fromBytes = byPath(stage().transform(files));
        Dataset<Row> paths = files.select("path").withColumnRenamed("path", "uri");
        Dataset<Row> result = stage().setInputCol("uri").setPathCol("uri").setLabelCol("class").transform(paths);
        List<Row> rows = result.collectAsList();
        assertEquals(20, rows.size());
        for (Row r : rows) {
            Row want = fromBytes.get(Fixtures.local(r.getString(0)));
            assertEquals(want.getList(want.fieldIndex("top")), r.getList(r.fieldIndex("top")));
            assertEquals(want.getString(want.fieldIndex("label")), r.getString(r.fieldIndex("class")));
        }
    }

    @Test
    void weightsOnAnotherFileSystemAreCopiedOnceAndGiveTheSameAnswers() throws Exception {
        spark.sparkContext().hadoopConfiguration().set("fs." + RemoteFs.SCHEME + ".impl", RemoteFs.class.getName());
        Dataset<Row> in = binaryFiles(images.resolve("examples"));
        String remote = RemoteFs.SCHEME + "://" + Fixtures.WEIGHTS;
        Map<String, Row> local = byPath(stage().transform(in));
        long loads = ExecutorModels.loads();
        Map<String, Row> fromRemote = byPath(stage().setWeights(remote).transform(in));
        Map<String, Row> again = byPath(stage().setWeights(remote).transform(in));
        assertEquals(1, ExecutorModels.loads() - loads, "one load for two jobs");
        for (String file : local.keySet()) {
            assertEquals(local.get(file).getList(local.get(file).fieldIndex("top")), fromRemote.get(file).getList(fromRemote.get(file).fieldIndex("top")));
            assertEquals(fromRemote.get(file), again.get(file));
        }
        List<Path> copies;
        try (Stream<Path> s = Files.list(WeightsCache.directory())) {
            copies = s.filter(p -> p.getFileName().toString().endsWith("-xcit_fashion_micro.safetensors")).toList();
        }
        assertTrue(copies.stream().anyMatch(p -> p.toFile().length() == Fixtures.WEIGHTS.toFile().length()), copies.toString());
    }

    @Test
    void featuresEqualASessionsFeatures() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(images.resolve("examples"))) {
            files = s.sorted().toList();
        }
        Map<String, Row> got = byPath(stage().setFeaturesCol("features").transform(binaryFiles(images.resolve("examples"))));
        try (Xcit model = Xcit.load(Fixtures.WEIGHTS); CpuBackend cpu = new CpuBackend(1, Precision.FP32);
             Session session = model.session(cpu, files.size(), 32, 32); Arena arena = Arena.ofConfined()) {
            Tensor input = Tensor.allocate(arena, files.size(), 3, 32, 32);
            for (int i = 0; i < files.size(); i++) Preprocessing.timm(32).apply(new ImageDecoder().decode(files.get(i)), input, i);
            Tensor features = session.forward(input).features();
            for (int i = 0; i < files.size(); i++) {
                float[] want = features.slice(i, i + 1).toArray();
                Row row = got.get(files.get(i).toString());
                Vector v = row.getAs("features");
                assertEquals(want.length, v.size());
                double[] wantD = new double[want.length];
                for (int c = 0; c < want.length; c++) wantD[c] = want[c];
                assertArrayEquals(wantD, v.toArray(), files.get(i).toString());
            }
        }
    }

    @Test
    void corruptAndTruncatedImagesGiveErrorRowsAndTheJobGoesOn() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("mixed"));
        Files.copy(Fixtures.EXAMPLES.resolve("bag_18.png"), dir.resolve("good.png"));
        Files.copy(Fixtures.REPO.resolve("testdata/images/broken/truncated.jpg"), dir.resolve("truncated.jpg"));
        Files.write(dir.resolve("corrupt.png"), "this is not a PNG".getBytes());
        byte[] png = Files.readAllBytes(Fixtures.EXAMPLES.resolve("coat_6.png"));
        Files.write(dir.resolve("cut.png"), Arrays.copyOf(png, png.length / 2));
        Map<String, Row> got = byPath(stage().setFeaturesCol("f").transform(binaryFiles(dir)));
        assertEquals(4, got.size());
        Row good = got.get(dir.resolve("good.png").toString());
        assertNull(good.get(good.fieldIndex("error")));
        assertEquals("bag", good.getString(good.fieldIndex("label")));
        for (String bad : List.of("truncated.jpg", "corrupt.png", "cut.png")) {
            Row r = got.get(dir.resolve(bad).toString());
            String error = r.getString(r.fieldIndex("error"));
            assertNotNull(error, bad);
            for (String c : List.of("top", "label", "probability", "f")) assertNull(r.get(r.fieldIndex(c)), bad + " " + c);
        }
        assertTrue(got.get(dir.resolve("truncated.jpg").toString()).getString(got.get(dir.resolve("truncated.jpg").toString())
                .fieldIndex("error")).contains("truncated"));
        assertEquals("not a readable image (expected JPEG, PNG, BMP, GIF or WebP content)",
                got.get(dir.resolve("corrupt.png").toString()).getAs("error"));
        // Paths: a missing file is an error row too.
        Dataset<Row> paths = spark.createDataset(List.of(dir.resolve("good.png").toString(), dir.resolve("missing.png").toString()),
                Encoders.STRING()).toDF("path");
        List<Row> rows = stage().setInputCol("path").transform(paths).orderBy("path").collectAsList();
        assertNull(rows.get(0).getAs("error"));
        assertEquals("no such file", rows.get(1).getAs("error"));
    }

    @Test
    void aMissingOrMalformedCheckpointFailsOnTheDriverWithTheLoadersMessage() throws Exception {
        Dataset<Row> in = binaryFiles(images.resolve("examples"));
        Path missing = tmp.resolve("missing.safetensors");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> stage().setWeights(missing.toString()).transform(in));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("no such file"), e.getMessage());
        Path malformed = tmp.resolve("malformed.safetensors");
        byte[] good = Files.readAllBytes(Fixtures.WEIGHTS);
        Files.write(malformed, Arrays.copyOf(good, good.length / 2));
        String loader = assertThrows(Exception.class, () -> Xcit.load(malformed).close()).getMessage();
        Exception failure = assertThrows(Exception.class, () -> stage().setWeights(malformed.toString()).transform(in));
        assertEquals(loader, failure.getMessage());
        // The schema is checked first: no weights, or a missing input column.
        assertThrows(IllegalArgumentException.class, () -> new XcitClassifier().transform(in));
        assertThrows(IllegalArgumentException.class, () -> stage().setInputCol("image").transform(in));
        assertThrows(IllegalArgumentException.class, () -> stage().setLabelCol("path").transform(in));
    }

    @Test
    void aPipelineWithTheStageSavesLoadsAndRunsAgain() throws Exception {
        Dataset<Row> in = binaryFiles(images.resolve("examples"));
        XcitClassifier stage = stage().setTopK(3).setBatchSize(4).setDevice("cpu").setThreadsPerTask(1).setFeaturesCol("features");
        PipelineModel model = new Pipeline().setStages(new PipelineStage[] {stage}).fit(in);
        List<Row> first = model.transform(in).drop("content").orderBy("path").collectAsList();
        Path saved = tmp.resolve("pipeline");
        model.write().save(saved.toString());
        PipelineModel loaded = PipelineModel.load(saved.toString());
        XcitClassifier back = (XcitClassifier) loaded.stages()[0];
        assertEquals(stage.uid(), back.uid());
        assertEquals(Fixtures.WEIGHTS.toString(), back.getWeights());
        assertEquals(3, back.getTopK());
        assertEquals(4, back.getBatchSize());
        assertEquals("cpu", back.getDevice());
        assertEquals("features", back.getFeaturesCol());
        assertEquals(first, loaded.transform(in).drop("content").orderBy("path").collectAsList());
        // The stage on its own, too.
        Path alone = tmp.resolve("stage");
        stage.save(alone.toString());
        XcitClassifier again = XcitClassifier.load(alone.toString());
        assertEquals(stage.extractParamMap().toString(), again.extractParamMap().toString());
    }

    @Test
    void paramsAreCheckedWhenSet() {
        assertThrows(IllegalArgumentException.class, () -> stage().setTopK(0));
        assertThrows(IllegalArgumentException.class, () -> stage().setBatchSize(0));
        assertThrows(IllegalArgumentException.class, () -> stage().setDevice("tpu"));
        assertEquals(Device.CUDA, Device.parse(stage().setDevice("CUDA").getDevice()));
        XcitClassifier copy = stage().setTopK(2).copy(new org.apache.spark.ml.param.ParamMap());
        assertEquals(2, copy.getTopK());
    }
}
