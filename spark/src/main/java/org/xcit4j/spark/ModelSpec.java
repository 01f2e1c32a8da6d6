package org.xcit4j.spark;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.xcit4j.backend.Device;
import org.xcit4j.image.ClassifierOptions;
import org.xcit4j.image.Labels;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.Xcit;
import org.xcit4j.serve.Predictor;
import org.xcit4j.serve.PredictorOptions;

/**
 * Which model a stage serves, as the driver resolved it: the checkpoint's qualified URI with
 * its length and modification time (so a replaced file is a different model), and the
 * options that change what is loaded. Equal specs share one loaded model in an executor.
 *
 * @param weights   qualified URI (file:/..., hdfs://..., s3a://...)
 * @param length    its length in bytes when resolved
 * @param modified  its modification time when resolved
 * @param model     zoo name to check against, or null
 * @param inputSize input side, 0 = from the checkpoint or the zoo
 * @param device    where executors run it
 * @param threads   threads per task's forward, 0 = the task's spark.task.cpus
 */
record ModelSpec(String weights, long length, long modified, String model, int inputSize, Device device, int threads)
        implements Serializable {

    /** Finds {@code weights} through Hadoop's FileSystem; a missing one fails here with its name. */
    static ModelSpec resolve(String weights, Configuration conf, String model, int inputSize, Device device, int threads) {
        org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(weights);
        try {
            FileSystem fs = path.getFileSystem(conf);
            FileStatus status = fs.getFileStatus(path);
            if (!status.isFile()) throw new IllegalArgumentException("XcitClassifier: weights " + weights + " is not a file");
            return new ModelSpec(fs.makeQualified(path).toString(), status.getLen(), status.getModificationTime(), model,
                    inputSize, device, threads);
        } catch (FileNotFoundException e) {
            throw new IllegalArgumentException("XcitClassifier: weights " + weights + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException("XcitClassifier: weights " + weights + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads the checkpoint once (on the driver): architecture, classifier head, input size and
     * labels, so that a malformed one fails the job before any task runs, with the loader's message.
     */
    void check(Configuration conf) {
        try (Served s = open(WeightsCache.local(this, conf), 0)) {
            // loaded and resolved: nothing more to check
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /**
     * Loads the checkpoint at {@code local} (this spec's copy) with its size and labels, and a
     * predictor with {@code threads} threads per forward when {@code threads > 0}.
     */
    Served open(Path local, int threads) throws IOException {
        Xcit xcit = Xcit.load(local, LoadOptions.DEFAULT.withModel(model));
        try {
            if (xcit.config().numClasses() == 0) {
                throw new IllegalArgumentException(weights + ": the checkpoint has no classifier head, so it cannot classify");
            }
            ClassifierOptions options = ClassifierOptions.DEFAULT.withModel(model).withSize(inputSize > 0 ? inputSize : null);
            int size = options.resolveSize(weights, xcit.metadata());
            Labels labels = options.labelsFor(weights, xcit.metadata(), xcit.config().numClasses());
            Predictor predictor = threads > 0 ? Predictor.of(xcit, PredictorOptions.DEFAULT.withDevice(device).withThreads(threads)) : null;
            return new Served(xcit, predictor, labels, size);
        } catch (IOException | RuntimeException e) {
            xcit.close();
            throw e;
        }
    }

    /** A loaded model as tasks use it: the predictor (null when only checked), class names and input side. */
    record Served(Xcit model, Predictor predictor, Labels labels, int size) implements AutoCloseable {
        @Override
        public void close() {
            try {
                if (predictor != null) predictor.close();
            } finally {
                model.close();
            }
        }
    }
}
