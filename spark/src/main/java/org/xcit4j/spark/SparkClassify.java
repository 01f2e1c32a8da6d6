package org.xcit4j.spark;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code xcit-spark classify}: the {@link XcitClassifier} stage as a Spark job that writes
 * Parquet (columns path, label, probability, top, error, and features with
 * {@code --features}); {@code xcit-spark show} prints such an output as
 * {@code xcit classify --json} prints its results. Runs under {@code spark-submit} (the master
 * comes from it) or stand-alone through {@code ./xcit-spark} ({@code --master}, default
 * {@code local[*]}). The input is a DataFrame of image paths (listed on the driver as
 * {@code xcit classify} lists them; the executors read the files), so a missing file is an
 * error row, as in the CLI.
 */
@Command(name = "xcit-spark", mixinStandardHelpOptions = true, version = "xcit4j 0.1.0",
        description = "XCiT inference on Apache Spark.",
        subcommands = {SparkClassify.Classify.class, SparkClassify.Show.class, CommandLine.HelpCommand.class})
public final class SparkClassify implements Runnable {
    /** The command picocli parses into (use {@link #main} or {@link #run(String[], PrintWriter, PrintWriter)}). */
    public SparkClassify() {
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(new CommandLine(this), "missing command: try 'xcit-spark --help'");
    }

