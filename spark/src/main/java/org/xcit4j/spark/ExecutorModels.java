package org.xcit4j.spark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;

/**
 * The models this JVM (a Spark executor, or the driver in local mode) serves: one per
 * {@link ModelSpec} and thread count, loaded by the first task that needs it and shared by
 * every task after it. Tasks share it through its {@link org.xcit4j.serve.Predictor}, which
 * gives each concurrent task a planned session of its own over the one copy of the weights
 * (on the CPU, packed once). Models stay loaded while the JVM lives (an executor runs many
 * stages and jobs) and a shutdown hook closes them when it stops, releasing their native
 * memory; {@link #closeAll} releases them earlier.
 */
public final class ExecutorModels {
    private record Key(ModelSpec spec, int threads) {
    }

    private static final Map<Key, ModelSpec.Served> LOADED = new ConcurrentHashMap<>();
    private static final AtomicLong LOADS = new AtomicLong();
    private static boolean hookAdded;

    private ExecutorModels() {
    }

    /** The model of {@code spec} with {@code threads} threads per forward, loaded on first use. */
    static ModelSpec.Served get(ModelSpec spec, int threads, Configuration conf) throws IOException {
        Key key = new Key(spec, threads);
        ModelSpec.Served served = LOADED.get(key);
        if (served != null) return served;
        synchronized (ExecutorModels.class) { // one load at a time: concurrent tasks wait for it instead of loading it again
            served = LOADED.get(key);
            if (served != null) return served;
            if (!hookAdded) {
                Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModels::closeAll, "xcit4j-close-models"));
                hookAdded = true;
            }
            served = spec.open(WeightsCache.local(spec, conf), threads);
            LOADS.incrementAndGet();
            LOADED.put(key, served);
            return served;
        }
    }

    /** {@return the models loaded now} */
    public static int loaded() {
        return LOADED.size();
    }

    /** {@return the models loaded since this JVM started (a model closed and needed again counts twice)} */
    public static long loads() {
        return LOADS.get();
    }

    /**
     * Closes every model (waiting for forwards in progress) and frees its native memory; a task
     * that needs one again loads it again.
     *
     * @return how many were closed
     */
    public static int closeAll() {
        List<ModelSpec.Served> all;
        synchronized (ExecutorModels.class) {
            all = new ArrayList<>(LOADED.values());
            LOADED.clear();
        }
        for (ModelSpec.Served s : all) s.close();
        return all.size();
    }
}
