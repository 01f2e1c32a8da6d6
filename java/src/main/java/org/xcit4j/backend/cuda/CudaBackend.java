package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.xcit.xcit_h.XCIT_CONV_GELU;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Checks;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.DeviceUnavailableException;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.Precision;
import org.xcit4j.bindings.CudaLibraries;
import org.xcit4j.bindings.xcit.xcit_cuda_h;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The CUDA backend: every op is one libxcit_cuda kernel (or a cuBLASLt GEMM) launched on the
 * session's stream. Java keeps composing with host tensors; {@link CudaExecution} maps them
 * to device memory (weights in one allocation, the memory plan mirrored in one device
 * arena), runs the forward once eagerly, captures it as a CUDA graph and replays that
 * graph for every later run. Shapes and the math of each op are Backend's; what is
 * different here is only where the bytes live.
 *
 * <p>Tested whole on the emulated device (libxcit_cuda_emu.so under
 * {@code -Dxcit.cuda.emulated=true}: the same kernels, a cudart and cuBLASLt stand-in on the
 * host) in every build; on a GPU by {@code scripts/gpu-check.sh}.
 */
public final class CudaBackend implements Backend {
    private final Precision precision;
    private final NativeContext ctx;
    private final CudaExecution.Device device;
    private final Map<Forward, CudaExecution> executions = new IdentityHashMap<>();
    private final CudaWeights weights;
    private final boolean ownsWeights;
    /** Most bytes of im2col rows per GEMM ({@link #IM2COL_PROPERTY}); 0: the conv kernel runs. */
    private final long im2colSlabBytes;
    private boolean closed;
    private CudaExecution current;

    /**
     * The switch: {@code -Dxcit.cuda.im2col=true} runs the patch-embedding convs whose input rows
     * take 16-byte accesses (Cin * element size a multiple of 16: every stage but the first) as
     * im2col + a cuBLASLt GEMM (bias in its epilogue, GELU too in fp16/bf16; fp32 and tf32 add
     * the exact GELU pass, as for fc1), where cuBLASLt is present.
     * Opt-in until a GPU run has measured it against the implicit-GEMM kernel (issue 13).
     */
    static final String IM2COL_PROPERTY = "xcit.cuda.im2col";
    /**
     * The im2col rows' workspace holds at most this many bytes ({@code -Dxcit.cuda.im2col.slab-bytes},
     * default 512 MiB); a larger conv runs as several slabs of output pixels, an im2col and a
     * GEMM each (xcit_small_12_p16's second stage at batch 256 needs 694 MB: two).
     */
    static final String IM2COL_SLAB_PROPERTY = "xcit.cuda.im2col.slab-bytes";

    private CudaBackend(Precision precision, CudaExecution.Device device, NativeContext ctx, boolean ownsWeights,
                        long im2colSlabBytes) {
        this.precision = precision;
        this.device = device;
        this.ctx = ctx;
        this.weights = device.weights();
        this.ownsWeights = ownsWeights;
        this.im2colSlabBytes = im2colSlabBytes;
    }

    /**
     * Opens the backend, or throws {@link DeviceUnavailableException} saying what is missing.
     *
     * @param precision the arithmetic
     * @param notes receives which device, runtime and GEMM library it uses
     * @return the backend, owning its weights' device copies
     * @throws DeviceUnavailableException if no usable device or library is present
     */
    public static CudaBackend open(Precision precision, Consumer<String> notes) {
        return open(precision, true, null, notes);
    }

    /**
     * A backend whose sessions use {@code weights}' device copies (uploaded once for all the
     * backends sharing them: a server's concurrent requests); its precision must be theirs.
     * The caller keeps owning {@code weights} and closes it after the backends.
     *
     * @param precision the arithmetic, that of {@code weights}
     * @param notes receives which device, runtime and GEMM library it uses
     * @param weights the shared device weights
     * @return the backend
     * @throws DeviceUnavailableException if no usable device or library is present
     */
    public static CudaBackend open(Precision precision, Consumer<String> notes, CudaWeights weights) {
        return open(precision, true, java.util.Objects.requireNonNull(weights, "weights"), notes);
    }

