package org.xcit4j.spark;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serial;
import java.lang.foreign.Arena;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;
import org.xcit4j.image.ImageDecoder;
import org.xcit4j.image.ImageLoadException;
import org.xcit4j.image.Prediction;
import org.xcit4j.image.Preprocessing;
import org.xcit4j.image.RgbImage;
import org.xcit4j.model.Session;
import org.xcit4j.tensor.Tensor;

/**
 * What {@link XcitClassifier} runs on each partition: decode and preprocess its images into
 * a batch, one forward per batch on the executor's shared model, one output row per input
 * row (the input's values, then top, label, probability, [features], error).
 *
 * <p>Batches: {@code batch} images in partition order; a batch left with one image (a
 * partition's last, or after failures) runs as two, the image twice. On the CPU backend a
 * batch of one runs other GEMM kernels than larger batches, whose logits agree with each
 * other bit for bit but differ from the single image's in the last bits; this way an image's
 * answer does not depend on how Spark split the input into partitions, and equals what
 * {@code xcit classify} gives for it in a directory. With {@code batch} 1 every image runs
 * alone, as {@code xcit classify --batch 1} runs it.
 */
final class ClassifyPartition implements MapPartitionsFunction<Row, Row> {
    @Serial
    private static final long serialVersionUID = 1L;

    private final ModelSpec spec;
    private final Broadcast<HadoopConf> hadoop;
    private final int inputIndex;
    private final boolean inputIsPath;
    private final int pathIndex;
    private final int topK;
    private final int batch;
    private final boolean features;

    /**
     * @param inputIndex  the column with image bytes, or image paths when {@code inputIsPath}
     * @param pathIndex   a string column naming the image in errors, or -1
     */
    ClassifyPartition(ModelSpec spec, Broadcast<HadoopConf> hadoop, int inputIndex, boolean inputIsPath, int pathIndex, int topK,
                      int batch, boolean features) {
        this.spec = spec;
        this.hadoop = hadoop;
        this.inputIndex = inputIndex;
        this.inputIsPath = inputIsPath;
        this.pathIndex = pathIndex;
        this.topK = topK;
        this.batch = batch;
        this.features = features;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) throws IOException {
        if (!rows.hasNext()) return Collections.emptyIterator(); // an empty partition loads nothing
        TaskContext task = TaskContext.get();
        int cores = Runtime.getRuntime().availableProcessors();
        int threads = Math.min(cores, spec.threads() > 0 ? spec.threads() : task == null ? 1 : task.cpus());
        Configuration conf = hadoop.value().get();
        Batches out = new Batches(rows, ExecutorModels.get(spec, threads, conf), conf);
        // Frees the batch memory when the task ends, also when its consumer stops early (limit, failure).
        if (task != null) task.addTaskCompletionListener((TaskCompletionListener) context -> out.close());
        return out;
    }

    /** One model's answer for one image. */
    private record Answer(Row[] top, double[] features) {
    }

    /** Output rows, made one batch at a time as the consumer pulls them. */
    private final class Batches implements Iterator<Row>, AutoCloseable {
        private final Iterator<Row> rows;
        private final ModelSpec.Served served;
        private final Configuration conf;
        private final ImageDecoder decoder = new ImageDecoder();
        private final Preprocessing preprocessing;
        private final Arena arena = Arena.ofShared();
        private final Tensor input;
        private final ArrayDeque<Row> done = new ArrayDeque<>();
        private boolean closed;

        Batches(Iterator<Row> rows, ModelSpec.Served served, Configuration conf) {
            this.rows = rows;
            this.served = served;
            this.conf = conf;
            this.preprocessing = Preprocessing.timm(served.size());
            this.input = Tensor.allocate(arena, Math.max(2, batch), 3, served.size(), served.size());
        }

        @Override
        public boolean hasNext() {
            while (done.isEmpty() && rows.hasNext()) run(take());
            if (done.isEmpty()) close();
            return !done.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            return done.poll();
        }

        private List<Row> take() {
            List<Row> b = new ArrayList<>(batch);
            while (b.size() < batch && rows.hasNext()) b.add(rows.next());
            return b;
        }

