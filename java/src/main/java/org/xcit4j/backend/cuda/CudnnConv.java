package org.xcit4j.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.xcit4j.bindings.cuda.cudnn_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.xcit4j.backend.Precision;

/**
 * One cuDNN execution plan for one convolution at one shape, built with cuDNN 9's backend API,
 * ranked by heuristics (CUDNN_HEUR_MODE_A) and finalized with the first engine config that
 * accepts it. Two operations ({@link Op}):
 * <ul>
 *   <li>{@link Op#CONV3X3S2}, the patch embedding's conv: the graph conv forward -> add bias
 *       -> GELU (or without GELU), 3x3 filter, stride 2, padding 1;
 *   <li>{@link Op#CONV_TRANSPOSE2X2}, the FPN's ConvTranspose2d(k=2, s=2): the graph conv
 *       backward-data -> add bias. A transposed conv is the data gradient of the forward conv
 *       with the same filter, stride and padding: dx (N, Cout, 2H, 2W) from dy = our input
 *       (N, Cin, H, W) and w (K = Cin, C = Cout, 2, 2), which is exactly PyTorch's
 *       ConvTranspose2d weight (in, out, kH, kW), stride 2, padding 0, cross-correlation.
 * </ul>
 * Shapes as cuDNN wants them (dims in (N, C, H, W) order, memory in any order), every
 * activation channel-last as xcit4j keeps it:
 * <ul>
 *   <li>x (N, Cin, H, W): strides (H*W*Cin, 1, W*Cin, Cin);
 *   <li>w channel-last (KRSC), the model's weight relaid out once into it ({@link Cudnn}):
 *       (Cout, Cin, 3, 3) with strides (9*Cin, 1, 3*Cin, Cin) for the conv, (Cin, Cout, 2, 2)
 *       with strides (4*Cout, 1, 2*Cout, Cout) for the transposed conv;
 *   <li>b (1, Cout, 1, 1), broadcast over N, H, W;
 *   <li>y (N, Cout, ceil(H/2), ceil(W/2)) or (N, Cout, 2H, 2W). The conv result and the biased
 *       value are virtual fp32 tensors (never in memory): the engine fuses the pointwise ops.
 * </ul>
 * x, w, b and y are in the session's storage type; accumulation and the pointwise math are fp32.
 * Whether an engine fuses the bias into a backward-data conv is up to the cuDNN build and GPU:
 * where none does, the plan fails and libxcit_cuda's kernel runs that shape.
 *
 * <p>GELU: CUDNN_POINTWISE_GELU_FWD. cudnn_graph.h (9.24) documents a separate
 * CUDNN_POINTWISE_GELU_APPROX_TANH_FWD as "GELU forward using tanh approximation:
 * 0.5*x*(1+tanh[sqrt(2/pi)*(x+0.044715*x^3)])", so GELU_FWD is the exact form
 * 0.5*x*(1+erf(x/sqrt(2))), XCiT's (timm nn.GELU). It is fused in every precision; a GPU run of
 * the self-test against the Java reference is what confirms it (not yet done).
 *
 * <p>fp32 sessions ({@link Precision#FP32}) take no engine whose numerical notes say TENSOR_CORE,
 * DOWN_CONVERT_INPUTS or REDUCED_PRECISION_REDUCTION (TF32 or narrower math): fp32 stays fp32, as
 * the project's own kernel computes it. TF32 sessions allow them.
 */
final class CudnnConv implements AutoCloseable {
    /** The unique ids of the graph's tensors (the variant pack names the non-virtual ones). */
    private static final long X = 1, W = 2, B = 3, Y = 4, CONV = 5, BIASED = 6;
    /** Engine configs asked of the heuristic: the first that finalizes wins. */
    private static final int MAX_CONFIGS = 16;