    /** {@code cublasLt} false takes libxcit_cuda's own GEMM even where cuBLASLt is present (tests); null weights: its own. */
    static CudaBackend open(Precision precision, boolean cublasLt, CudaWeights shared, Consumer<String> notes) {
        Cuda.Probe probe = Cuda.probe();
        if (!probe.available()) throw new DeviceUnavailableException("device 'cuda' is not available: " + probe.reason());
        long im2colAsked = im2colSlabBytesAsked();
        CudaWeights weights = shared != null ? shared : new CudaWeights(precision);
        weights.attach(precision);
        NativeContext ctx = new NativeContext();
        CudaExecution.Device device = null;
        try {
            device = CudaExecution.Device.open(ctx, precision, cublasLt, weights, notes);
            if (probe.emulated()) {
                notes.accept("cuda: EMULATED device (" + Cuda.EMULATED_SWITCH + "): the CUDA kernels, runtime and cuBLASLt "
                        + "run on the host CPU, slowly; results as a GPU's within the precision's tolerance, timings meaningless");
            }
            notes.accept("cuda: " + probe.device() + ", runtime " + Cuda.version(probe.runtimeVersion()) + ", driver "
                    + Cuda.version(probe.driverVersion()) + ", " + precision + ", GEMMs by "
                    + (device.cublas() != null ? "cuBLASLt" : "libxcit_cuda (" + CudaLibraries.describe(CudaLibraries.CUBLASLT) + ")"));
            long im2col = im2colAsked;
            if (im2col > 0 && device.cublas() == null) {
                notes.accept("cuda: im2col not used (-D" + IM2COL_PROPERTY + "=true): it needs cuBLASLt; the convs use libxcit_cuda's kernel");
                im2col = 0;
            } else if (im2col > 0) {
                notes.accept("cuda: patch-embedding convs after the first as im2col + cuBLASLt (-D" + IM2COL_PROPERTY
                        + "=true; opt-in, not yet measured on a GPU), slabs of at most " + im2col + " bytes");
            }
            return new CudaBackend(precision, device, ctx, shared == null, im2col);
        } catch (RuntimeException e) {
            // Each owner released even if another's release fails; the first error is thrown.
            closeQuietly(device, e);
            closeQuietly(ctx, e);
            weights.detach();
            if (shared == null) closeQuietly(weights, e);
            throw e;
        }
    }

    private static void closeQuietly(AutoCloseable c, RuntimeException first) {
        if (c == null) return;
        try {
            c.close();
        } catch (Exception e) {
            first.addSuppressed(e);
        }
    }

    /** The im2col slab size {@link #IM2COL_PROPERTY} and {@link #IM2COL_SLAB_PROPERTY} ask for, 0 when not asked. */
    private static long im2colSlabBytesAsked() {
        if (!Boolean.getBoolean(IM2COL_PROPERTY)) return 0;
        String asked = System.getProperty(IM2COL_SLAB_PROPERTY, Long.toString(512L << 20));
        long bytes;
        try {
            bytes = Long.parseLong(asked.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + IM2COL_SLAB_PROPERTY + "=" + asked + " is not a number of bytes", e);
        }
        if (bytes < 1) throw new IllegalArgumentException("-D" + IM2COL_SLAB_PROPERTY + "=" + asked + " must be at least 1");
        return bytes;
    }

    @Override
    public String name() {
        return "cuda";
    }

    /**
     * The arithmetic of this backend.
     *
     * @return the precision
     */
    public Precision precision() {
        return precision;
    }

    /**
     * Whether GEMMs go to cuBLASLt (else libxcit_cuda's portable kernel).
     *
     * @return true when cuBLASLt runs the GEMMs
     */
    public boolean usesCublasLt() {
        return device.cublas() != null;
    }

    /** Whether the patch-embedding and FPN convs may go to cuDNN (asked for with -Dxcit.cuda.cudnn=true, and loaded). */
    boolean usesCudnn() {
        return device.cudnn() != null;
    }

    /**
     * Kernel launches of one forward of a session on this backend: the kernel nodes of its
     * captured CUDA graph (what fusion saves shows here).
     *
     * @param forward the session's forward ({@code session.forward()})
     * @return the number of kernels one forward launches
     * @throws IllegalStateException if that session was not prepared on this backend
     */
    public int kernelLaunches(Forward forward) {
        return execution(forward).kernelLaunches();
    }

    /** The execution of {@code forward}: device buffers, graph, and resident input/output access. */
    CudaExecution execution(Forward forward) {
        CudaExecution e = executions.get(forward);
        if (e == null) throw new IllegalStateException("the session was not prepared on this backend");
        return e;
    }

    @Override
    public boolean stagesInput() {
        return true;
    }

