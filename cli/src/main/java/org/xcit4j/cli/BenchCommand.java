package org.xcit4j.cli;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuBackend;
import org.xcit4j.backend.cuda.Cuda;
import org.xcit4j.backend.cuda.CudaBackend;
import org.xcit4j.model.Flops;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.MemoryBudget;
import org.xcit4j.model.ModelZoo;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.model.XcitConfig;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code xcit bench}: times the whole forward in this process and prints one JSON line, the
 * format bench/peers/peers.py reads next to its PyTorch and ONNX Runtime figures.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time the forward on a random input and print one JSON line (latency, memory, GFLOP/s).")
final class BenchCommand implements Callable<Integer> {
    /** Random weights and inputs are seeded so that two runs time the same computation. */
    private static final long SEED = 0;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--weights", paramLabel = "FILE", description = "Checkpoint to time (safetensors or .pth).")
    Path weights;

    @Option(names = "--model", paramLabel = "NAME",
            description = "Zoo name: random weights of that architecture, or checked against --weights.")
    String model;

    @Option(names = "--tokens-norm", paramLabel = "BOOL", arity = "1",
            description = "For a checkpoint outside the zoo: class-attention norm of every row (true) or only cls.")
    Boolean tokensNorm;

    @Option(names = "--size", required = true, paramLabel = "HxW", description = "Input height x width, e.g. 224x224 (or 224).")
    String size;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "B", description = "Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE", description = "auto, java, cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String device;

    @Option(names = "--threads", paramLabel = "T", description = "Threads of the forward. Default: all cores.")
    Integer threads;

    @Option(names = "--runs", defaultValue = "10", paramLabel = "R", description = "Timed runs. Default: ${DEFAULT-VALUE}.")
    int runs;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "W",
            description = "Untimed runs first, at least (0: none, cold timings); warm-up then goes on until the JIT has been quiet "
                    + "for " + JitQuiet.QUIET_RUNS + " runs (at most " + JitQuiet.MAX_SECONDS + " s). Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Mixin
    ExecutionOptions execution;

    /** Warm-up runs actually made (at least --warmup). */
    private int warmupRuns;

    @Override
    public Integer call() throws Exception {
        validate();
        int[] hw = parseSize(size);
        Device dev = Device.parse(device);
        Precision precision = execution.precision(dev, spec);
        Shape inputShape = Shape.of(batch, 3, hw[0], hw[1]);
        // In double: 2147483647x2147483647 has more bytes than a long counts.
        double inputBytes = (double) batch * 3 * hw[0] * hw[1] * Float.BYTES;
        long available = MemoryBudget.available();
        if (inputBytes > available) {
            throw usage(String.format(Locale.ROOT, "--size %s: the input %s needs %.0f MiB, more than the %d MiB of memory available",
                    size, inputShape, inputBytes / (1 << 20), available >> 20));
        }
        try (Xcit net = loadModel();
             Backend backend = openBackend(dev, precision);
             Session session = net.session(backend, batch, hw[0], hw[1], execution.options());
             Arena arena = Arena.ofShared()) {
            int usedThreads = configure(backend);
            Tensor input = randomInput(arena, inputShape);
            Double rssLoaded = ProcessMemory.residentMb();
            long[] nanos = time(backend, session, input, usedThreads);
            Arrays.sort(nanos);
            double median = nanos.length % 2 == 1 ? nanos[nanos.length / 2]
                    : (nanos[nanos.length / 2 - 1] + nanos[nanos.length / 2]) / 2.0;
            long flops = Flops.forward(net.config(), batch, hw[0], hw[1]);

            Map<String, Object> r = new LinkedHashMap<>();
            r.put("model", modelName(net.config()));
            r.put("size", hw[0] + "x" + hw[1]);
            r.put("batch", batch);
            r.put("device", backend.name());
            if (backend instanceof CudaBackend cuda) {
                // Kernel launches of one forward (the captured graph's kernel nodes): fusion regressions show here.
                r.put("launches", cuda.kernelLaunches(session.forward()));
                if (Cuda.probe().emulated()) r.put("emulated_device", true);
            }
            r.put("threads", usedThreads);
            r.put("precision", precision.toString());
            r.put("streamed", session.streamed());
            r.put("activation_mb", round(session.activationBytes() / 1e6));
            r.put("runs", runs);
            r.put("warmup", warmupRuns);
            r.put("median_ms", round(median / 1e6));
            r.put("min_ms", round(nanos[0] / 1e6));
            r.put("max_ms", round(nanos[nanos.length - 1] / 1e6));
            r.put("rss_loaded_mb", rssLoaded);
            r.put("peak_rss_mb", ProcessMemory.peakResidentMb());
            r.put("gflop", round(flops / 1e9));
            double gflops = flops / median; // FLOP per ns = GFLOP/s
            r.put("gflops", round(gflops));
            // The measured peak is the host CPU's: no percentage for a GPU.
            Double peak = backend.name().equals("cuda") ? null : MachinePeak.gflops(precision.toString(), usedThreads);
            r.put("peak_gflops", peak);
            r.put("percent_of_peak", peak == null ? null : round(100 * gflops / peak));
            Gson gson = new GsonBuilder().serializeNulls().create();
            spec.commandLine().getOut().println(gson.toJson(r));
        }
        return 0;
    }

