package org.xcit4j.backend.cpu;

import static org.xcit4j.backend.Checks.*;
import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.DeviceUnavailableException;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.Precision;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The native CPU backend: libxcit's C kernels (AVX-512 / AVX2 / baseline, chosen at run time,
 * OpenMP threads) for every op except the matrix products, which go to oneDNN. Every call
 * is one or a few downcalls on memory the session planned; GEMM primitives are created, and
 * their weights packed, on the first call for a (weight, rows) pair and reused afterwards,
 * so steady-state calls allocate nothing. Not thread-safe: one backend per session at a time.
 *
 * <pre>{@code
 * try (CpuBackend cpu = new CpuBackend(2, Precision.BF16); Session s = model.session(cpu, 1, 224, 224)) { ... }
 * }</pre>
 */
public final class CpuBackend implements Backend {
    private final NativeContext ctx;
    private final Dnnl dnnl;
    private final Precision precision;
    private final int threads;
    private final Arena arena = Arena.ofShared(); // derived weights and workspaces
    /**
     * The im2col schedule of each conv output view seen (a session's patch-embedding stages or
     * bands, views it makes once), by the view's identity; dropped when a session is released.
     */
    private final IdentityHashMap<Tensor, ConvPlan> convPlans = new IdentityHashMap<>();
    /** Each im2col conv weight in GEMM order (ConvPlan.permute), by weight identity. */
    private final IdentityHashMap<Tensor, Tensor> permutedWeights = new IdentityHashMap<>();
    private MemorySegment workspace = MemorySegment.NULL;
    /** bf16 copies of GEMM inputs (precision BF16 only), grown rarely and reused. */
    private MemorySegment staging = MemorySegment.NULL;
    /** The folded attention's buffers and primitives for the (u, x) pair last seen. */
    private CovarianceXca covariance;
    /** The covariance route of streamed blocks (made on first use). */
    private CovarianceBands bands;
    /** Overrides the measured crossover when >= 0 (tests force one path or the other). */
    long covarianceMinTokens = -1;
    /**
     * True while {@link #prepare} walks a session's forward once: every op makes what it
     * needs (oneDNN primitives and packed weights, im2col plans, bf16 staging, the native
     * scratch of the kernels, which run on whatever the buffers hold) but GEMMs do not execute.
     */
    private boolean dryRun;
    /** The Java thread whose OpenMP default thread count was last set (oneDNN reads it). */
    private Thread ompThread;
    private boolean closed;

    /** All cores, float32. */
    public CpuBackend() {
        this(0, Precision.FP32);
    }

    /** {@code threads} OpenMP threads (0 = all cores), float32. */
    public CpuBackend(int threads) {
        this(threads, Precision.FP32);
    }

    /**
     * {@code threads} OpenMP threads (0 = all cores) and the GEMM precision. BF16 needs a CPU
     * with avx512_bf16 and is refused with {@link DeviceUnavailableException} elsewhere.
     */
    public CpuBackend(int threads, Precision precision) {
        this(threads, precision, XCIT_ISA_AUTO());
    }