    @Override
    public void prepare(Forward forward) {
        CudaExecution e = new CudaExecution(device, forward);
        executions.put(forward, e);
        current = e;
        try {
            e.prepare(this);
        } catch (RuntimeException ex) {
            executions.remove(forward).close();
            throw ex;
        }
    }

    @Override
    public void run(Forward forward, Tensor input) {
        execution(forward).run(input);
    }

    @Override
    public void release(Forward forward) {
        CudaExecution e = executions.remove(forward);
        if (e != null) e.close();
    }

    // ---- ops: resolve tensors to device pointers, call the typed entry --------------------

    private MemorySegment d(Tensor t) {
        return t == null ? MemorySegment.NULL : current.resolve(t);
    }

    private void call(String op, Object... args) {
        if (current.launching()) Ops.call(ctx, op, precision, args);
    }

    private static long rows(Tensor t) {
        int cols = t.shape().size(-1);
        return cols == 0 ? 0 : t.numel() / cols;
    }

    private static long cols(Tensor t) {
        return t.shape().size(-1);
    }

    @Override
    public void layerNorm(Tensor out, Tensor in, Tensor gamma, Tensor beta, float eps) {
        call("layernorm", d(out), d(in), d(gamma), d(beta), rows(in), cols(in), eps);
    }

    /** One pass: layernorm.cu's fused residual kernel. */
    @Override
    public void addScaledLayerNorm(Tensor x, Tensor out, Tensor y, Tensor gamma, Tensor lnGamma, Tensor lnBeta, float eps) {
        call("residual_layernorm", d(x), d(out), d(y), d(gamma), d(lnGamma), d(lnBeta), rows(x), cols(x), eps);
    }

    @Override
    public void linear(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        gemm(out, in, weight, bias, false, false);
    }

    /**
     * One launch where it can: the portable GEMM applies the exact GELU itself; cuBLASLt's GELU
     * epilogue is the tanh form, taken in fp16/bf16 (4.7e-4 is far inside their tolerance) and
     * not in fp32/tf32, which add the exact bias_gelu pass.
     */
    @Override
    public void linearGelu(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        gemm(out, in, weight, bias, true, false);
    }

    /** One GEMM accumulating into x, with gamma folded into the weight and bias (DerivedWeights.scaled). */
    @Override
    public void linearAddScaled(Tensor x, Tensor in, Tensor weight, Tensor bias, Tensor gamma, Tensor tmp) {
        if (gamma == null) {
            gemm(x, in, weight, bias, false, true);
        } else {
            DerivedWeights.Linear folded = weights.derived().scaled(weight, bias, gamma);
            gemm(x, in, folded.weight(), folded.bias(), false, true);
        }
    }

    /** out (M, O) (+)= act(in (M, K) W^T + bias): cuBLASLt where present, else libxcit_cuda's GEMM. */
    private void gemm(Tensor out, Tensor in, Tensor weight, Tensor bias, boolean gelu, boolean accumulate) {
        long k = weight.shape().size(1), o = weight.shape().size(0), m = in.numel() / k;
        MemorySegment dOut = d(out), dIn = d(in), dW = d(weight), dB = d(bias);
        if (current.launching()) gemm(dOut, dIn, dW, dB, m, k, o, gelu, accumulate);
    }

    /** The same on device pointers, enqueued now. */
    private void gemm(MemorySegment dOut, MemorySegment dIn, MemorySegment dW, MemorySegment dB, long m, long k, long o,
                      boolean gelu, boolean accumulate) {
        if (device.cublas() != null) {
            boolean epilogueGelu = gelu && precision.storageBytes() == 2;
            device.cublas().linear(dOut, dIn, dW, dB, m, k, o, epilogueGelu, accumulate, device.stream());
            if (gelu && !epilogueGelu) Ops.call(ctx, "bias_gelu", precision, dOut, MemorySegment.NULL, m, o);
        } else {
            int flags = (gelu ? xcit_cuda_h.XCIT_CUDA_LINEAR_GELU() : 0) | (accumulate ? xcit_cuda_h.XCIT_CUDA_LINEAR_ACCUMULATE() : 0);
            Ops.call(ctx, "linear", precision, dOut, dIn, dW, dB, 1L, m, k, o, flags);
        }
    }

    @Override
    public void gelu(Tensor x) {
        call("bias_gelu", d(x), MemorySegment.NULL, rows(x), cols(x));
    }