    private void validate() {
        if (weights == null && model == null) throw usage("give --weights FILE or --model NAME");
        if (batch < 1) throw usage("--batch must be >= 1, got " + batch);
        if (runs < 1) throw usage("--runs must be >= 1, got " + runs);
        if (warmup < 0) throw usage("--warmup must be >= 0, got " + warmup);
        if (threads != null && threads < 1) throw usage("--threads must be >= 1, got " + threads);
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private int[] parseSize(String s) {
        String[] parts = s.trim().toLowerCase(Locale.ROOT).split("x", -1);
        try {
            int h = Integer.parseInt(parts[0].trim()), w = parts.length == 2 ? Integer.parseInt(parts[1].trim()) : h;
            if (parts.length > 2 || h < 1 || w < 1) throw new NumberFormatException();
            return new int[] {h, w};
        } catch (NumberFormatException e) {
            throw usage("--size must be HxW with positive integers (e.g. 224x224), got '" + s + "'");
        }
    }

    private Xcit loadModel() throws java.io.IOException {
        if (weights != null) return Xcit.load(weights, LoadOptions.DEFAULT.withModel(model).withTokensNorm(tokensNorm));
        XcitConfig config = ModelZoo.require(model).config();
        return Xcit.random(tokensNorm == null ? config : config.withTokensNorm(tokensNorm), SEED);
    }

    /** The zoo architecture when the model has one's shape (the size suffix is --size's business). */
    private String modelName(XcitConfig config) {
        if (model != null) return ModelZoo.require(model).architecture().arch();
        return ModelZoo.architectureOf(config).map(ModelZoo.Architecture::arch).orElse("custom");
    }

    /**
     * Opens the device with --threads (native backends: the OpenMP team; 0 = all cores) and
     * --precision (already checked against the device by {@link ExecutionOptions}).
     */
    private Backend openBackend(Device dev, Precision precision) {
        return Backends.open(dev, threads == null ? 0 : threads, precision,
                note -> spec.commandLine().getErr().println("xcit: " + note));
    }

    /**
     * The thread count the run uses. The Java reference parallelises with parallel streams,
     * which run inside whatever ForkJoinPool calls them: {@link #time} calls it from a pool of
     * exactly that many threads. The CPU backend reports its OpenMP team.
     */
    private int configure(Backend backend) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (backend instanceof CpuBackend cpu) return cpu.threads();
        return threads == null ? cores : threads;
    }

    /** Nanoseconds of each timed run, after the warm-up runs. */
    private long[] time(Backend backend, Session session, Tensor input, int usedThreads) throws Exception {
        Callable<long[]> loop = () -> {
            warmupRuns = JitQuiet.warmUp(() -> session.run(input), warmup);
            long[] nanos = new long[runs];
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                session.run(input);
                nanos[i] = System.nanoTime() - t0;
            }
            return nanos;
        };
        if (!backend.name().equals("java")) return loop.call();
        ForkJoinPool pool = new ForkJoinPool(usedThreads);
        try {
            return pool.submit(loop).get();
        } catch (ExecutionException e) {
            // Report the forward's own failure (a shape error, out of memory), not the pool's wrapper.
            if (e.getCause() instanceof Exception cause) throw cause;
            if (e.getCause() instanceof Error error) throw error;
            throw e;
        } finally {
            pool.shutdown();
        }
    }

    /** A seeded standard-normal input: the statistics of a normalised image. */
    private static Tensor randomInput(Arena arena, Shape shape) {
        Tensor t = Tensor.allocate(arena, shape);
        Random random = new Random(SEED);
        for (long i = 0; i < t.numel(); i++) t.set(i, (float) random.nextGaussian());
        return t;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
