package org.xcit4j.backend.cpu;

import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.xcit4j.backend.DeviceUnavailableException;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.Precision;
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
public final class CpuBackend extends CpuKernels {
    private final NativeContext ctx;
    private final Precision precision;
    private final int threads;
    private final Arena arena = Arena.ofShared(); // derived weights and workspaces
    private final Gemms gemms;
    private final PatchConv conv;
    private final CovarianceRoute covariance;
    /** Overrides the measured crossover when >= 0 (tests force one path or the other). */
    long covarianceMinTokens = -1;
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
        Gemms g;
        try {
            c.check(xcit_cpu_set_isa(c.handle(), isa), "xcit_cpu_set_isa");
            c.check(xcit_cpu_set_threads(c.handle(), threads), "xcit_cpu_set_threads");
            g = new Gemms(c, precision, xcit_cpu_threads(c.handle()), arena);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        this.ctx = c;
        this.gemms = g;
        this.threads = xcit_cpu_threads(c.handle());
        this.conv = new PatchConv(c, g, arena);
        this.covariance = new CovarianceRoute(c, g, arena);
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
        forward.setup(this);
        gemms.dryRun = true;
        try (UnbackedTensor input = new UnbackedTensor(forward.inputShape())) {
            forward.forward(this, input.tensor);
        } finally {
            gemms.dryRun = false;
        }
    }

    /**
     * The session is closing: its conv plans go (they hold its views); other sessions' plans are
     * remade on their next call. Packed weights and primitives stay, keyed by the model's weights.
     */
    @Override
    public void release(Forward forward) {
        conv.forgetPlans();
    }

    /** oneDNN primitives and im2col plans made so far (tests: a prepared session's runs make none). */
    int preparedObjects() {
        return gemms.dnnl().primitives() + conv.plans();
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
        return gemms.dnnl().packedWeightBytes();
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
        covariance.xcaAddScaled(x, u, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma);
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
        covariance.accumulate(stats, u, accumulate);
    }

    @Override
    public void xcaCovFold(Tensor folded, Tensor stats, long tokens, Tensor qkvWeight, Tensor qkvBias, Tensor temperature,
                           int heads, Tensor projWeight, Tensor projBias, Tensor gamma) {
        covariance.fold(folded, stats, tokens, qkvWeight, qkvBias, temperature, heads, projWeight, projBias, gamma);
    }

    @Override
    public void xcaCovApply(Tensor x, Tensor u, Tensor folded) {
        covariance.apply(x, u, folded);
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
        conv.channelsLast(out, in, firstRow, weight, bias, gelu);
    }

    @Override
    public void conv3x3s2ChannelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        conv.channelsFirst(out, in, firstRow, weight, bias, gelu);
    }

    /** Frees the native context, oneDNN primitives and packed weights; closing twice is harmless. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            gemms.close();
        } finally {
            ctx.close();
            arena.close();
            conv.clear();
        }
    }
}
