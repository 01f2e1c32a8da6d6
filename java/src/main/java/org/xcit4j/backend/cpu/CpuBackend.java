package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.xcit4j.backend.DeviceUnavailableException;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.Precision;
import org.xcit4j.tensor.Tensor;

/**
 * The native CPU backend: libxcit's C kernels (AVX-512 / AVX2 / baseline, chosen at run time,
 * OpenMP threads) for every op except the matrix products, which go to oneDNN. Every call
 * is one or a few downcalls on memory the session planned; GEMM primitives are created, and
 * their weights packed, while a session is prepared, so runs allocate nothing.
 *
 * <p>Sessions: a backend serves any number of sessions in turn, one forward at a time (a run
 * while another thread runs on the same backend is refused with an IllegalStateException).
 * What a session makes here (im2col plans, the covariance route's buffers and primitives, its
 * use of GEMM primitives) is its own {@link SessionState}, freed when the session closes.
 * Packed weights live in a {@link CpuWeights}: the backend's own, or one shared by several
 * backends (one per thread or per session of a server) so that each weight is packed once.
 *
 * <pre>{@code
 * try (CpuBackend cpu = new CpuBackend(2, Precision.BF16); Session s = model.session(cpu, 1, 224, 224)) { ... }
 * }</pre>
 */
public final class CpuBackend extends CpuKernels {
    private final NativeContext ctx;
    private final Precision precision;
    private final int threads;
    private final CpuWeights weights;
    private final boolean ownsWeights;
    private final Gemms gemms;
    private final PatchConv conv;
    private final Map<Forward, SessionState> sessions = new IdentityHashMap<>();
    /** Ops called outside a session's prepare or run (tests call ops directly): freed at close. */
    private final SessionState unbound;
    /** The state of the session preparing or running now, else {@link #unbound}. */
    private SessionState current;
    /** The thread inside prepare, run or release, or null. */
    private final AtomicReference<Thread> busy = new AtomicReference<>();
    /** Overrides the measured crossover when >= 0 (tests force one path or the other). */
    long covarianceMinTokens = -1;
    private volatile boolean closed;

    /** All cores, float32. */
    public CpuBackend() {
        this(0, Precision.FP32);
    }

    /**
     * {@code threads} OpenMP threads (0 = all cores), float32.
     *
     * @param threads OpenMP threads; 0 for all cores
     */
    public CpuBackend(int threads) {
        this(threads, Precision.FP32);
    }

    /**
     * {@code threads} OpenMP threads (0 = all cores) and the GEMM precision. BF16 needs a CPU
     * with avx512_bf16 and is refused with {@link DeviceUnavailableException} elsewhere.
     *
     * @param threads OpenMP threads; 0 for all cores
     * @param precision FP32 or BF16
     * @throws DeviceUnavailableException if the CPU cannot compute in that precision
     */
    public CpuBackend(int threads, Precision precision) {
        this(threads, precision, null, XCIT_ISA_AUTO());
    }

    /**
     * As {@link #CpuBackend(int, Precision)}, with packed weights from (and into) {@code weights},
     * which the caller keeps owning: backends given the same {@link CpuWeights} pack each
     * weight of a model once between them. {@code weights} may be closed before this backend;
     * it is freed when the last backend using it closes.
     *
     * @param threads OpenMP threads; 0 for all cores
     * @param precision FP32 or BF16
     * @param weights the shared packed weights
     * @throws DeviceUnavailableException if the CPU cannot compute in that precision
     */
    public CpuBackend(int threads, Precision precision, CpuWeights weights) {
        this(threads, precision, java.util.Objects.requireNonNull(weights, "weights"), XCIT_ISA_AUTO());
    }

