package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cublasLt_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import org.xcit4j.backend.Precision;
import org.xcit4j.bindings.cuda.cublasLtMatmulHeuristicResult_t;

/**
 * Linear layers through cuBLASLt: out (M, O) = in (M, K) W^T + bias, row-major, with the bias
 * (and, in 16-bit sessions, GELU) in cuBLASLt's epilogue and residual updates as beta = 1.
 * Row-major data is column-major transposed, so this computes out^T (O x M) = op_T(W as K x O) * in^T (K x M), whose bias is per row of out^T, i.e.
 * per output feature, as the epilogue wants. One plan (descriptors + heuristic algorithm)
 * per shape and pointer alignment, made on first use outside any graph capture and reused
 * by every replay. cuBLASLt's GELU epilogue is the tanh approximation (up to ~4.7e-4 from the
 * erf form): CudaBackend asks for it in fp16/bf16 only, where it is far inside the tolerance.
 *
 * <p>Alignment: the heuristic picks an algorithm for the alignment it is told, and a GPU
 * algorithm given less-aligned pointers may compute wrong results without an error. It
 * assumes 256-byte aligned A/B/C/D unless the MIN_ALIGNMENT preferences say otherwise, and
 * reads the bias pointer's alignment from the descriptor as set when it runs (NULL counts
 * as aligned). So each plan is made for its operands' real alignments (16-bit sessions
 * have 32-byte aligned activations, row views less), with the bias pointer set first.
 */
final class Cublas implements AutoCloseable {
    private static final long WORKSPACE = 32L << 20;

    /** A product's shape, epilogue and the alignment (bytes, up to 256) of each operand's address. */
    private record Key(long m, long k, long o, boolean bias, boolean gelu, int alignWeight, int alignIn, int alignOut,
                       int alignBias) {
        static Key of(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias, boolean gelu, long m,
                      long k, long o) {
            boolean hasBias = !bias.equals(MemorySegment.NULL);
            return new Key(m, k, o, hasBias, gelu, alignment(weight), alignment(in), alignment(out),
                    hasBias ? alignment(bias) : 256);
        }

        int epilogue() {
            if (gelu) return bias ? CUBLASLT_EPILOGUE_GELU_BIAS() : CUBLASLT_EPILOGUE_GELU();
            return bias ? CUBLASLT_EPILOGUE_BIAS() : CUBLASLT_EPILOGUE_DEFAULT();
        }
    }

    /** The largest power of two up to 256 dividing the address. */
    static int alignment(MemorySegment address) {
        long a = address.address();
        return a == 0 ? 256 : (int) Math.min(256, Long.lowestOneBit(a));
    }

    private record Plan(MemorySegment desc, MemorySegment a, MemorySegment b, MemorySegment d, MemorySegment algo) {}

    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final DeviceBuffer workspace;
    private final Precision precision;
    private final Map<Key, Plan> plans = new HashMap<>();
    private final MemorySegment one, zero;
    private final MemorySegment biasSlot = arena.allocate(ValueLayout.ADDRESS);

    Cublas(Precision precision) {
        this.precision = precision;
        this.handle = pointer(out -> cublasLtCreate(out), "cublasLtCreate");
        this.workspace = DeviceBuffer.allocate(WORKSPACE);
        this.one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        this.zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
    }

    /**
     * Enqueues out = act(in * weight^T + bias) on {@code stream} (device pointers; bias may be
     * NULL), act = cuBLASLt's GELU epilogue (the tanh form) if {@code gelu}; with
     * {@code accumulate} the result is added to out (beta = 1, C = D = out).
     */
    public void linear(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias, long m, long k, long o,
                       boolean gelu, boolean accumulate, MemorySegment stream) {
        Key key = Key.of(out, in, weight, bias, gelu, m, k, o);
        Plan p = plans.computeIfAbsent(key, kk -> plan(kk, bias));
        if (key.bias()) setBias(p.desc(), bias);
        check(cublasLtMatmul(handle, p.desc(), one, weight, p.a(), in, p.b(), accumulate ? one : zero, out, p.d(), out, p.d(),
                p.algo(), workspace.address(), WORKSPACE, stream), "cublasLtMatmul");
    }