    @Override
    public void addScaled(Tensor x, Tensor y, Tensor gamma) {
        call("add_scaled", d(x), d(y), d(gamma), rows(x), cols(x));
    }

    @Override
    public void addBroadcast(Tensor x, Tensor rows) {
        call("add_broadcast", d(x), d(rows), x.numel() / rows.numel(), rows.numel());
    }

    @Override
    public void nchwToNhwc(Tensor out, Tensor in) {
        Shape s = in.shape();
        call("nchw_to_nhwc", d(out), d(in), (long) s.size(0), (long) s.size(1), (long) s.size(2), (long) s.size(3));
    }

    /** Activations in the storage type (nchwToNhwc reads the fp32 input image). */
    @Override
    public void transpose(Tensor out, Tensor in, long batch, long rows, long cols) {
        call("transpose", d(out), d(in), batch, rows, cols);
    }

    /**
     * Whole outputs only ({@link #convRowBands} is false). In order: with {@code
     * -Dxcit.cuda.cudnn=true} and cuDNN present, cuDNN's plan for the shape (conv -> bias ->
     * GELU fused by cuDNN); with {@link #IM2COL_PROPERTY}, im2col + cuBLASLt where the input
     * rows take 16-byte accesses; else libxcit_cuda's implicit-GEMM kernel, GELU in its
     * epilogue (XCIT_CONV_GELU), the filter tap-major (XCIT_CUDA_CONV_TAP_MAJOR: both operands
     * staged in 16-byte units in fp16/bf16), small outputs splitting K over the CONV workspace
     * (batch 1's late stages).
     */
    @Override
    public void conv3x3s2(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        Shape s = in.shape();
        if (firstRow != 0 || Checks.convRows(out, in, false, firstRow, weight, bias) != (s.size(1) + 1) / 2) {
            throw new UnsupportedOperationException("conv3x3s2 on cuda computes whole outputs, not row bands (asked for rows from "
                    + firstRow + " into " + out.shape() + ")");
        }
        long b = s.size(0), h = s.size(1), w = s.size(2), cin = s.size(3), cout = weight.shape().size(0);
        boolean im2col = im2colSlabBytes > 0 && cin > 0 && cin * precision.storageBytes() % 16 == 0;
        // Every route reads the filter tap-major, (Cout, 3, 3, Cin): rows of the GEMM's B operand.
        MemorySegment filter = d(weights.derived().tapMajor(weight));
        if (device.cudnn() != null && current.launching()
                && device.cudnn().conv3x3s2(d(out), d(in), filter, d(bias), b, h, w, cin, cout, gelu, current.capturing())) {
            return;
        }
        if (im2col) {
            conv3x3s2Im2col(out, in, filter, bias, b, h, w, cin, cout, gelu);
            return;
        }
        // Sized (in the dry run) whether or not cuDNN takes the shape: a plan refused later falls back here.
        MemorySegment ws = current.workspace(CudaExecution.Workspace.CONV, workspaceSize("xcit_cuda_conv3x3s2_workspace_size",
                bytes -> xcit_cuda_h.xcit_cuda_conv3x3s2_workspace_size(ctx.handle(), bytes, b, h, w, cin, cout)));
        call("conv3x3s2", d(out), ws, d(in), filter, d(bias), b, h, w, cin, cout,
                (gelu ? XCIT_CONV_GELU() : 0) | xcit_cuda_h.XCIT_CUDA_CONV_TAP_MAJOR());
    }

    /**
     * conv3x3s2 as im2col + GEMM: per slab of output pixels, libxcit_cuda's im2col3x3s2 writes
     * their (pixels, 9 Cin) window rows into the IM2COL workspace and one GEMM multiplies them by
     * the tap-major filter (Cout, 9 Cin) into the slab's output rows, bias and GELU as any linear
     * layer's (cuBLASLt's epilogue in 16 bits; fp32 adds the exact GELU pass).
     */
    private void conv3x3s2Im2col(Tensor out, Tensor in, MemorySegment filter, Tensor bias, long b, long h, long w,
                                 long cin, long cout, boolean gelu) {
        long pixels = b * ((h + 1) / 2) * ((w + 1) / 2), k = 9 * cin, elem = precision.storageBytes();
        long slab = im2colSlabPixels(pixels, k * elem, im2colSlabBytes);
        MemorySegment cols = current.workspace(CudaExecution.Workspace.IM2COL, slab * k * elem);
        MemorySegment dOut = d(out), dIn = d(in), dB = d(bias);
        if (!current.launching()) return;
        for (long first = 0; first < pixels; first += slab) {
            long rows = Math.min(slab, pixels - first);
            Ops.call(ctx, "im2col3x3s2", precision, cols, dIn, b, h, w, cin, first, rows);
            gemm(MemorySegment.ofAddress(dOut.address() + first * cout * elem), cols, filter, dB, rows, k, cout, gelu, false);
        }
    }

