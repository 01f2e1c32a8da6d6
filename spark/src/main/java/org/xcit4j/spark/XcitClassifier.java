package org.xcit4j.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.xcit4j.backend.Device;

/**
 * XCiT image classification as a Spark ML stage: adds top-K classes (and optionally the
 * pre-logits features) to every row of a DataFrame of images.
 *
 * <p>Input: {@link #inputCol()} holds either an image file's bytes (binary, as
 * {@code spark.read.format("binaryFile")} gives them in {@code content}) or its path (string,
 * any path Hadoop's FileSystem reads, read on the executor). {@link #pathCol()}, when the
 * DataFrame has it, names the image in errors. Output, appended to the input columns:
 * <ul>
 *   <li>{@code top}: array of struct {label: string, index: int, probability: double}, most probable first</li>
 *   <li>{@code label}, {@code probability}: the first of them</li>
 *   <li>{@code features} (only when {@link #featuresCol()} is set): the pre-logits vector (ML {@code Vector}, float values)</li>
 *   <li>{@code error}: why the image could not be read (decoding, truncation, size limit), null when fine;
 *       the other outputs are then null and the job goes on</li>
 * </ul>
 * The probabilities are the ones {@code xcit classify} gives (same decoding, timm
 * preprocessing and softmax).
 *
 * <p>Executors load the model once per JVM and serve every task from it
 * ({@link ExecutorModels}); each task runs its partition in batches of {@link #batchSize()}
 * with {@link #threadsPerTask()} threads. The checkpoint is checked on the driver when the
 * stage is used ({@link #transform}): a missing or malformed one fails there, once, with the
 * loader's message.
 *
 * <pre>{@code
 * Dataset<Row> images = spark.read().format("binaryFile").load("hdfs:///photos");
 * Dataset<Row> tagged = new XcitClassifier().setWeights("hdfs:///models/xcit_small_12_p16_224.safetensors")
 *         .setTopK(5).transform(images);
 * }</pre>
 *
 * Saved and loaded like any ML stage ({@code save}, {@link #load}, inside a {@code Pipeline}).
 */