    /** As above with the kernel set forced (XCIT_ISA_*), for tests of the fallbacks. */
    CpuBackend(int threads, Precision precision, int isa) {
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
        NativeContext c = new NativeContext();
        Dnnl d = null;
        try {
            c.check(xcit_cpu_set_isa(c.handle(), isa), "xcit_cpu_set_isa");
            c.check(xcit_cpu_set_threads(c.handle(), threads), "xcit_cpu_set_threads");
            d = new Dnnl();
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        this.ctx = c;
        this.dnnl = d;
        this.threads = xcit_cpu_threads(c.handle());
        this.ompThread = Thread.currentThread();
    }

    /**
     * Setup, then one dry walk of the forward (see {@link #dryRun}), so that everything a run
     * uses exists when the session does: the first run allocates no more than the hundredth,
     * and a process's memory after creating a session is what its runs will need. The walk
     * costs the non-GEMM kernels of one forward (a small part of it).
     */
    @Override
    public void prepare(Forward forward) {
        forward.setup(this);
        dryRun = true;
        try (UnbackedTensor input = new UnbackedTensor(forward.inputShape())) {
            forward.forward(this, input.tensor);
        } finally {
            dryRun = false;
        }
    }

    /**
     * The session is closing: its conv plans go (they hold its views); other sessions' plans are
     * remade on their next call. Packed weights and primitives stay, keyed by the model's weights.
     */
    @Override
    public void release(Forward forward) {
        convPlans.clear();
    }

    /** oneDNN primitives and im2col plans made so far (tests: a prepared session's runs make none). */
    int preparedObjects() {
        return dnnl.primitives() + convPlans.size();
    }

    /** Why this backend cannot be opened here, or null if it can. */
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

    public int threads() {
        return threads;
    }

    public Precision precision() {
        return precision;
    }

    /** The kernel set in use: "avx512", "avx2" or "generic". */
    public String isa() {
        return switch (xcit_cpu_isa(handle())) {
            case 3 -> "avx512";
            case 2 -> "avx2";
            default -> "generic";
        };
    }

    private MemorySegment handle() {
        if (closed) throw new IllegalStateException("the cpu backend has been closed");
        return ctx.handle();
    }

    // ---- matrix products (oneDNN) ---------------------------------------------------------

    @Override
    public void linear(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        gemm(out, in, weight, bias, null, Dnnl.Epilogue.NONE);
    }

    @Override
    public void linearGelu(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        gemm(out, in, weight, bias, null, Dnnl.Epilogue.GELU);
    }

    /** x += gamma * (in W^T + b) in one primitive: gamma folded into the packed W and b, sum post-op. */
    @Override
    public void linearAddScaled(Tensor x, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Tensor tmp) {
        gemm(x, in, weight, bias, gamma, Dnnl.Epilogue.ACCUMULATE);
    }

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
            Backend.super.xcaAddScaled(x, u, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma, qkvBuf, attnBuf, tmp);
            return;
        }
        requireDims(qkvWeight, "xca qkv weight", 3 * c, c);
        requireNumel(qkvBias, 3 * c, "xca qkv bias");
        requireNumel(temperature, heads, "xca temperature");
        requireDims(projWeight, "xca proj weight", c, c);
        requireNumel(projBias, c, "xca proj bias");
        if (gamma != null) requireNumel(gamma, c, "xca gamma");
        if (heads < 1 || c % heads != 0) throw new IllegalArgumentException("xca: C = " + c + " is not divisible by heads = " + heads);
        ensureOmpThreads();
        CovarianceXca path = covariance;
        boolean bf16 = precision == Precision.BF16;
        if (path == null || !path.serves(u, x, heads, bf16)) covariance = path = new CovarianceXca(dnnl, arena, u, x, heads, bf16);
        path.run(ctx, qkvWeight, qkvBias, temperature, projWeight, projBias, gamma, dryRun);
    }

    /** The covariance route (from the crossover on) reads neither qkvBuf nor attnBuf. */
    @Override
    public boolean xcaUsesBuffers(long tokens, long channels) {
        return tokens < covarianceMinTokens(channels);
    }

    /**
     * Every residual op is fused here: linearAddScaled and the MLPs' second GEMM add into x as
     * a oneDNN post-op, lpiAddScaled is one kernel, xcaAddScaled ends in linearAddScaled.
     */
    @Override
    public boolean residualOpsUseTmp() {
        return false;
    }

    /** In fp32, the same crossover as the whole-image path; bf16 streams the direct route. */
    @Override
    public boolean foldsStreamedXca(long tokens, long channels) {
        return precision == Precision.FP32 && tokens >= covarianceMinTokens(channels);
    }

    @Override
    public void xcaCovAccumulate(Tensor stats, Tensor u, boolean accumulate) {
        long c = u.shape().dim(-1), m = c == 0 ? 0 : u.numel() / c;
        requireNumel(stats, (c + 1) * c, "xcaCovAccumulate stats (C + 1, C)");
        if (m == 0) return;
        ensureOmpThreads();
        bands().accumulate(ctx, stats, u, m, c, accumulate, dryRun);
    }

    @Override
    public void xcaCovFold(Tensor folded, Tensor stats, long tokens, Tensor qkvWeight, Tensor qkvBias, Tensor temperature,
                           int heads, Tensor projWeight, Tensor projBias, Tensor gamma) {
        long c = projWeight.shape().dim(0);
        requireNumel(stats, (c + 1) * c, "xcaCovFold stats (C + 1, C)");
        requireNumel(folded, (c + 1) * c, "xcaCovFold folded (C + 1, C)");
        requireDims(qkvWeight, "xca qkv weight", 3 * c, c);
        requireNumel(qkvBias, 3 * c, "xca qkv bias");
        requireNumel(temperature, heads, "xca temperature");
        requireNumel(projBias, c, "xca proj bias");
        if (gamma != null) requireNumel(gamma, c, "xca gamma");
        if (heads < 1 || c % heads != 0) throw new IllegalArgumentException("xca: C = " + c + " is not divisible by heads = " + heads);
        ensureOmpThreads();
        bands().fold(ctx, folded, stats, tokens, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma, c, dryRun);
    }

    @Override
    public void xcaCovApply(Tensor x, Tensor u, Tensor folded) {
        long c = u.shape().dim(-1), m = c == 0 ? 0 : u.numel() / c;
        if (x.numel() != u.numel()) throw new IllegalArgumentException("xcaCovApply x/u: " + x.shape() + " vs " + u.shape());
        requireNumel(folded, (c + 1) * c, "xcaCovApply folded (C + 1, C)");
        if (m == 0) return;
        ensureOmpThreads();
        bands().apply(x, u, folded, m, c, dryRun);
    }

    private CovarianceBands bands() {
        if (bands == null) bands = new CovarianceBands(dnnl, arena);
        return bands;
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

    private void gemm(Tensor out, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Dnnl.Epilogue epilogue) {
        long o = weight.shape().dim(0), k = weight.shape().dim(1);
        if (weight.shape().rank() != 2 || in.numel() % Math.max(k, 1) != 0) {
            throw new IllegalArgumentException("linear: in " + in.shape() + " does not match weight " + weight.shape());
        }
        long m = in.numel() / k;
        if (out.numel() != m * o) throw new IllegalArgumentException("linear out: shape " + out.shape() + ", expected " + m * o + " elements");
        if (bias != null && bias.numel() != o) throw new IllegalArgumentException("linear bias: shape " + bias.shape() + ", expected " + o);
        if (gamma != null && gamma.numel() != o) throw new IllegalArgumentException("linear gamma: shape " + gamma.shape() + ", expected " + o);
        if (m == 0 || o == 0) return;
        if (k == 0) throw new IllegalArgumentException("linear: K = 0");
        run(matmul(weight, bias, gamma, epilogue, m, false), in.segment(), m * k, out.segment());
    }

    /**
     * In bf16, fc1 writes GELU(...) as bf16 into the first half of hidden's bytes and fc2
     * reads it from there: the largest GEMM input is never stored in fp32 nor converted.
     */
    @Override
    public void mlpAddScaled(Tensor x, Tensor in, Tensor weight1, Tensor bias1, Tensor weight2, Tensor bias2,
                             Tensor gamma, Tensor hidden, Tensor tmp) {
        if (precision != Precision.BF16) {
            Backend.super.mlpAddScaled(x, in, weight1, bias1, weight2, bias2, gamma, hidden, tmp);
            return;
        }
        long m = checkMlp(x, in, weight1, bias1, weight2, bias2, gamma, hidden);
        if (m == 0) return;
        MatMul fc1 = matmul(weight1, bias1, null, Dnnl.Epilogue.GELU, m, true);
        run(fc1, in.segment(), m * weight1.shape().dim(1), hidden.segment());
        mlpFc2(x, weight2, bias2, gamma, hidden, m);
    }

    /**
     * In bf16 the LayerNorm writes its rows straight as bf16 into the staging fc1 reads
     * (xcit_cpu_layernorm_to_bf16, the same bits as LN then rounding): no float32 copy of the
     * normalised rows is written, read back and converted. u is left untouched.
     */
    @Override
    public void layerNormMlpAddScaled(Tensor x, Tensor u, Tensor lnGamma, Tensor lnBeta, float eps, Tensor weight1,
                                      Tensor bias1, Tensor weight2, Tensor bias2, Tensor gamma, Tensor hidden, Tensor tmp) {
        if (precision != Precision.BF16) {
            Backend.super.layerNormMlpAddScaled(x, u, lnGamma, lnBeta, eps, weight1, bias1, weight2, bias2, gamma, hidden, tmp);
            return;
        }
        long m = checkMlp(x, u, weight1, bias1, weight2, bias2, gamma, hidden), c = weight1.shape().dim(1);
        requireNumel(lnGamma, c, "mlp layerNorm gamma");
        requireNumel(lnBeta, c, "mlp layerNorm beta");
        if (m == 0) return;
        MemorySegment bf16In = staging(m * c);
        check(xcit_cpu_layernorm_to_bf16(handle(), bf16In, x.segment(), lnGamma.segment(), lnBeta.segment(), m, c, eps),
                "xcit_cpu_layernorm_to_bf16");
        MatMul fc1 = matmul(weight1, bias1, null, Dnnl.Epilogue.GELU, m, true);
        if (!dryRun) fc1.run(bf16In, hidden.segment());
        mlpFc2(x, weight2, bias2, gamma, hidden, m);
    }

    /** The rows M of an MLP's operands, checked against its weights. */
    private static long checkMlp(Tensor x, Tensor in, Tensor weight1, Tensor bias1, Tensor weight2, Tensor bias2,
                                 Tensor gamma, Tensor hidden) {
        long h = weight1.shape().dim(0), c = weight1.shape().dim(1), m = c == 0 ? 0 : in.numel() / c;
        requireDims(weight2, "mlp fc2 weight", c, h);
        requireNumel(bias1, h, "mlp fc1 bias");
        requireNumel(bias2, c, "mlp fc2 bias");
        if (gamma != null) requireNumel(gamma, c, "mlp gamma");
        if (in.numel() != m * c || x.numel() != m * c || hidden.numel() != m * h) {
            throw new IllegalArgumentException("mlp: in " + in.shape() + ", x " + x.shape() + ", hidden " + hidden.shape()
                    + " do not match weights " + weight1.shape());
        }
        return m;
    }

    /** bf16: x += gamma * (hidden W2^T + b2), hidden holding fc1's bf16 output. */
    private void mlpFc2(Tensor x, Tensor weight2, Tensor bias2, Tensor gamma, Tensor hidden, long m) {
        MatMul fc2 = matmul(weight2, bias2, gamma, Dnnl.Epilogue.ACCUMULATE, m, false);
        if (!dryRun) fc2.run(hidden.segment(), x.segment());
    }

    /** The bf16 staging for a GEMM input of {@code elements}, grown rarely and reused. */
    private MemorySegment staging(long elements) {
        if (staging.byteSize() < elements * 2) staging = arena.allocate(elements * 2, 64);
        return staging;
    }

    /** Runs mm on src (elements floats); in bf16 precision src is first rounded into staging. */
    private void run(MatMul mm, MemorySegment src, long elements, MemorySegment dst) {
        if (precision == Precision.BF16) {
            MemorySegment bf16In = staging(elements);
            if (dryRun) return;
            check(xcit_cpu_to_bf16(handle(), bf16In, src, elements), "xcit_cpu_to_bf16");
            src = bf16In;
        }
        if (!dryRun) mm.run(src, dst);
    }

    /** Bytes of the weights oneDNN holds packed (package-private: tests). */
    long packedWeightBytes() {
        return dnnl.packedWeightBytes();
    }

    private MatMul matmul(Tensor weight, Tensor bias, Tensor gamma, Dnnl.Epilogue epilogue, long m, boolean bf16Out) {
        ensureOmpThreads();
        return dnnl.matmul(m, weight, bias, gamma, epilogue, precision == Precision.BF16, bf16Out);
    }

    /** oneDNN sizes its OpenMP team from the calling thread's default: set it once per thread. */
    private void ensureOmpThreads() {
        Thread current = Thread.currentThread();
        if (current != ompThread) {
            ctx.check(xcit_cpu_set_threads(handle(), threads), "xcit_cpu_set_threads");
            ompThread = current;
        }
    }

    // ---- patch embedding -----------------------------------------------------------------

    /**
     * Stage 0 (Cin = 3, K = 27) runs the direct C kernel, GELU applied to each row as it is
     * written; wider stages run im2col in chunks of about 4 MB and a oneDNN GEMM per chunk with
     * GELU as its post-op (measured: see the README's table).
     */
    @Override
    public void conv3x3s2(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        long rows = convRows(out, in, false, firstRow, weight, bias);
        Shape s = in.shape();
        long b = s.dim(0), h = s.dim(1), w = s.dim(2), cin = s.dim(3), cout = weight.shape().dim(0);
        if (cin < 8) {
            direct(out, in, weight, bias, b, h, w, cin, cout, firstRow, rows, gelu ? XCIT_CONV_GELU() : 0);
            return;
        }
        // A session hands the same views every run (its stages, or its bands made once), so each
        // finds its plan again; the permuted weight is shared by all plans of a weight.
        ConvPlan plan = convPlans.get(out);
        if (plan == null || !plan.serves(in, weight, firstRow)) {
            plan = new ConvPlan(in, out, weight, firstRow, h, w, cin, cout);
            convPlans.put(out, plan);
        }
        Tensor permuted = permutedWeights.get(weight);
        if (permuted == null) {
            permuted = ConvPlan.permute(arena, weight, cout, cin);
            permutedWeights.put(weight, permuted);
        }
        Dnnl.Epilogue epilogue = gelu ? Dnnl.Epilogue.GELU : Dnnl.Epilogue.NONE;
        MemorySegment cols = workspace(plan.chunk * plan.k * Float.BYTES);
        for (int i = 0; i < plan.dst.length; i++) {
            if (plan.rows[i] == 0) continue;
            check(xcit_cpu_im2col3x3s2_f32(handle(), cols, plan.src[i], h, w, cin, plan.row0[i], plan.rows[i]),
                    "xcit_cpu_im2col3x3s2_f32");
            run(matmul(permuted, bias, null, epilogue, plan.rows[i], false), cols, plan.rows[i] * plan.k, plan.dst[i]);
        }
    }

    /** The direct kernel for any Cin (it is the fast one for the image's 3 channels). */
    @Override
    public void conv3x3s2ChannelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        long rows = convRows(out, in, true, firstRow, weight, bias);
        Shape s = in.shape();
        direct(out, in, weight, bias, s.dim(0), s.dim(2), s.dim(3), s.dim(1), weight.shape().dim(0), firstRow, rows,
                XCIT_CONV_CHANNELS_FIRST() | (gelu ? XCIT_CONV_GELU() : 0));
    }

    private void direct(Tensor out, Tensor in, Tensor weight, Tensor bias, long b, long h, long w, long cin, long cout,
                        long firstRow, long rows, int flags) {
        check(xcit_cpu_conv3x3s2_f32(handle(), out.segment(), in.segment(), weight.segment(), bias.segment(),
                b, h, w, cin, cout, firstRow, rows, flags), "xcit_cpu_conv3x3s2_f32");
    }

    /** Backend-owned scratch of at least {@code bytes} (maybe more), grown rarely and reused. */
    private MemorySegment workspace(long bytes) {
        if (workspace.byteSize() < bytes) workspace = arena.allocate(bytes, 64);
        return workspace;
    }

    // ---- element-wise and attention kernels (libxcit) -------------------------------------

    @Override
    public void layerNorm(Tensor out, Tensor in, Tensor gamma, Tensor beta, float eps) {
        if (!out.shape().equals(in.shape())) throw new IllegalArgumentException("layerNorm out/in: " + out.shape() + " vs " + in.shape());
        long cols = in.shape().dim(-1);
        requireNumel(gamma, cols, "layerNorm gamma");
        requireNumel(beta, cols, "layerNorm beta");
        check(xcit_cpu_layernorm_f32(handle(), out.segment(), in.segment(), gamma.segment(), beta.segment(),
                cols == 0 ? 0 : in.numel() / cols, cols, eps), "xcit_cpu_layernorm_f32");
    }

    @Override
    public void gelu(Tensor x) {
        check(xcit_cpu_gelu_f32(handle(), x.segment(), x.numel()), "xcit_cpu_gelu_f32");
    }

    @Override
    public void addScaled(Tensor x, Tensor y, Tensor gamma) {
        if (!x.shape().equals(y.shape())) throw new IllegalArgumentException("addScaled x/y: " + x.shape() + " vs " + y.shape());
        long cols = x.shape().dim(-1);
        if (gamma != null) requireNumel(gamma, cols, "addScaled gamma");
        check(xcit_cpu_add_scaled_f32(handle(), x.segment(), y.segment(), gamma == null ? MemorySegment.NULL : gamma.segment(),
                cols == 0 ? 0 : x.numel() / cols, cols), "xcit_cpu_add_scaled_f32");
    }

    @Override
    public void addBroadcast(Tensor x, Tensor rows) {
        long per = rows.numel();
        if (per == 0 || x.numel() % per != 0) throw new IllegalArgumentException("addBroadcast rows: shape " + rows.shape() + ", expected a divisor of " + x.shape());
        check(xcit_cpu_add_broadcast_f32(handle(), x.segment(), rows.segment(), x.numel(), per), "xcit_cpu_add_broadcast_f32");
    }

    @Override
    public void nchwToNhwc(Tensor out, Tensor in) {
        Shape s = in.shape();
        requireDims(out, "nchwToNhwc out", s.dim(0), s.dim(2), s.dim(3), s.dim(1));
        check(xcit_cpu_nchw_to_nhwc_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), s.dim(3)),
                "xcit_cpu_nchw_to_nhwc_f32");
    }

    /** The Gram pass of a streamed block: libxcit's kernel, the fused XCA's first pass on a chunk. */
    @Override
    public void xcaGram(Tensor stats, Tensor qk, int heads, boolean accumulate) {
        long c2 = qk.shape().dim(-1), c = c2 / 2;
        if (c2 != 2 * c || heads < 1 || c % heads != 0) {
            throw new IllegalArgumentException("xcaGram qk: shape " + qk.shape() + ", expected (M, 2C) with C divisible by " + heads);
        }
        long d = c / heads;
        requireDims(stats, "xcaGram stats", heads, d, d + 2);
        check(xcit_cpu_xca_gram_f32(handle(), stats.segment(), qk.segment(), qk.numel() / c2, c, heads, accumulate ? 1 : 0),
                "xcit_cpu_xca_gram_f32");
    }

    @Override
    public void xcaSoftmax(Tensor attn, Tensor stats, Tensor temperature) {
        Shape s = stats.shape();
        long heads = s.dim(0), d = s.dim(1), c = heads * d;
        if (s.rank() != 3 || s.dim(2) != d + 2) throw new IllegalArgumentException("xcaSoftmax stats: shape " + s + ", expected (heads, d, d + 2)");
        requireDims(attn, "xcaSoftmax attn", c, c);
        requireNumel(temperature, heads, "xcaSoftmax temperature");
        check(xcit_cpu_xca_softmax_f32(handle(), attn.segment(), stats.segment(), temperature.segment(), c, heads),
                "xcit_cpu_xca_softmax_f32");
    }

    /**
     * libxcit's block-diagonal kernel: a oneDNN linear would pack attn as a weight on the
     * first call and never see it change.
     */
    @Override
    public void xcaApply(Tensor out, Tensor v, Tensor attn, int heads) {
        long c = v.shape().dim(-1);
        if (heads < 1 || c % heads != 0) throw new IllegalArgumentException("xcaApply v: shape " + v.shape() + ", C not divisible by " + heads);
        if (out.numel() != v.numel()) throw new IllegalArgumentException("xcaApply out/v: " + out.shape() + " vs " + v.shape());
        requireDims(attn, "xcaApply attn", c, c);
        check(xcit_cpu_xca_apply_f32(handle(), out.segment(), v.segment(), attn.segment(), c == 0 ? 0 : v.numel() / c, c, heads),
                "xcit_cpu_xca_apply_f32");
    }

    @Override
    public void xca(Tensor out, Tensor qkv, Tensor temperature, int heads) {
        Shape s = qkv.shape();
        long b = s.dim(0), n = s.dim(1), c = s.dim(2) / 3;
        if (s.dim(2) != 3 * c || heads < 1 || c % heads != 0) throw new IllegalArgumentException("xca qkv: shape " + s + ", expected (B, N, 3C) with C divisible by " + heads);
        requireDims(out, "xca out", b, n, c);
        requireNumel(temperature, heads, "xca temperature");
        check(xcit_cpu_xca_f32(handle(), out.segment(), qkv.segment(), temperature.segment(), b, n, c, heads), "xcit_cpu_xca_f32");
    }

    @Override
    public void lpi(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                    Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2) {
        lpiCall(out, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2, null);
    }

    @Override
    public void lpiAddScaled(Tensor x, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                             Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2, Tensor gamma, Tensor tmp) {
        requireNumel(gamma, in.shape().dim(-1), "lpi gamma");
        lpiCall(x, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2, gamma);
    }

    private void lpiCall(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1,
                         Tensor bnScale, Tensor bnShift, Tensor weight2, Tensor bias2, Tensor gamma) {
        long c = in.shape().dim(-1), pixels = (long) gridH * gridW;
        if (pixels == 0 || c == 0 || in.numel() % (pixels * c) != 0) {
            throw new IllegalArgumentException("lpi in: shape " + in.shape() + ", expected (B, " + gridH + "*" + gridW + ", C)");
        }
        if (!out.shape().equals(in.shape())) throw new IllegalArgumentException("lpi out/in: " + out.shape() + " vs " + in.shape());
        requireNumel(bias1, c, "lpi bias1");
        requireNumel(bnScale, c, "lpi bnScale");
        requireNumel(bnShift, c, "lpi bnShift");
        requireNumel(bias2, c, "lpi bias2");
        requireNumel(weight1, 9 * c, "lpi weight1");
        requireNumel(weight2, 9 * c, "lpi weight2");
        check(xcit_cpu_lpi_f32(handle(), out.segment(), in.segment(), weight1.segment(), bias1.segment(), bnScale.segment(),
                bnShift.segment(), weight2.segment(), bias2.segment(), gamma == null ? MemorySegment.NULL : gamma.segment(),
                in.numel() / (pixels * c), gridH, gridW, c), "xcit_cpu_lpi_f32");
    }

    @Override
    public void classAttention(Tensor out, Tensor weights, Tensor q, Tensor kv, int heads) {
        Shape s = kv.shape();
        long b = s.dim(0), t = s.dim(1), c = s.dim(2) / 2;
        requireDims(q, "classAttention q", b, c);
        requireDims(out, "classAttention out", b, c);
        if (weights != null) requireDims(weights, "classAttention weights", b, heads, t);
        check(xcit_cpu_class_attention_f32(handle(), out.segment(), weights == null ? MemorySegment.NULL : weights.segment(),
                q.segment(), kv.segment(), b, t, c, heads), "xcit_cpu_class_attention_f32");
    }

    @Override
    public boolean foldsClassAttention() {
        return true;
    }

    @Override
    public void classAttentionFromRows(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor kvWeight, Tensor kvBias,
                                       int heads, Tensor kvBuf) {
        Shape s = u.shape();
        if (s.rank() != 3) throw new IllegalArgumentException("classAttentionFromRows u: shape " + s + ", expected (B, T, C)");
        long b = s.dim(0), t = s.dim(1), c = s.dim(2);
        requireDims(q, "classAttentionFromRows q", b, c);
        requireDims(out, "classAttentionFromRows out", b, c);
        if (weights != null) requireDims(weights, "classAttentionFromRows weights", b, heads, t);
        requireDims(kvWeight, "classAttentionFromRows kvWeight", 2 * c, c);
        if (kvBias != null) requireNumel(kvBias, 2 * c, "classAttentionFromRows kvBias");
        check(xcit_cpu_class_attention_folded_f32(handle(), out.segment(), weights == null ? MemorySegment.NULL : weights.segment(),
                q.segment(), u.segment(), kvWeight.segment(), kvBias == null ? MemorySegment.NULL : kvBias.segment(), b, t, c, heads),
                "xcit_cpu_class_attention_folded_f32");
    }

    @Override
    public void classAttentionFoldQuery(Tensor keys, Tensor q, Tensor kWeight, Tensor kBias) {
        long c = q.numel(), heads = keys.shape().dim(0);
        requireDims(keys, "classAttentionFoldQuery keys", heads, c + 1);
        requireDims(kWeight, "classAttentionFoldQuery kWeight", c, c);
        if (kBias != null) requireNumel(kBias, c, "classAttentionFoldQuery kBias");
        check(xcit_cpu_class_attention_fold_query_f32(handle(), keys.segment(), q.segment(), kWeight.segment(),
                kBias == null ? MemorySegment.NULL : kBias.segment(), c, heads), "xcit_cpu_class_attention_fold_query_f32");
    }

    /** Rows of a (M, C) chunk at {@code offset} into a (heads, T) scores or weights buffer, checked. */
    private static long chunkRows(String op, Tensor scores, long offset, Tensor chunk, long c) {
        if (scores.shape().rank() != 2) throw new IllegalArgumentException(op + " scores: shape " + scores.shape() + ", expected (heads, T)");
        if (c < 1 || chunk.numel() % c != 0) throw new IllegalArgumentException(op + ": chunk " + chunk.shape() + ", expected (M, " + c + ")");
        long rows = chunk.numel() / c, t = scores.shape().dim(1);
        if (offset < 0 || offset + rows > t) throw new IllegalArgumentException(op + ": rows [" + offset + ", " + (offset + rows) + ") outside T = " + t);
        return rows;
    }

    @Override
    public void classAttentionFoldedScores(Tensor scores, long offset, Tensor keys, Tensor u) {
        long heads = scores.shape().dim(0), c = keys.shape().dim(-1) - 1;
        requireDims(keys, "classAttentionFoldedScores keys", heads, c + 1);
        long rows = chunkRows("classAttentionFoldedScores", scores, offset, u, c);
        check(xcit_cpu_class_attention_folded_scores_f32(handle(), scores.segment().asSlice(offset * Float.BYTES), keys.segment(),
                u.segment(), rows, c, heads, scores.shape().dim(1)), "xcit_cpu_class_attention_folded_scores_f32");
    }

    @Override
    public void softmaxRows(Tensor x) {
        long cols = x.shape().dim(-1);
        check(xcit_cpu_softmax_rows_f32(handle(), x.segment(), cols == 0 ? 0 : x.numel() / cols, cols), "xcit_cpu_softmax_rows_f32");
    }

    @Override
    public void classAttentionFoldedSum(Tensor ubar, Tensor weights, long offset, Tensor u, boolean accumulate) {
        long heads = weights.shape().dim(0), c = ubar.shape().dim(-1);
        requireDims(ubar, "classAttentionFoldedSum ubar", heads, c);
        long rows = chunkRows("classAttentionFoldedSum", weights, offset, u, c);
        check(xcit_cpu_class_attention_folded_sum_f32(handle(), ubar.segment(), weights.segment().asSlice(offset * Float.BYTES), u.segment(),
                rows, c, heads, weights.shape().dim(1), accumulate ? 1 : 0), "xcit_cpu_class_attention_folded_sum_f32");
    }

    @Override
    public void classAttentionFoldedOut(Tensor out, Tensor ubar, Tensor vWeight, Tensor vBias) {
        long c = out.numel(), heads = ubar.shape().dim(0);
        requireDims(ubar, "classAttentionFoldedOut ubar", heads, c);
        requireDims(vWeight, "classAttentionFoldedOut vWeight", c, c);
        if (vBias != null) requireNumel(vBias, c, "classAttentionFoldedOut vBias");
        check(xcit_cpu_class_attention_folded_out_f32(handle(), out.segment(), ubar.segment(), vWeight.segment(),
                vBias == null ? MemorySegment.NULL : vBias.segment(), c, heads), "xcit_cpu_class_attention_folded_out_f32");
    }

    @Override
    public void channelAffine(Tensor x, Tensor scale, Tensor shift) {
        long c = x.shape().dim(-1);
        requireNumel(scale, c, "channelAffine scale");
        requireNumel(shift, c, "channelAffine shift");
        check(xcit_cpu_channel_affine_f32(handle(), x.segment(), scale.segment(), shift.segment(), c == 0 ? 0 : x.numel() / c, c),
                "xcit_cpu_channel_affine_f32");
    }

    @Override
    public void convTranspose2x2(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        Shape s = in.shape();
        long b = s.dim(0), h = s.dim(1), w = s.dim(2), cin = s.dim(3), cout = weight.shape().dim(1);
        requireDims(weight, "convTranspose2x2 weight", cin, cout, 2, 2);
        requireDims(out, "convTranspose2x2 out", b, 2 * h, 2 * w, cout);
        requireNumel(bias, cout, "convTranspose2x2 bias");
        check(xcit_cpu_conv_transpose2x2_f32(handle(), out.segment(), in.segment(), weight.segment(), bias.segment(),
                b, h, w, cin, cout), "xcit_cpu_conv_transpose2x2_f32");
    }

    @Override
    public void maxPool(Tensor out, Tensor in, int k) {
        Shape s = in.shape();
        if (k < 1) throw new IllegalArgumentException("maxPool k must be >= 1, got " + k);
        requireDims(out, "maxPool out", s.dim(0), s.dim(1) / k, s.dim(2) / k, s.dim(3));
        check(xcit_cpu_max_pool_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), s.dim(3), k),
                "xcit_cpu_max_pool_f32");
    }

    @Override
    public void gatherRow(Tensor out, Tensor in, int row) {
        Shape s = in.shape();
        requireDims(out, "gatherRow out", s.dim(0), s.dim(2));
        check(xcit_cpu_gather_row_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), row), "xcit_cpu_gather_row_f32");
    }

    @Override
    public void scatterRow(Tensor out, int row, Tensor in) {
        Shape s = out.shape();
        requireDims(in, "scatterRow in", s.dim(0), s.dim(2));
        check(xcit_cpu_scatter_row_f32(handle(), out.segment(), in.segment(), s.dim(0), s.dim(1), s.dim(2), row), "xcit_cpu_scatter_row_f32");
    }

    @Override
    public void prependRow(Tensor out, Tensor first, Tensor tokens) {
        Shape s = tokens.shape();
        requireDims(out, "prependRow out", s.dim(0), s.dim(1) + 1, s.dim(2));
        requireNumel(first, s.dim(2), "prependRow first");
        check(xcit_cpu_prepend_row_f32(handle(), out.segment(), first.segment(), tokens.segment(), s.dim(0), s.dim(1), s.dim(2)),
                "xcit_cpu_prepend_row_f32");
    }

    private void check(int status, String op) {
        ctx.check(status, op);
    }

    /** Frees the native context, oneDNN primitives and packed weights; closing twice is harmless. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            dnnl.close();
        } finally {
            ctx.close();
            arena.close();
            convPlans.clear();
            permutedWeights.clear();
        }
    }
}