    /**
     * Output pixels per im2col slab: all of them if their rows fit in {@code slabBytes}, else
     * as many as fit, rounded down to a multiple of 128 (each slab's output rows then start
     * as aligned as the output), at least one.
     */
    static long im2colSlabPixels(long pixels, long rowBytes, long slabBytes) {
        long fit = slabBytes / rowBytes;
        if (fit >= pixels) return Math.max(pixels, 1);
        return fit >= 128 ? fit / 128 * 128 : Math.max(fit, 1);
    }

    @Override
    public boolean convRowBands() {
        return false;
    }

    /** Streamed XCA is for host backends: Session and DenseSession refuse streamed plans on cuda before any op runs. */
    @Override
    public void xcaGram(Tensor stats, Tensor qk, int heads, boolean accumulate) {
        throw new UnsupportedOperationException("streamed XCA (xcaGram) runs on host backends, not on cuda");
    }

    @Override
    public void xcaSoftmax(Tensor attn, Tensor stats, Tensor temperature) {
        throw new UnsupportedOperationException("streamed XCA (xcaSoftmax) runs on host backends, not on cuda");
    }

    @Override
    public void xca(Tensor out, Tensor qkv, Tensor temperature, int heads) {
        Shape s = qkv.shape();
        long b = s.size(0), n = s.size(1), c = s.size(2) / 3;
        MemorySegment ws = current.workspace(CudaExecution.Workspace.XCA, workspaceSize("xcit_cuda_xca_workspace_size",
                bytes -> xcit_cuda_h.xcit_cuda_xca_workspace_size(ctx.handle(), bytes, b, n, c, heads)));
        call("xca", d(out), ws, d(qkv), d(temperature), b, n, c, (long) heads);
    }

    /** What an op's *_workspace_size(ctx, bytes, ...) call, given the bytes out-parameter, reports. */
    private long workspaceSize(String name, ToIntFunction<MemorySegment> query) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(ValueLayout.JAVA_LONG);
            ctx.check(query.applyAsInt(bytes), name);
            return bytes.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override
    public void lpi(Tensor out, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1, Tensor bnScale,
                    Tensor bnShift, Tensor weight2, Tensor bias2) {
        lpiAddScaled(out, in, gridH, gridW, weight1, bias1, bnScale, bnShift, weight2, bias2, null, null);
    }

    /** One kernel: lpi.cu's epilogue adds gamma * LPI(in) to x (gamma null: writes LPI(in) to x); tmp is not used. */
    @Override
    public void lpiAddScaled(Tensor x, Tensor in, int gridH, int gridW, Tensor weight1, Tensor bias1, Tensor bnScale,
                             Tensor bnShift, Tensor weight2, Tensor bias2, Tensor gamma, Tensor tmp) {
        long c = cols(in), b = in.numel() / ((long) gridH * gridW * c);
        call("lpi", d(x), d(in), d(weight1), d(bias1), d(bnScale), d(bnShift), d(weight2), d(bias2), d(gamma), b,
                (long) gridH, (long) gridW, c);
    }

    /** Every residual op is one kernel or one accumulating GEMM here (layer scales folded into the weights). */
    @Override
    public boolean residualOpsUseTmp() {
        return false;
    }

    @Override
    public void softmaxRows(Tensor x) {
        throw new UnsupportedOperationException("streamed class attention (softmaxRows) runs on host backends, not on cuda");
    }

    @Override
    public void classAttention(Tensor out, Tensor weights, Tensor q, Tensor kv, int heads) {
        Shape s = kv.shape();
        call("class_attention", d(out), d(weights), d(q), d(kv), (long) s.size(0), (long) s.size(1),
                (long) s.size(2) / 2, (long) heads);
    }

    /** k and v are never formed: class_attention_folded.cu, one launch (Backend.foldsClassAttention). */
    @Override
    public boolean foldsClassAttention() {
        return true;
    }

