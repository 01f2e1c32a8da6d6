package org.xcit4j.backend.cpu;

import static org.xcit4j.backend.Checks.*;
import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.Precision;
import org.xcit4j.tensor.Tensor;

/**
 * The CPU backend's matrix products: oneDNN matmul primitives (made, and their weights packed,
 * on the first call for a (weight, rows) pair), the bf16 rounding of their inputs, and the
 * OpenMP team size oneDNN reads from the calling thread. While {@link #dryRun} is set (a
 * session's prepare walk) every product makes what it needs but does not execute. Primitives
 * are asked for in the {@link #scope} of the session running (CpuBackend switches it).
 */
final class Gemms implements AutoCloseable {
    private final NativeContext ctx;
    private final Dnnl dnnl;
    private final Precision precision;
    private final int threads;
    /** bf16 copies of GEMM inputs (precision BF16 only), grown rarely and reused. */
    private final GrowingBuffer staging = new GrowingBuffer();
    /** Where the primitives asked for now belong: the running session's scope. */
    Dnnl.Scope scope;
    /** The Java thread whose OpenMP default thread count was last set (oneDNN reads it). */
    private Thread ompThread = Thread.currentThread();
    /**
     * True while CpuBackend.prepare walks a session's forward once: every op makes what it
     * needs (oneDNN primitives and packed weights, im2col plans, bf16 staging, the native
     * scratch of the kernels, which run on whatever the buffers hold) but GEMMs do not execute.
     */
    boolean dryRun;

    Gemms(NativeContext ctx, CpuWeights weights, Precision precision, int threads) {
        this.ctx = ctx;
        this.dnnl = new Dnnl(weights);
        this.precision = precision;
        this.threads = threads;
    }

    Dnnl dnnl() {
        return dnnl;
    }

    boolean bf16() {
        return precision == Precision.BF16;
    }

    /** out (M, O) = in (M, K) W^T + b, with the epilogue (GELU, or x += gamma * (...) into out). */
    void linear(Tensor out, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Dnnl.Epilogue epilogue) {
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
     * bf16 MLP: fc1 writes GELU(...) as bf16 into the first half of hidden's bytes and fc2
     * reads it from there: the largest GEMM input is never stored in fp32 nor converted.
     */
    void mlpAddScaledBf16(Tensor x, Tensor in, Tensor weight1, Tensor bias1, Tensor weight2, Tensor bias2, Tensor gamma,
                          Tensor hidden) {
        long m = checkMlp(x, in, weight1, bias1, weight2, bias2, gamma, hidden);
        if (m == 0) return;
        MatMul fc1 = matmul(weight1, bias1, null, Dnnl.Epilogue.GELU, m, true);
        run(fc1, in.segment(), m * weight1.shape().dim(1), hidden.segment());
        mlpFc2(x, weight2, bias2, gamma, hidden, m);
    }

    /**
     * bf16 LayerNorm + MLP: the LayerNorm writes its rows straight as bf16 into the staging fc1
     * reads (xcit_cpu_layernorm_to_bf16, the same bits as LN then rounding): no float32 copy
     * of the normalised rows is written, read back and converted. u is left untouched.
     */
    void layerNormMlpAddScaledBf16(Tensor x, Tensor u, Tensor lnGamma, Tensor lnBeta, float eps, Tensor weight1,
                                   Tensor bias1, Tensor weight2, Tensor bias2, Tensor gamma, Tensor hidden) {
        long m = checkMlp(x, u, weight1, bias1, weight2, bias2, gamma, hidden), c = weight1.shape().dim(1);
        requireNumel(lnGamma, c, "mlp layerNorm gamma");
        requireNumel(lnBeta, c, "mlp layerNorm beta");
        if (m == 0) return;
        MemorySegment bf16In = staging(m * c);
        ctx.check(xcit_cpu_layernorm_to_bf16(ctx.handle(), bf16In, x.segment(), lnGamma.segment(), lnBeta.segment(), m, c, eps),
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
        return staging.atLeast(elements * 2);
    }

    /** Runs mm on src (elements floats); in bf16 precision src is first rounded into staging. */
    void run(MatMul mm, MemorySegment src, long elements, MemorySegment dst) {
        if (bf16()) {
            MemorySegment bf16In = staging(elements);
            if (dryRun) return;
            ctx.check(xcit_cpu_to_bf16(ctx.handle(), bf16In, src, elements), "xcit_cpu_to_bf16");
            src = bf16In;
        }
        if (!dryRun) mm.run(src, dst);
    }

    MatMul matmul(Tensor weight, Tensor bias, Tensor gamma, Dnnl.Epilogue epilogue, long m, boolean bf16Out) {
        ensureOmpThreads();
        return scope.matmul(m, weight, bias, gamma, epilogue, bf16(), bf16Out);
    }

    /** oneDNN sizes its OpenMP team from the calling thread's default: set it once per thread. */
    void ensureOmpThreads() {
        if (Thread.currentThread() != ompThread) bindThread();
    }

    /**
     * Sets the calling thread's OpenMP default to this backend's team size, unconditionally:
     * once per run, since another backend (another team size) may have run on this thread since.
     */
    void bindThread() {
        ctx.check(xcit_cpu_set_threads(ctx.handle(), threads), "xcit_cpu_set_threads");
        ompThread = Thread.currentThread();
    }

    @Override
    public void close() {
        try {
            dnnl.close();
        } finally {
            staging.close();
        }
    }
}