    private Plan plan(Key key, MemorySegment bias) {
        int type = CudaTypes.cudaDataType(precision);
        int compute = precision == Precision.FP32 ? CUBLAS_COMPUTE_32F()
                : precision == Precision.TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32() : CUBLAS_COMPUTE_32F();
        MemorySegment desc = pointer(out -> cublasLtMatmulDescCreate(out, compute, CUDA_R_32F()), "cublasLtMatmulDescCreate");
        setAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA(), arena.allocateFrom(ValueLayout.JAVA_INT, CUBLAS_OP_T()));
        setAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB(), arena.allocateFrom(ValueLayout.JAVA_INT, CUBLAS_OP_N()));
        setAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE(), arena.allocateFrom(ValueLayout.JAVA_INT, key.epilogue()));
        // Before the heuristic: it reads the bias pointer's alignment from the descriptor.
        if (key.bias()) setBias(desc, bias);
        MemorySegment a = layout(type, key.k(), key.o(), key.k());   // W: K x O column-major
        MemorySegment b = layout(type, key.k(), key.m(), key.k());   // in^T: K x M
        MemorySegment d = layout(type, key.o(), key.m(), key.o());   // out^T: O x M
        MemorySegment pref = pointer(out -> cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
        check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES(),
                arena.allocateFrom(ValueLayout.JAVA_LONG, WORKSPACE), 8), "cublasLtMatmulPreferenceSetAttribute");
        minAlignment(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES(), key.alignWeight());
        minAlignment(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES(), key.alignIn());
        minAlignment(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES(), key.alignOut());
        minAlignment(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES(), key.alignOut());
        MemorySegment results = cublasLtMatmulHeuristicResult_t.allocateArray(1, arena);
        MemorySegment found = arena.allocate(ValueLayout.JAVA_INT);
        check(cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, pref, 1, results, found), "cublasLtMatmulAlgoGetHeuristic");
        check(cublasLtMatmulPreferenceDestroy(pref), "cublasLtMatmulPreferenceDestroy");
        if (found.get(ValueLayout.JAVA_INT, 0) == 0) {
            throw new CudaException("cuBLASLt has no algorithm for " + key + " in " + precision);
        }
        return new Plan(desc, a, b, d, cublasLtMatmulHeuristicResult_t.algo(results));
    }

    /** The descriptor copies the value, so one slot serves every call. */
    private void setBias(MemorySegment desc, MemorySegment bias) {
        biasSlot.set(ValueLayout.ADDRESS, 0, bias);
        setAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER(), biasSlot);
    }

    private void minAlignment(MemorySegment pref, int attribute, int bytes) {
        check(cublasLtMatmulPreferenceSetAttribute(pref, attribute, arena.allocateFrom(ValueLayout.JAVA_INT, bytes), 4),
                "cublasLtMatmulPreferenceSetAttribute (min alignment)");
    }

    private MemorySegment layout(int type, long rows, long cols, long ld) {
        return pointer(out -> cublasLtMatrixLayoutCreate(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
    }

    private static void setAttribute(MemorySegment desc, int attribute, MemorySegment value) {
        check(cublasLtMatmulDescSetAttribute(desc, attribute, value, value.byteSize()), "cublasLtMatmulDescSetAttribute");
    }

    private static MemorySegment pointer(Cuda.PointerCall c, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check(c.call(out), name);
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    private static void check(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS()) {
            throw new CudaException(call + " failed: " + cublasLtGetStatusString(status).getString(0) + " (" + status + ")");
        }
    }

    @Override
    public void close() {
        for (Plan p : plans.values()) {
            cublasLtMatrixLayoutDestroy(p.a());
            cublasLtMatrixLayoutDestroy(p.b());
            cublasLtMatrixLayoutDestroy(p.d());
            cublasLtMatmulDescDestroy(p.desc());
        }
        plans.clear();
        cublasLtDestroy(handle);
        workspace.close();
        arena.close();
    }
}