    @Override
    public void classAttentionFromRows(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor kvWeight, Tensor kvBias,
                                       int heads, Tensor kvBuf) {
        classAttentionFolded(out, weights, q, u, null, null, kvWeight, kvBias, heads);
    }

    /** The queries too, from u's row 0 inside the same kernel: u0 and q are not used. */
    @Override
    public void classAttentionWithQuery(Tensor out, Tensor weights, Tensor u, Tensor qWeight, Tensor qBias,
                                        Tensor kvWeight, Tensor kvBias, int heads, Tensor u0, Tensor q, Tensor kvBuf) {
        classAttentionFolded(out, weights, null, u, qWeight, qBias, kvWeight, kvBias, heads);
    }

    private void classAttentionFolded(Tensor out, Tensor weights, Tensor q, Tensor u, Tensor qWeight, Tensor qBias,
                                      Tensor kvWeight, Tensor kvBias, int heads) {
        Shape s = u.shape();
        long b = s.size(0), t = s.size(1), c = s.size(2);
        MemorySegment ws = current.workspace(CudaExecution.Workspace.CLASS_ATTENTION,
                workspaceSize("xcit_cuda_class_attention_folded_workspace_size",
                        bytes -> xcit_cuda_h.xcit_cuda_class_attention_folded_workspace_size(ctx.handle(), bytes, b, t, c, heads)));
        call("class_attention_folded", d(out), d(weights), ws, d(q), d(u), d(qWeight), d(qBias), d(kvWeight), d(kvBias),
                b, t, c, (long) heads);
    }

    /** One pass over the rows: class_attention_rows.cu. */
    @Override
    public void classAttentionRows(Tensor x, Tensor u, Tensor cls, Tensor lnGamma1, Tensor lnBeta1, Tensor gamma1,
                                   Tensor lnGamma2, Tensor lnBeta2, float eps) {
        Shape s = x.shape();
        call("class_attention_rows", d(x), d(u), d(cls), d(lnGamma1), d(lnBeta1), d(gamma1), d(lnGamma2), d(lnBeta2),
                (long) s.size(0), (long) s.size(1), (long) s.size(2), eps);
    }

    @Override
    public void channelAffine(Tensor x, Tensor scale, Tensor shift) {
        call("channel_affine", d(x), d(scale), d(shift), rows(x), cols(x));
    }

    /** With {@code -Dxcit.cuda.cudnn=true} and cuDNN present, cuDNN's plan for the shape (backward-data conv -> bias), else our kernel. */
    @Override
    public void convTranspose2x2(Tensor out, Tensor in, Tensor weight, Tensor bias) {
        Shape s = in.shape();
        MemorySegment filter = device.cudnn() != null ? d(weights.derived().tapMajor(weight)) : MemorySegment.NULL;
        if (device.cudnn() != null && current.launching()
                && device.cudnn().convTranspose2x2(d(out), d(in), filter, d(bias), s.size(0), s.size(1), s.size(2),
                        s.size(3), weight.shape().size(1), current.capturing())) {
            return;
        }
        call("conv_transpose2x2", d(out), d(in), d(weight), d(bias), (long) s.size(0), (long) s.size(1),
                (long) s.size(2), (long) s.size(3), (long) weight.shape().size(1));
    }

    @Override
    public void maxPool(Tensor out, Tensor in, int k) {
        Shape s = in.shape();
        call("max_pool", d(out), d(in), (long) s.size(0), (long) s.size(1), (long) s.size(2), (long) s.size(3), (long) k);
    }

    @Override
    public void gatherRow(Tensor out, Tensor in, int row) {
        Shape s = in.shape();
        call("gather_row", d(out), d(in), (long) s.size(0), (long) s.size(1), (long) s.size(2), (long) row);
    }

    @Override
    public void scatterRow(Tensor out, int row, Tensor in) {
        Shape s = out.shape();
        call("scatter_row", d(out), d(in), (long) s.size(0), (long) s.size(1), (long) s.size(2), (long) row);
    }

    @Override
    public void prependRow(Tensor out, Tensor first, Tensor tokens) {
        Shape s = tokens.shape();
        call("prepend_row", d(out), d(first), d(tokens), (long) s.size(0), (long) s.size(1), (long) s.size(2));
    }

    /** Frees every session's device memory and graph, the stream, cuBLASLt and the ctx; idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (CudaExecution e : executions.values()) e.close();
        executions.clear();
        device.close();
        ctx.close();
        weights.detach();
        if (ownsWeights) weights.close();
    }
}