    /** As above with the kernel set forced (XCIT_ISA_*), for tests of the fallbacks; null weights: its own. */
    CpuBackend(int threads, Precision precision, CpuWeights shared, int isa) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = all cores), got " + threads);
        if (precision == Precision.TF32 || precision == Precision.FP16) {
            throw new DeviceUnavailableException("precision " + precision + " is not available on device 'cpu' (fp32 or bf16); "
                    + "tf32 and fp16 are CUDA modes");
        }
        if (precision == Precision.BF16 && !CpuInfo.detect().has("avx512_bf16")) {
            throw new DeviceUnavailableException("precision bf16 needs a CPU with avx512_bf16 (this one has: "
                    + CpuInfo.detect().relevantFlags() + "); use fp32");
        }
        this.precision = precision;
        this.ownsWeights = shared == null;
        this.weights = ownsWeights ? new CpuWeights() : shared;
        weights.attach();
        NativeContext c = null;
        Gemms g;
        try {
            c = new NativeContext();
            c.check(xcit_cpu_set_isa(c.handle(), isa), "xcit_cpu_set_isa");
            c.check(xcit_cpu_set_threads(c.handle(), threads), "xcit_cpu_set_threads");
            g = new Gemms(c, weights, precision, xcit_cpu_threads(c.handle()));
        } catch (RuntimeException | LinkageError e) {
            if (c != null) c.close();
            releaseWeights();
            throw e;
        }
        this.ctx = c;
        this.gemms = g;
        this.threads = xcit_cpu_threads(c.handle());
        this.conv = new PatchConv(c, g, weights);
        this.unbound = new SessionState(c, g);
        use(unbound);
    }

    /**
     * Setup, then one dry walk of the forward (GEMMs make their primitives and packed weights
     * but do not run), so that everything a run
     * uses exists when the session does: the first run allocates no more than the hundredth,
     * and a process's memory after creating a session is what its runs will need. The walk
     * costs the non-GEMM kernels of one forward (a small part of it).
     */
    @Override
    public void prepare(Forward forward) {
        enter("prepare a session");
        SessionState state = new SessionState(ctx, gemms);
        try {
            SessionState previous = sessions.put(forward, state);
            if (previous != null) previous.close();
            use(state);
            gemms.bindThread();
            forward.setup(this);
            gemms.dryRun = true;
            try (UnbackedTensor input = new UnbackedTensor(forward.inputShape())) {
                forward.forward(this, input.tensor);
            } finally {
                gemms.dryRun = false;
            }
        } catch (RuntimeException | Error e) {
            sessions.remove(forward);
            state.close();
            throw e;
        } finally {
            exit();
        }
    }

    /** One forward in the session's own state, with this backend's OpenMP team size on the calling thread. */
    @Override
    public void run(Forward forward, Tensor input) {
        enter("run a forward");
        try {
            use(sessions.getOrDefault(forward, unbound));
            gemms.bindThread();
            forward.forward(this, input);
        } finally {
            exit();
        }
    }

    /**
     * The session is closing: what it made here (plans, covariance buffers, primitives only it
     * used) goes. After the backend's close there is nothing left to free.
     */
    @Override
    public void release(Forward forward) {
        if (closed) return;
        enter("release a session");
        try {
            SessionState state = sessions.remove(forward);
            if (state != null) state.close();
        } finally {
            exit();
        }
    }

    /** Claims the backend for this thread; a second thread is refused (the scratch and context are shared). */
    private void enter(String what) {
        if (closed) throw new IllegalStateException("the cpu backend has been closed");
        Thread other = busy.compareAndExchange(null, Thread.currentThread());
        if (other != null) {
            throw new IllegalStateException("cannot " + what + " on this cpu backend: thread '" + other.getName()
                    + "' is running on it. A CpuBackend runs one forward at a time; give each thread its own backend "
                    + "(sharing packed weights through CpuWeights), or share one org.xcit4j.serve.Predictor between threads");
        }
    }

    private void exit() {
        use(unbound);
        busy.set(null);
    }

    private void use(SessionState state) {
        current = state;
        gemms.scope = state.scope;
    }

    /** oneDNN primitives and im2col plans alive now (tests: a prepared session's runs make none). */
    int preparedObjects() {
        int plans = unbound.convPlans.size();
        for (SessionState s : sessions.values()) plans += s.convPlans.size();
        return gemms.dnnl().primitives() + plans;
    }

    /**
     * Why this backend cannot be opened here, or null if it can.
     *
     * @return the reason, or null
     */
    public static String unavailableReason() {
        try (CpuBackend probe = new CpuBackend(1)) {
            return null;
        } catch (RuntimeException | LinkageError e) {
            return e.getMessage();
        }
    }

    @Override
    public String name() {
        return "cpu";
    }

    /**
     * OpenMP threads of each forward.
     *
     * @return the thread count
     */
    public int threads() {
        return threads;
    }

    /**
     * The GEMM precision.
     *
     * @return FP32 or BF16
     */
    public Precision precision() {
        return precision;
    }

    /**
     * The kernel set in use: "avx512", "avx2" or "generic".
     *
     * @return the kernel set
     */
    public String isa() {
        return switch (xcit_cpu_isa(handle())) {
            case 3 -> "avx512";
            case 2 -> "avx2";
            default -> "generic";
        };
    }

    @Override
    MemorySegment handle() {
        if (closed) throw new IllegalStateException("the cpu backend has been closed");
        return ctx.handle();
    }

    @Override
    void check(int status, String op) {
        ctx.check(status, op);
    }

    // ---- matrix products (oneDNN) ---------------------------------------------------------

    @Override
    public void linear(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        gemms.linear(out, in, weight, bias, null, Dnnl.Epilogue.NONE);
    }

    @Override
    public void linearGelu(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        gemms.linear(out, in, weight, bias, null, Dnnl.Epilogue.GELU);
    }

    /** x += gamma * (in W^T + b) in one primitive: gamma folded into the packed W and b, sum post-op. */
    @Override
    public void linearAddScaled(Tensor x, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Tensor tmp) {
        gemms.linear(x, in, weight, bias, gamma, Dnnl.Epilogue.ACCUMULATE);
    }

    /** In bf16, fc1's GELU output stays bf16 for fc2 (Gemms.mlpAddScaledBf16). */
    @Override
    public void mlpAddScaled(Tensor x, Tensor in, Tensor weight1, Tensor bias1, Tensor weight2, Tensor bias2,
                             Tensor gamma, Tensor hidden, Tensor tmp) {
        if (precision == Precision.BF16) {
            gemms.mlpAddScaledBf16(x, in, weight1, bias1, weight2, bias2, gamma, hidden);
        } else {
            super.mlpAddScaled(x, in, weight1, bias1, weight2, bias2, gamma, hidden, tmp);
        }
    }

    /** In bf16, the LayerNorm writes fc1's bf16 input directly (Gemms.layerNormMlpAddScaledBf16). */
    @Override
    public void layerNormMlpAddScaled(Tensor x, Tensor u, Tensor lnGamma, Tensor lnBeta, float eps, Tensor weight1,
                                      Tensor bias1, Tensor weight2, Tensor bias2, Tensor gamma, Tensor hidden, Tensor tmp) {
        if (precision == Precision.BF16) {
            gemms.layerNormMlpAddScaledBf16(x, u, lnGamma, lnBeta, eps, weight1, bias1, weight2, bias2, gamma, hidden);
        } else {
            super.layerNormMlpAddScaled(x, u, lnGamma, lnBeta, eps, weight1, bias1, weight2, bias2, gamma, hidden, tmp);
        }
    }

    /** Bytes of the weights oneDNN holds packed (package-private: tests). */
    long packedWeightBytes() {
        return weights.packedBytes();
    }

    /**
     * Every residual op is fused here: linearAddScaled and the MLPs' second GEMM add into x as
     * a oneDNN post-op, lpiAddScaled is one kernel, xcaAddScaled ends in linearAddScaled.
     */
    @Override
    public boolean residualOpsUseTmp() {
        return false;
    }

    // ---- attention: direct or covariance-folded -------------------------------------------

    /**
     * The attention branch: the direct path (qkv GEMM, fused XCA kernel, proj GEMM) for few
     * tokens, the covariance-folded one (its GEMMs in fp32 in either precision) from
     * {@link #covarianceMinTokens} tokens on.
     */
    @Override
    public void xcaAddScaled(Tensor x, Tensor u, Tensor qkvWeight, Tensor qkvBias, Tensor temperature, int heads,
                             Tensor projWeight, Tensor projBias, Tensor gamma, Tensor qkvBuf, Tensor attnBuf, Tensor tmp) {
        long n = u.shape().dim(1), c = u.shape().dim(2);
        if (n < covarianceMinTokens(c) || u.shape().rank() != 3 || !x.shape().equals(u.shape())) {
            if (qkvBuf == null || attnBuf == null) {
                throw new IllegalArgumentException("xca: the direct route for u " + u.shape() + " needs qkvBuf and attnBuf (null: "
                        + "planned away while xcaUsesBuffers(" + n + ", " + c + ") was false?)");
            }
            super.xcaAddScaled(x, u, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma, qkvBuf, attnBuf, tmp);
            return;
        }
        current.covariance.xcaAddScaled(x, u, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma);
    }

    /** The covariance route (from the crossover on) reads neither qkvBuf nor attnBuf. */
    @Override
    public boolean xcaUsesBuffers(long tokens, long channels) {
        return tokens < covarianceMinTokens(channels);
    }

    /** In fp32, the same crossover as the whole-image path; bf16 streams the direct route. */
    @Override
    public boolean foldsStreamedXca(long tokens, long channels) {
        return precision == Precision.FP32 && tokens >= covarianceMinTokens(channels);
    }

    @Override
    public void xcaCovAccumulate(Tensor stats, Tensor u, boolean accumulate) {
        current.covariance.accumulate(stats, u, accumulate);
    }

    @Override
    public void xcaCovFold(Tensor folded, Tensor stats, long tokens, Tensor qkvWeight, Tensor qkvBias, Tensor temperature,
                           int heads, Tensor projWeight, Tensor projBias, Tensor gamma) {
        current.covariance.fold(folded, stats, tokens, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma);
    }

    @Override
    public void xcaCovApply(Tensor x, Tensor u, Tensor folded) {
        current.covariance.apply(x, u, folded);
    }

    /**
     * Tokens from which the covariance-folded attention is faster. Its extra cost is O(C^3)
     * per image against a saving of O(N C^2), so the crossover grows like C; measured on
     * Zen 5 (one thread, per block): C 384 between N 576 (direct 4.5 ms, folded 4.9) and 784
     * (6.0 vs 5.5), C 128 at N ~400 (0.38 vs 0.38); at N 4096, C 384: 29.6 vs 16.8 ms.
     * With bf16 GEMMs both paths speed up (the folded one runs S and its Linear in bf16 with
     * fp32 accumulation, its C^3 glue in fp32), so its crossover moves up a little: C 384
     * between N 1024 (direct 5.0 ms, folded 5.3) and 4096 (17.5-21.8 vs 11.0); C 128 between
     * 400 (0.26 vs 0.30) and 576 (0.35 vs 0.33).
     */
    long covarianceMinTokens(long channels) {
        if (covarianceMinTokens >= 0) return covarianceMinTokens;
        return precision == Precision.BF16 ? Math.max(3 * channels, 500) : Math.max(2 * channels, 400);
    }


    // ---- patch embedding (PatchConv) ------------------------------------------------------

    @Override
    public void conv3x3s2(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        conv.channelsLast(current.convPlans, out, in, firstRow, weight, bias, gelu);
    }

    @Override
    public void conv3x3s2ChannelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        conv.channelsFirst(out, in, firstRow, weight, bias, gelu);
    }

    /**
     * Frees the native context, oneDNN primitives, every session's state and (unless shared)
     * the packed weights; closing twice is harmless. Refused while a forward runs.
     */
    @Override
    public void close() {
        if (closed) return;
        enter("close");
        closed = true;
        try {
            for (SessionState s : sessions.values()) s.close();
            sessions.clear();
            unbound.close();
            gemms.close();
        } finally {
            conv.close();
            ctx.close();
            releaseWeights();
            busy.set(null);
        }
    }

    private void releaseWeights() {
        weights.detach();
        if (ownsWeights) weights.close();
    }
}