    /** The convolutions cuDNN may run. */
    enum Op {
        /** The patch embedding's 3x3 stride-2 conv, padding 1 (+ bias, + GELU but for the last). */
        CONV3X3S2(3, 1),
        /** The FPN's 2x2 stride-2 transposed conv, no padding (+ bias). */
        CONV_TRANSPOSE2X2(2, 0);

        final int kernel, padding;

        Op(int kernel, int padding) {
            this.kernel = kernel;
            this.padding = padding;
        }
    }

    /** A conv's shape, input (n, h, w, cin) channel-last, and the alignment (bytes, up to 16) of each operand's address. */
    record Key(Op op, long n, long h, long w, long cin, long cout, boolean gelu, int alignIn, int alignOut,
               int alignWeight, int alignBias) {
        long outH() {
            return op == Op.CONV3X3S2 ? (h + 1) / 2 : 2 * h;
        }

        long outW() {
            return op == Op.CONV3X3S2 ? (w + 1) / 2 : 2 * w;
        }
    }

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> descriptors = new ArrayList<>();
    private final MemorySegment handle;
    private final MemorySegment plan;
    private final DeviceBuffer workspace;
    private final Key key;
    private boolean closed;

    /** Builds and finalizes the plan; throws {@link CudnnException} naming the step and cuDNN's status. */
    CudnnConv(MemorySegment handle, Key key, Precision precision) {
        this.handle = handle;
        this.key = key;
        try {
            this.plan = build(key, precision);
            MemorySegment count = arena.allocate(JAVA_LONG), size = arena.allocate(JAVA_LONG);
            check(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE(), CUDNN_TYPE_INT64(), 1, count, size),
                    "get EXECUTION_PLAN_WORKSPACE_SIZE");
            this.workspace = DeviceBuffer.allocate(Math.max(size.get(JAVA_LONG, 0), 256));
        } catch (RuntimeException e) {
            destroyDescriptors();
            arena.close();
            throw e;
        }
    }

    private MemorySegment build(Key k, Precision precision) {
        int type = dataType(precision), fp32 = CUDNN_DATA_FLOAT();
        long ho = k.outH(), wo = k.outW();
        MemorySegment x = tensor(X, type, new long[] {k.n(), k.cin(), k.h(), k.w()},
                new long[] {k.h() * k.w() * k.cin(), 1, k.w() * k.cin(), k.cin()}, k.alignIn(), false);
        boolean transposed = k.op() == Op.CONV_TRANSPOSE2X2;
        int r = k.op().kernel;
        // The filter's (K, C): forward (Cout, Cin); backward data, where dy is our input, (Cin, Cout).
        long fk = transposed ? k.cin() : k.cout(), fc = transposed ? k.cout() : k.cin();
        MemorySegment w = tensor(W, type, new long[] {fk, fc, r, r}, new long[] {r * r * fc, 1, r * fc, fc},
                k.alignWeight(), false);
        MemorySegment b = tensor(B, type, new long[] {1, k.cout(), 1, 1}, new long[] {k.cout(), 1, k.cout(), k.cout()},
                k.alignBias(), false);
        long[] yDims = {k.n(), k.cout(), ho, wo}, yStrides = {ho * wo * k.cout(), 1, wo * k.cout(), k.cout()};
        MemorySegment y = tensor(Y, type, yDims, yStrides, k.alignOut(), false);
        MemorySegment conv = tensor(CONV, fp32, yDims, yStrides, 16, true);
        MemorySegment biased = k.gelu() ? tensor(BIASED, fp32, yDims, yStrides, 16, true) : y;

        MemorySegment convDesc = create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR());
        setLongs(convDesc, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS(), 2);
        setInt(convDesc, CUDNN_ATTR_CONVOLUTION_COMP_TYPE(), CUDNN_TYPE_DATA_TYPE(), fp32);
        setInt(convDesc, CUDNN_ATTR_CONVOLUTION_CONV_MODE(), CUDNN_TYPE_CONVOLUTION_MODE(), CUDNN_CROSS_CORRELATION());
        setLongs(convDesc, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES(), 2, 2);
        setLongs(convDesc, CUDNN_ATTR_CONVOLUTION_DILATIONS(), 1, 1);
        setLongs(convDesc, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS(), k.op().padding, k.op().padding);
        setLongs(convDesc, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS(), k.op().padding, k.op().padding);
        finalize(convDesc, "CONVOLUTION");

        MemorySegment convOp = transposed ? backwardData(x, w, conv, convDesc) : forward(x, w, conv, convDesc);

        List<MemorySegment> ops = new ArrayList<>(List.of(convOp));
        ops.add(pointwise(CUDNN_POINTWISE_ADD(), conv, b, biased));
        if (k.gelu()) ops.add(pointwise(CUDNN_POINTWISE_GELU_FWD(), biased, null, y));

        MemorySegment graph = create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR());
        set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE(), CUDNN_TYPE_HANDLE(), 1, arena.allocateFrom(ADDRESS, handle));
        MemorySegment opArray = arena.allocate(ADDRESS, ops.size());
        for (int i = 0; i < ops.size(); i++) opArray.setAtIndex(ADDRESS, i, ops.get(i));
        set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS(), CUDNN_TYPE_BACKEND_DESCRIPTOR(), ops.size(), opArray);
        finalize(graph, "OPERATIONGRAPH");

        MemorySegment heur = create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR());
        setDescriptor(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH(), graph);
        setInt(heur, CUDNN_ATTR_ENGINEHEUR_MODE(), CUDNN_TYPE_HEUR_MODE(), CUDNN_HEUR_MODE_A());
        finalize(heur, "ENGINEHEUR");
        MemorySegment configs = arena.allocate(ADDRESS, MAX_CONFIGS);
        for (int i = 0; i < MAX_CONFIGS; i++) configs.setAtIndex(ADDRESS, i, create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR()));
        MemorySegment found = arena.allocate(JAVA_LONG);
        check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS(), CUDNN_TYPE_BACKEND_DESCRIPTOR(), MAX_CONFIGS,
                found, configs), "get ENGINEHEUR_RESULTS");
        int last = CUDNN_STATUS_NOT_SUPPORTED();
        for (int i = 0; i < Math.min(found.get(JAVA_LONG, 0), MAX_CONFIGS); i++) {
            MemorySegment config = configs.getAtIndex(ADDRESS, i);
            if (precision == Precision.FP32 && lowersPrecision(config)) continue;
            MemorySegment candidate = create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR());
            set(candidate, CUDNN_ATTR_EXECUTION_PLAN_HANDLE(), CUDNN_TYPE_HANDLE(), 1, arena.allocateFrom(ADDRESS, handle));
            setDescriptor(candidate, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG(), config);
            last = cudnnBackendFinalize(candidate);
            if (last == CUDNN_STATUS_SUCCESS()) return candidate;
        }
        throw new CudnnException("no engine config of " + found.get(JAVA_LONG, 0) + " (heuristic mode A"
                + (precision == Precision.FP32 ? ", fp32 math only" : "") + ") finalizes an execution plan", last);
    }

    private MemorySegment forward(MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment convDesc) {
        MemorySegment op = create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR());
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X(), x);
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W(), w);
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y(), y);
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC(), convDesc);
        set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA(), CUDNN_TYPE_FLOAT(), 1, arena.allocateFrom(JAVA_FLOAT, 1f));
        set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA(), CUDNN_TYPE_FLOAT(), 1, arena.allocateFrom(JAVA_FLOAT, 0f));
        finalize(op, "OPERATION_CONVOLUTION_FORWARD");
        return op;
    }

    /** The transposed conv: dx (our output, before the bias) from dy (our input) and w. */
    private MemorySegment backwardData(MemorySegment dy, MemorySegment w, MemorySegment dx, MemorySegment convDesc) {
        MemorySegment op = create(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR());
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY(), dy);
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W(), w);
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX(), dx);
        setDescriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC(), convDesc);
        set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA(), CUDNN_TYPE_FLOAT(), 1, arena.allocateFrom(JAVA_FLOAT, 1f));
        set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA(), CUDNN_TYPE_FLOAT(), 1, arena.allocateFrom(JAVA_FLOAT, 0f));
        finalize(op, "OPERATION_CONVOLUTION_BACKWARD_DATA");
        return op;
    }

    /** Whether the config's engine computes below fp32 (TF32 tensor cores, down-converted inputs, narrow reductions). */
    private boolean lowersPrecision(MemorySegment config) {
        MemorySegment engine = create(CUDNN_BACKEND_ENGINE_DESCRIPTOR());
        MemorySegment count = arena.allocate(JAVA_LONG);
        check(cudnnBackendGetAttribute(config, CUDNN_ATTR_ENGINECFG_ENGINE(), CUDNN_TYPE_BACKEND_DESCRIPTOR(), 1, count,
                arena.allocateFrom(ADDRESS, engine)), "get ENGINECFG_ENGINE");
        MemorySegment notes = arena.allocate(JAVA_INT, 16);
        check(cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE(), CUDNN_TYPE_NUMERICAL_NOTE(), 16, count, notes),
                "get ENGINE_NUMERICAL_NOTE");
        for (int i = 0; i < Math.min(count.get(JAVA_LONG, 0), 16); i++) {
            int note = notes.getAtIndex(JAVA_INT, i);
            if (note == CUDNN_NUMERICAL_NOTE_TENSOR_CORE() || note == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS()
                    || note == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Enqueues the plan on the handle's stream: y = act(conv(x, w) + b), device pointers of the
     * key's shape. Host work only builds the variant pack; cuDNN launches its kernels on the
     * handle's stream, so during stream capture they become graph nodes (see {@link Cudnn}).
     */
    void execute(MemorySegment x, MemorySegment w, MemorySegment b, MemorySegment y) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment pack = pointerOut(call, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR());
            try {
                MemorySegment ptrs = call.allocate(ADDRESS, 4);
                ptrs.setAtIndex(ADDRESS, 0, x);
                ptrs.setAtIndex(ADDRESS, 1, w);
                ptrs.setAtIndex(ADDRESS, 2, b);
                ptrs.setAtIndex(ADDRESS, 3, y);
                check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS(), CUDNN_TYPE_INT64(), 4,
                        call.allocateFrom(JAVA_LONG, X, W, B, Y)), "set VARIANT_PACK_UNIQUE_IDS");
                check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS(), CUDNN_TYPE_VOID_PTR(), 4, ptrs),
                        "set VARIANT_PACK_DATA_POINTERS");
                check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE(), CUDNN_TYPE_VOID_PTR(), 1,
                        call.allocateFrom(ADDRESS, workspace.address())), "set VARIANT_PACK_WORKSPACE");
                check(cudnnBackendFinalize(pack), "finalize VARIANT_PACK");
                check(cudnnBackendExecute(handle, plan, pack), "cudnnBackendExecute");
            } finally {
                cudnnBackendDestroyDescriptor(pack);
            }
        }
    }

    Key key() {
        return key;
    }

    long workspaceBytes() {
        return workspace.bytes();
    }

    static int dataType(Precision p) {
        return switch (p) {
            case FP32, TF32 -> CUDNN_DATA_FLOAT();
            case FP16 -> CUDNN_DATA_HALF();
            case BF16 -> CUDNN_DATA_BFLOAT16();
        };
    }

    private MemorySegment pointwise(int mode, MemorySegment in, MemorySegment bias, MemorySegment out) {
        MemorySegment pw = create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR());
        setInt(pw, CUDNN_ATTR_POINTWISE_MODE(), CUDNN_TYPE_POINTWISE_MODE(), mode);
        setInt(pw, CUDNN_ATTR_POINTWISE_MATH_PREC(), CUDNN_TYPE_DATA_TYPE(), CUDNN_DATA_FLOAT());
        finalize(pw, "POINTWISE");
        MemorySegment op = create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR());
        setDescriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR(), pw);
        setDescriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC(), in);
        if (bias != null) setDescriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC(), bias);
        setDescriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC(), out);
        finalize(op, "OPERATION_POINTWISE");
        return op;
    }

    private MemorySegment tensor(long uid, int type, long[] dims, long[] strides, int alignment, boolean virtual) {
        MemorySegment t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR());
        setInt(t, CUDNN_ATTR_TENSOR_DATA_TYPE(), CUDNN_TYPE_DATA_TYPE(), type);
        set(t, CUDNN_ATTR_TENSOR_DIMENSIONS(), CUDNN_TYPE_INT64(), dims.length, arena.allocateFrom(JAVA_LONG, dims));
        set(t, CUDNN_ATTR_TENSOR_STRIDES(), CUDNN_TYPE_INT64(), strides.length, arena.allocateFrom(JAVA_LONG, strides));
        setLongs(t, CUDNN_ATTR_TENSOR_UNIQUE_ID(), uid);
        setLongs(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT(), alignment);
        // CUDNN_TYPE_BOOLEAN is a C bool: one byte.
        if (virtual) {
            set(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL(), CUDNN_TYPE_BOOLEAN(), 1, arena.allocateFrom(JAVA_BYTE, (byte) 1));
        }
        finalize(t, "TENSOR uid " + uid);
        return t;
    }

    private MemorySegment create(int type) {
        MemorySegment d = pointerOut(arena, type);
        descriptors.add(d);
        return d;
    }

    private static MemorySegment pointerOut(Arena arena, int type) {
        MemorySegment out = arena.allocate(ADDRESS);
        check(cudnnBackendCreateDescriptor(type, out), "cudnnBackendCreateDescriptor(" + type + ")");
        return out.get(ADDRESS, 0);
    }

    private void set(MemorySegment desc, int attribute, int type, long count, MemorySegment values) {
        check(cudnnBackendSetAttribute(desc, attribute, type, count, values), "set attribute " + attribute);
    }

    private void setInt(MemorySegment desc, int attribute, int type, int value) {
        set(desc, attribute, type, 1, arena.allocateFrom(JAVA_INT, value));
    }

    private void setLongs(MemorySegment desc, int attribute, long... values) {
        set(desc, attribute, CUDNN_TYPE_INT64(), values.length, arena.allocateFrom(JAVA_LONG, values));
    }

    private void setDescriptor(MemorySegment desc, int attribute, MemorySegment value) {
        set(desc, attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR(), 1, arena.allocateFrom(ADDRESS, value));
    }

    private static void finalize(MemorySegment desc, String what) {
        check(cudnnBackendFinalize(desc), "finalize " + what);
    }

    static void check(int status, String step) {
        if (status != CUDNN_STATUS_SUCCESS()) throw new CudnnException(step, status);
    }

    private void destroyDescriptors() {
        for (int i = descriptors.size() - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(descriptors.get(i));
        descriptors.clear();
    }

    /** Frees the plan's descriptors and its workspace (after the stream has finished with them); idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        destroyDescriptors();
        workspace.close();
        arena.close();
    }

    /** A cuDNN call failed: the step, cuDNN's status name and number. */
    static final class CudnnException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        final int status;

        CudnnException(String step, int status) {
            super("cuDNN: " + step + " failed: " + statusName(status) + " (" + status + ")");
            this.status = status;
        }

        private static String statusName(int status) {
            try {
                return cudnnGetErrorString(status).getString(0);
            } catch (RuntimeException | LinkageError e) {
                return "status";
            }
        }
    }
}