        private void run(List<Row> rowsOfBatch) {
            int n = rowsOfBatch.size();
            String[] errors = new String[n];
            int[] slot = new int[n];
            int filled = 0;
            for (int i = 0; i < n; i++) {
                try {
                    preprocessing.apply(decode(rowsOfBatch.get(i)), input, filled);
                    slot[i] = filled++;
                } catch (ImageLoadException e) {
                    slot[i] = -1;
                    errors[i] = e.reason();
                }
            }
            int images = filled;
            if (images == 1 && batch > 1) input.slice(1, 2).copyFrom(input.slice(0, 1)); // see the class comment
            int rowsRun = images == 1 && batch > 1 ? 2 : images;
            Answer[] answers = images == 0 ? new Answer[0] : served.predictor().run(input.slice(0, rowsRun), out -> answers(out, images));
            for (int i = 0; i < n; i++) done.add(output(rowsOfBatch.get(i), slot[i] < 0 ? null : answers[slot[i]], errors[i]));
        }

        private Answer[] answers(Session.Outputs out, int images) {
            Answer[] a = new Answer[images];
            for (int r = 0; r < images; r++) {
                List<Prediction> top = Prediction.topK(out.logits().slice(r, r + 1).toArray(), served.labels(), topK);
                Row[] structs = new Row[top.size()];
                for (int k = 0; k < structs.length; k++) {
                    Prediction p = top.get(k);
                    structs[k] = RowFactory.create(p.label(), p.index(), p.probability());
                }
                double[] f = null;
                if (features) {
                    float[] row = out.features().slice(r, r + 1).toArray();
                    f = new double[row.length];
                    for (int c = 0; c < row.length; c++) f[c] = row[c];
                }
                a[r] = new Answer(structs, f);
            }
            return a;
        }

        private Row output(Row in, Answer answer, String error) {
            int width = in.size();
            Object[] v = new Object[width + (features ? 5 : 4)];
            for (int i = 0; i < width; i++) v[i] = in.get(i);
            if (answer != null) {
                Row best = answer.top()[0];
                v[width] = answer.top();
                v[width + 1] = best.getString(0);
                v[width + 2] = best.getDouble(2);
                if (features) v[width + 3] = Vectors.dense(answer.features());
            }
            v[v.length - 1] = error;
            return RowFactory.create(v);
        }

        private RgbImage decode(Row row) throws ImageLoadException {
            Path name = name(row);
            if (row.isNullAt(inputIndex)) throw new ImageLoadException(name, inputIsPath ? "no path (null)" : "no image content (null)");
            byte[] bytes = inputIsPath ? read(row.getString(inputIndex), name) : (byte[]) row.get(inputIndex);
            return decoder.decode(bytes, name);
        }

        /** The image's bytes, through Hadoop's FileSystem (local paths, HDFS, S3, ...). */
        private byte[] read(String location, Path name) throws ImageLoadException {
            try {
                org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(location);
                FileSystem fs = p.getFileSystem(conf);
                FileStatus status = fs.getFileStatus(p);
                if (!status.isFile()) throw new ImageLoadException(name, "not a regular file");
                try (InputStream in = fs.open(p)) {
                    return in.readAllBytes();
                }
            } catch (FileNotFoundException e) {
                throw new ImageLoadException(name, "no such file", e);
            } catch (IOException | IllegalArgumentException e) {
                if (e instanceof ImageLoadException l) throw l;
                throw new ImageLoadException(name, "cannot be read (" + e.getMessage() + ")", e);
            }
        }

        /** What names the row's image in errors: its path column, else its input path, else "image". */
        private Path name(Row row) {
            String s = pathIndex >= 0 && !row.isNullAt(pathIndex) ? row.getString(pathIndex)
                    : inputIsPath && !row.isNullAt(inputIndex) ? row.getString(inputIndex) : "image";
            try {
                return Path.of(s);
            } catch (InvalidPathException e) {
                return Path.of("image");
            }
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            arena.close();
        }
    }
}