public final class XcitClassifier extends Transformer implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    /** What {@link #read()} and {@link #load} use: Spark's params-only reader, as for Scala stages' companions. */
    private static final DefaultParamsReadable<XcitClassifier> READABLE = new DefaultParamsReadable<>() {
    };

    /** This stage's identifier (part of the serialized form, as every param). */
    private final String uid;
    /** See {@link #weights()}. */
    private final Param<String> weights;
    /** See {@link #modelName()}. */
    private final Param<String> modelName;
    /** See {@link #topK()}. */
    private final IntParam topK;
    /** See {@link #batchSize()}. */
    private final IntParam batchSize;
    /** See {@link #inputSize()}. */
    private final IntParam inputSize;
    /** See {@link #device()}. */
    private final Param<String> device;
    /** See {@link #threadsPerTask()}. */
    private final IntParam threadsPerTask;
    /** See {@link #inputCol()}. */
    private final Param<String> inputCol;
    /** See {@link #pathCol()}. */
    private final Param<String> pathCol;
    /** See {@link #topCol()}. */
    private final Param<String> topCol;
    /** See {@link #labelCol()}. */
    private final Param<String> labelCol;
    /** See {@link #probabilityCol()}. */
    private final Param<String> probabilityCol;
    /** See {@link #featuresCol()}. */
    private final Param<String> featuresCol;
    /** See {@link #errorCol()}. */
    private final Param<String> errorCol;

    /** A stage with a random uid and every param at its default (the weights must still be set). */
    public XcitClassifier() {
        this(Identifiable.randomUID("xcitClassifier"));
    }

    /**
     * A stage with the given uid (how Spark's reader recreates a saved one).
     *
     * @param uid the stage's identifier
     */
    public XcitClassifier(String uid) {
        this.uid = uid;
        // Params are made here, after uid is set: each records its parent's uid.
        weights = new Param<>(this, "weights", "checkpoint (.safetensors or .pth): a local path or any URI Hadoop's FileSystem reads; "
                + "copied once to each executor");
        modelName = new Param<>(this, "modelName", "zoo name to check the checkpoint against (e.g. xcit_small_12_p16_224); empty: none");
        topK = new IntParam(this, "topK", "classes per image in the top column (>= 1)", ParamValidators.gtEq(1));
        batchSize = new IntParam(this, "batchSize", "images per forward pass within a task (>= 1)", ParamValidators.gtEq(1));
        inputSize = new IntParam(this, "inputSize", "input side; 0: the checkpoint's input_size metadata, else the zoo model's",
                ParamValidators.gtEq(0));
        device = new Param<>(this, "device", "auto, cpu, cuda or java (the reference)",
                ParamValidators.inArray(new String[] {"auto", "cpu", "cuda", "java"}));
        threadsPerTask = new IntParam(this, "threadsPerTask", "CPU threads of each task's forwards; 0: spark.task.cpus",
                ParamValidators.gtEq(0));
        inputCol = new Param<>(this, "inputCol", "image bytes (binary) or image path (string) column");
        pathCol = new Param<>(this, "pathCol", "string column naming the image in errors, if the input has it");
        topCol = new Param<>(this, "topCol", "output: array of struct<label, index, probability>");
        labelCol = new Param<>(this, "labelCol", "output: the most probable class name");
        probabilityCol = new Param<>(this, "probabilityCol", "output: its probability");
        featuresCol = new Param<>(this, "featuresCol", "output: the pre-logits feature vector; empty: not computed into a column");
        errorCol = new Param<>(this, "errorCol", "output: why the image failed, null when fine");
        setDefault(modelName, "");
        setDefault(topK, 5);
        setDefault(batchSize, 8);
        setDefault(inputSize, 0);
        setDefault(device, "auto");
        setDefault(threadsPerTask, 0);
        setDefault(inputCol, "content");
        setDefault(pathCol, "path");
        setDefault(topCol, "top");
        setDefault(labelCol, "label");
        setDefault(probabilityCol, "probability");
        setDefault(featuresCol, "");
        setDefault(errorCol, "error");
    }

    @Override
    public String uid() {
        return uid;
    }

    // Param accessors (Spark finds a stage's params through its public no-argument methods returning Param).

    /** {@return the param of the checkpoint (.safetensors or .pth), a local path or any URI Hadoop's FileSystem reads} */
    public Param<String> weights() { return weights; }
    /** {@return the param of the zoo name the checkpoint is checked against; empty for none} */
    public Param<String> modelName() { return modelName; }
    /** {@return the param of classes per image in the top column} */
    public IntParam topK() { return topK; }
    /** {@return the param of images per forward pass within a task} */
    public IntParam batchSize() { return batchSize; }
    /** {@return the param of the input side; 0 for the checkpoint's metadata, else the zoo model's} */
    public IntParam inputSize() { return inputSize; }
    /** {@return the param of where executors run the model: auto, cpu, cuda or java} */
    public Param<String> device() { return device; }
    /** {@return the param of CPU threads of each task's forwards; 0 for spark.task.cpus} */
    public IntParam threadsPerTask() { return threadsPerTask; }
    /** {@return the param of the input column: image bytes (binary) or image paths (string)} */
    public Param<String> inputCol() { return inputCol; }
    /** {@return the param of the string column that names an image in error messages} */
    public Param<String> pathCol() { return pathCol; }
    /** {@return the param of the output column of top-K predictions} */
    public Param<String> topCol() { return topCol; }
    /** {@return the param of the output column of the most probable class name} */
    public Param<String> labelCol() { return labelCol; }
    /** {@return the param of the output column of its probability} */
    public Param<String> probabilityCol() { return probabilityCol; }
    /** {@return the param of the output column of pre-logits feature vectors; empty for none} */
    public Param<String> featuresCol() { return featuresCol; }
    /** {@return the param of the output column of why an image failed (null when fine)} */
    public Param<String> errorCol() { return errorCol; }

    /** {@return the checkpoint (.safetensors or .pth), a local path or any URI Hadoop's FileSystem reads} */
    public String getWeights() { return $(weights); }
    /** {@return the zoo name the checkpoint is checked against; empty for none} */
    public String getModelName() { return $(modelName); }
    /** {@return classes per image in the top column} */
    public int getTopK() { return (Integer) $(topK); }
    /** {@return images per forward pass within a task} */
    public int getBatchSize() { return (Integer) $(batchSize); }
    /** {@return the input side; 0 for the checkpoint's metadata, else the zoo model's} */
    public int getInputSize() { return (Integer) $(inputSize); }
    /** {@return where executors run the model: auto, cpu, cuda or java} */
    public String getDevice() { return $(device); }
    /** {@return CPU threads of each task's forwards; 0 for spark.task.cpus} */
    public int getThreadsPerTask() { return (Integer) $(threadsPerTask); }
    /** {@return the input column: image bytes (binary) or image paths (string)} */
    public String getInputCol() { return $(inputCol); }
    /** {@return the string column that names an image in error messages} */
    public String getPathCol() { return $(pathCol); }
    /** {@return the output column of top-K predictions} */
    public String getTopCol() { return $(topCol); }
    /** {@return the output column of the most probable class name} */
    public String getLabelCol() { return $(labelCol); }
    /** {@return the output column of its probability} */
    public String getProbabilityCol() { return $(probabilityCol); }
    /** {@return the output column of pre-logits feature vectors; empty for none} */
    public String getFeaturesCol() { return $(featuresCol); }
    /** {@return the output column of why an image failed (null when fine)} */
    public String getErrorCol() { return $(errorCol); }

    /**
     * Sets the checkpoint (.safetensors or .pth), a local path or any URI Hadoop's FileSystem reads.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setWeights(String v) { set(weights, v); return this; }
    /**
     * Sets the zoo name the checkpoint is checked against; empty for none.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setModelName(String v) { set(modelName, v); return this; }
    /**
     * Sets classes per image in the top column.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setTopK(int v) { set(topK, v); return this; }
    /**
     * Sets images per forward pass within a task.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setBatchSize(int v) { set(batchSize, v); return this; }
    /**
     * Sets the input side; 0 for the checkpoint's metadata, else the zoo model's.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setInputSize(int v) { set(inputSize, v); return this; }
    /**
     * Sets where executors run the model: auto, cpu, cuda or java.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setDevice(String v) { set(device, v.toLowerCase(Locale.ROOT)); return this; }
    /**
     * Sets CPU threads of each task's forwards; 0 for spark.task.cpus.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setThreadsPerTask(int v) { set(threadsPerTask, v); return this; }
    /**
     * Sets the input column: image bytes (binary) or image paths (string).
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setInputCol(String v) { set(inputCol, v); return this; }
    /**
     * Sets the string column that names an image in error messages.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setPathCol(String v) { set(pathCol, v); return this; }
    /**
     * Sets the output column of top-K predictions.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setTopCol(String v) { set(topCol, v); return this; }
    /**
     * Sets the output column of the most probable class name.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setLabelCol(String v) { set(labelCol, v); return this; }
    /**
     * Sets the output column of its probability.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setProbabilityCol(String v) { set(probabilityCol, v); return this; }
    /**
     * Sets the output column of pre-logits feature vectors; empty for none.
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setFeaturesCol(String v) { set(featuresCol, v); return this; }
    /**
     * Sets the output column of why an image failed (null when fine).
     *
     * @param v the value
     * @return this stage
     */
    public XcitClassifier setErrorCol(String v) { set(errorCol, v); return this; }

    /** The element type of {@link #topCol()}. */
    public static final StructType PREDICTION = new StructType(new StructField[] {
            DataTypes.createStructField("label", DataTypes.StringType, false),
            DataTypes.createStructField("index", DataTypes.IntegerType, false),
            DataTypes.createStructField("probability", DataTypes.DoubleType, false)});

    @Override
    public StructType transformSchema(StructType schema) {
        if (!isDefined(weights) || getWeights().isBlank()) {
            throw new IllegalArgumentException("XcitClassifier: set the weights (a checkpoint path or URI) with setWeights");
        }
        List<String> names = List.of(schema.fieldNames());
        if (!names.contains(getInputCol())) {
            throw new IllegalArgumentException("XcitClassifier: input column '" + getInputCol() + "' is not in the DataFrame "
                    + names + " (image bytes, as binaryFile's 'content', or image paths as strings; setInputCol)");
        }
        DataType in = schema.apply(getInputCol()).dataType();
        if (!in.equals(DataTypes.BinaryType) && !in.equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("XcitClassifier: input column '" + getInputCol() + "' is " + in.simpleString()
                    + "; expected binary (image bytes) or string (image paths)");
        }
        List<StructField> out = new ArrayList<>(List.of(schema.fields()));
        List<String> added = new ArrayList<>();
        add(out, added, names, getTopCol(), DataTypes.createArrayType(PREDICTION, false));
        add(out, added, names, getLabelCol(), DataTypes.StringType);
        add(out, added, names, getProbabilityCol(), DataTypes.DoubleType);
        if (!getFeaturesCol().isEmpty()) add(out, added, names, getFeaturesCol(), SQLDataTypes.VectorType());
        add(out, added, names, getErrorCol(), DataTypes.StringType);
        return new StructType(out.toArray(StructField[]::new));
    }

    private static void add(List<StructField> out, List<String> added, List<String> existing, String name, DataType type) {
        if (name.isEmpty()) throw new IllegalArgumentException("XcitClassifier: an output column name is empty");
        if (existing.contains(name) || added.contains(name)) {
            throw new IllegalArgumentException("XcitClassifier: output column '" + name + "' already exists; name another with its setter");
        }
        added.add(name);
        out.add(DataTypes.createStructField(name, type, true));
    }

    /**
     * The input with the output columns appended, one row per input row. Checks the checkpoint
     * on the driver first (it is read there once: a missing or malformed one fails here).
     */
    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema());
        Configuration hadoop = dataset.sparkSession().sparkContext().hadoopConfiguration();
        ModelSpec spec = ModelSpec.resolve(getWeights(), hadoop, getModelName().isEmpty() ? null : getModelName(), getInputSize(),
                Device.parse(getDevice()), getThreadsPerTask());
        spec.check(hadoop);
        StructType schema = dataset.schema();
        boolean paths = schema.apply(getInputCol()).dataType().equals(DataTypes.StringType);
        int pathIndex = List.of(schema.fieldNames()).indexOf(getPathCol());
        if (pathIndex >= 0 && !schema.fields()[pathIndex].dataType().equals(DataTypes.StringType)) pathIndex = -1;
        Broadcast<HadoopConf> conf = JavaSparkContext.fromSparkContext(dataset.sparkSession().sparkContext())
                .broadcast(new HadoopConf(hadoop));
        ClassifyPartition classify = new ClassifyPartition(spec, conf, schema.fieldIndex(getInputCol()), paths,
                pathIndex, getTopK(), getBatchSize(), !getFeaturesCol().isEmpty());
        return dataset.toDF().mapPartitions(classify, Encoders.row(out));
    }

    @Override
    public XcitClassifier copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** {@return Spark's reader of saved stages of this class} */
    public static MLReader<XcitClassifier> read() {
        return READABLE.read();
    }

    /**
     * Loads a stage saved with {@code write().save(path)} or {@code save(path)}.
     *
     * @param path where it was saved (any path Hadoop's FileSystem reads)
     * @return the stage, its params as saved
     */
    public static XcitClassifier load(String path) {
        return READABLE.load(path);
    }

    @Override
    public String toString() {
        return "XcitClassifier: uid=" + uid + (isDefined(weights) ? ", weights=" + getWeights() : "");
    }
}