    /**
     * Runs the job and exits with its code.
     *
     * @param args the command line, as {@code xcit-spark} takes it
     */
    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * Runs the command.
     *
     * @param args the command line
     * @param out  where results go
     * @param err  where errors go
     * @return the exit code: 0 ok, 1 failure (or an image failed), 2 bad usage
     */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new SparkClassify());
        cli.setOut(out).setErr(err);
        cli.setParameterExceptionHandler((e, a) -> {
            err.println("xcit-spark: " + e.getMessage());
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
            String m = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName() : e.getMessage();
            err.println("xcit-spark: " + m.lines().findFirst().orElse(m));
            return 1;
        });
        return cli.execute(args);
    }

    /** Where the job runs (a picocli mixin). */
    static final class SparkOptions {
        @Option(names = "--master", paramLabel = "URL",
                description = "Spark master. Default: the one spark-submit gives, else local[*].")
        String master;

        @Option(names = "--conf", paramLabel = "KEY=VALUE", description = "A Spark setting (repeatable).")
        Map<String, String> conf = Map.of();

        SparkSession session(String app) {
            SparkSession.Builder builder = SparkSession.builder().appName(app);
            if (master != null) builder.master(master);
            else if (System.getProperty("spark.master") == null) builder.master("local[*]");
            conf.forEach(builder::config);
            return builder.getOrCreate();
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Print the rows of a classify output like 'xcit classify --json', sorted by file (collected on the driver).")
    static final class Show implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(arity = "1", paramLabel = "DIR", description = "A directory 'xcit-spark classify' wrote.")
        String output;

        @CommandLine.Mixin
        SparkOptions sparkOptions;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            SparkSession spark = sparkOptions.session("xcit-spark show");
            try {
                for (Row r : spark.read().parquet(output).orderBy("path").collectAsList()) out.println(Classify.JSON.toJson(Classify.json(r)));
                out.flush();
                return 0;
            } finally {
                spark.stop();
            }
        }
    }

    @Command(name = "classify", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Classify images on Spark and write the results as Parquet.",
                    "Example: xcit-spark classify examples/fashion --weights models/xcit_fashion_micro.safetensors --output out"})
    static final class Classify implements Callable<Integer> {
        static final Gson JSON = new GsonBuilder().disableHtmlEscaping().create();
        /** Failed images named on stderr (all are in the output's error column). */
        private static final int SHOWN_FAILURES = 20;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(arity = "1..*", paramLabel = "IMAGE",
                description = "Image files or directories (recursive, by extension), local or any URI Hadoop reads (hdfs://, s3a://, globs).")
        List<String> images;

        @Option(names = "--weights", required = true, paramLabel = "FILE", description = "Checkpoint: a local path or a URI Hadoop reads.")
        String weights;

        @Option(names = "--output", required = true, paramLabel = "DIR", description = "Parquet output directory (local path or URI).")
        String output;

        @CommandLine.Mixin
        SparkOptions sparkOptions;

        @Option(names = "--top", defaultValue = "5", paramLabel = "K", description = "Classes per image in 'top'. Default: ${DEFAULT-VALUE}.")
        int top;

        @Option(names = "--batch", defaultValue = "8", paramLabel = "N", description = "Images per forward pass in a task. Default: ${DEFAULT-VALUE}.")
        int batch;

        @Option(names = "--size", defaultValue = "0", paramLabel = "N", description = "Input side. Default: the checkpoint's input_size, else the --model's.")
        int size;

        @Option(names = "--model", defaultValue = "", paramLabel = "NAME", description = "Zoo name to check the checkpoint against.")
        String model;

        @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE", description = "auto, cpu, cuda or java. Default: ${DEFAULT-VALUE}.")
        String device;

        @Option(names = "--threads", defaultValue = "0", paramLabel = "T", description = "CPU threads per task. Default: spark.task.cpus.")
        int threads;

        @Option(names = "--partitions", defaultValue = "0", paramLabel = "N",
                description = "Input partitions. Default: the default parallelism, or more to keep them under 1,000 images.")
        int partitions;

        @Option(names = "--features", description = "Also write the pre-logits feature vector ('features').")
        boolean features;

        @Option(names = "--overwrite", description = "Replace the output directory if it exists.")
        boolean overwrite;

        @Override
        public Integer call() throws Exception {
            PrintWriter err = spec.commandLine().getErr();
            if (top < 1) throw new IllegalArgumentException("--top must be at least 1, got " + top);
            if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
            SparkSession spark = sparkOptions.session("xcit-spark classify");
            try {
                return classify(spark, err);
            } finally {
                spark.stop();
            }
        }

        private int classify(SparkSession spark, PrintWriter err) throws Exception {
            List<String> files = ImageInputs.expand(images, spark.sparkContext().hadoopConfiguration());
            if (files.isEmpty()) throw new IllegalArgumentException("no images found in " + String.join(", ", images));
            int parallelism = spark.sparkContext().defaultParallelism();
            int slices = partitions > 0 ? partitions : Math.max(parallelism, (files.size() + 999) / 1000);
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Dataset<Row> paths = spark.createDataset(jsc.parallelize(files, slices).rdd(), Encoders.STRING()).toDF("path");
            XcitClassifier stage = new XcitClassifier().setWeights(weights).setModelName(model).setTopK(top).setBatchSize(batch)
                    .setInputSize(size).setDevice(device).setThreadsPerTask(threads).setInputCol("path")
                    .setFeaturesCol(features ? "features" : "");
            List<String> columns = new ArrayList<>(List.of("path", "label", "probability", "top", "error"));
            if (features) columns.add("features");
            long t0 = System.nanoTime();
            stage.transform(paths).selectExpr(columns.toArray(String[]::new))
                    .write().mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists).parquet(output);
            double seconds = (System.nanoTime() - t0) / 1e9;
            Dataset<Row> written = spark.read().parquet(output);
            Dataset<Row> failures = written.filter("error IS NOT NULL").select("path", "error");
            long rows = written.count(), failed = failures.count();
            for (Row r : failures.orderBy("path").limit(SHOWN_FAILURES).collectAsList()) {
                err.println("xcit-spark: " + file(r.getString(0)) + ": " + r.getString(1));
            }
            err.printf(Locale.ROOT, "xcit-spark: %d images (%d failed) in %.1f s, %.1f images/s, master %s, %d partitions -> %s%n",
                    rows, failed, seconds, rows / seconds, spark.sparkContext().master(), slices, output);
            return failed > 0 ? 1 : 0;
        }

        /** A row as 'xcit classify --json' prints an image: {"file", "top": [...]} or {"file", "error"}; local files as paths. */
        static JsonObject json(Row r) {
            JsonObject o = new JsonObject();
            String path = r.getString(r.fieldIndex("path"));
            o.addProperty("file", file(path));
            String error = r.getAs("error");
            if (error != null) {
                o.addProperty("error", error);
                return o;
            }
            o.add("top", top(r.getList(r.fieldIndex("top"))));
            return o;
        }

        /** A top column's value as the CLI's JSON "top" array. */
        static JsonArray top(List<Row> predictions) {
            JsonArray a = new JsonArray();
            for (Row p : predictions) {
                JsonObject e = new JsonObject();
                e.addProperty("label", p.getString(0));
                e.addProperty("index", p.getInt(1));
                e.addProperty("probability", p.getDouble(2));
                a.add(e);
            }
            return a;
        }

        /** A local file's URI as its path; other URIs as they are. */
        static String file(String uri) {
            return uri.startsWith("file:") ? Path.of(URI.create(uri)).toString() : uri;
        }
    }
}
