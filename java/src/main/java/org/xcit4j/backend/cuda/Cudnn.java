package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudnn_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.xcit4j.backend.Precision;
import org.xcit4j.bindings.CudaLibraries;

/**
 * The patch embedding's 3x3 stride-2 convolutions and the FPN's 2x2 stride-2 transposed
 * convolutions through cuDNN 9 (issue 13, item 1), OPT-IN:
 * only with {@code -Dxcit.cuda.cudnn=true} and where libcudnn.so.9 loads
 * ({@link CudaLibraries#CUDNN}); otherwise, and for any shape whose plan cannot be built,
 * libxcit_cuda's own conv kernel runs, after a one-line note naming the reason. Off by default
 * until a GPU run has measured it and checked its results (it has never run on a GPU yet).
 *
 * <p>Never on the emulated device: cuDNN's kernels are NVIDIA's device code, which the host
 * emulator cannot run, so {@link CudaLibraries} reports cuDNN unavailable there.
 *
 * <p>Plans ({@link CudnnConv}) are made per shape and operand alignment on first use, which is
 * always the eager forward that {@code CudaExecution.prepare} runs before capturing the CUDA
 * graph: a failure surfaces there, with cuDNN's status, and that shape falls back for good.
 * The filters come relaid out into cuDNN's channel-last filter for channel-last activations
 * ((Cout, Cin, 3, 3) -> (Cout, 3, 3, Cin); (Cin, Cout, 2, 2) -> (Cin, 2, 2, Cout):
 * {@link DerivedWeights#tapMajor}, made once on the host and shared by every backend).
 *
 * <p>Graph capture: cudnnBackendExecute only enqueues work on the handle's stream (set once
 * by cudnnSetStream), so stream capture records it like any launch. NVIDIA documents CUDA graph
 * use of cuDNN in the cuDNN frontend developer guide ("CUDA Graphs",
 * docs.nvidia.com/deeplearning/cudnn/frontend/latest/, which also describes the native
 * cudnnBackendPopulateCudaGraph API for engines with the SUPPORTS_CUDA_GRAPH_NATIVE_API behaviour
 * note) and PyTorch captures cuDNN convolutions in torch.cuda.graphs the same way. Not yet
 * verified on a GPU for these engines: the GPU check script's cuDNN cases do that.
 */
final class Cudnn implements AutoCloseable {
    /** The switch: {@code -Dxcit.cuda.cudnn=true} takes cuDNN for the convs where it loads. */
    static final String PROPERTY = "xcit.cuda.cudnn";

    private final MemorySegment handle;
    private final Precision precision;
    private final Consumer<String> notes;
    private final Map<CudnnConv.Key, CudnnConv> plans = new HashMap<>();
    private final Set<CudnnConv.Key> refused = new HashSet<>();
    private boolean closed;

    private Cudnn(MemorySegment handle, Precision precision, Consumer<String> notes) {
        this.handle = handle;
        this.precision = precision;
        this.notes = notes;
    }

    /** Whether the user asked for cuDNN ({@link #PROPERTY}); false by default. */
    static boolean requested() {
        return Boolean.getBoolean(PROPERTY);
    }

    /**
     * cuDNN on {@code stream} if requested and available, else null after a note saying why
     * (nothing is said when it was not requested: the default changes nothing).
     */
    static Cudnn open(Precision precision, MemorySegment stream, Consumer<String> notes) {
        if (!requested()) return null;
        if (!CudaLibraries.isAvailable(CudaLibraries.CUDNN)) {
            notes.accept("cuda: cuDNN not used (-D" + PROPERTY + "=true): " + CudaLibraries.describe(CudaLibraries.CUDNN)
                    + "; the convs use libxcit_cuda's kernels");
            return null;
        }
        MemorySegment handle;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            CudnnConv.check(cudnnCreate(out), "cudnnCreate");
            handle = out.get(ValueLayout.ADDRESS, 0);
        } catch (CudnnConv.CudnnException e) {
            notes.accept("cuda: cuDNN not used (-D" + PROPERTY + "=true): " + e.getMessage()
                    + "; the convs use libxcit_cuda's kernels");
            return null;
        }
        try {
            CudnnConv.check(cudnnSetStream(handle, stream), "cudnnSetStream");
        } catch (CudnnConv.CudnnException e) {
            cudnnDestroy(handle);
            notes.accept("cuda: cuDNN not used: " + e.getMessage() + "; the convs use libxcit_cuda's kernels");
            return null;
        }
        notes.accept("cuda: patch-embedding and FPN convs by cuDNN " + CudaLibraries.version(CudaLibraries.CUDNN)
                + " (-D" + PROPERTY + "=true; opt-in, not yet checked on a GPU), libxcit_cuda's kernel where a plan fails");
        return new Cudnn(handle, precision, notes);
    }

    /**
     * Enqueues out (N, ceil(H/2), ceil(W/2), Cout) = act(conv3x3s2(in (N, H, W, Cin), the
     * weight (Cout, Cin, 3, 3) as {@code filter} (Cout, 3, 3, Cin)) + bias (Cout)) through cuDNN,
     * or returns false (nothing enqueued) when this shape has no plan: the caller then runs its
     * own kernel. Device pointers, the session's storage type.
     *
     * @param capturing true while the stream is being captured: no plan is made then (plans
     *                  allocate), a shape without one (none can be new then) falls back
     */
    boolean conv3x3s2(MemorySegment out, MemorySegment in, MemorySegment filter, MemorySegment bias,
                      long n, long h, long w, long cin, long cout, boolean gelu, boolean capturing) {
        return run(CudnnConv.Op.CONV3X3S2, out, in, filter, bias, n, h, w, cin, cout, gelu, capturing);
    }

    /**
     * Enqueues out (N, 2H, 2W, Cout) = convTranspose2x2s2(in (N, H, W, Cin), the weight (Cin,
     * Cout, 2, 2) as {@code filter} (Cin, 2, 2, Cout)) + bias (Cout) through cuDNN, or returns
     * false as {@link #conv3x3s2} does.
     */
    boolean convTranspose2x2(MemorySegment out, MemorySegment in, MemorySegment filter, MemorySegment bias, long n,
                             long h, long w, long cin, long cout, boolean capturing) {
        return run(CudnnConv.Op.CONV_TRANSPOSE2X2, out, in, filter, bias, n, h, w, cin, cout, false, capturing);
    }

    private boolean run(CudnnConv.Op op, MemorySegment out, MemorySegment in, MemorySegment filter, MemorySegment bias,
                        long n, long h, long w, long cin, long cout, boolean gelu, boolean capturing) {
        if (bias.equals(MemorySegment.NULL)) return false;  // the graph has a bias input; these convs always have one
        CudnnConv.Key key = new CudnnConv.Key(op, n, h, w, cin, cout, gelu, alignment(in), alignment(out), 16,
                alignment(bias));
        if (refused.contains(key)) return false;
        CudnnConv plan = plans.get(key);
        if (plan == null) {
            if (capturing) return false;
            try {
                plan = plans.computeIfAbsent(key, k -> new CudnnConv(handle, k, precision));
            } catch (CudnnConv.CudnnException e) {
                refused.add(key);
                notes.accept("cuda: cuDNN has no plan for " + describe(key) + ": " + e.getMessage()
                        + "; libxcit_cuda's kernel runs it");
                return false;
            }
        }
        plan.execute(in, filter, bias, out);
        return true;
    }

    private static String describe(CudnnConv.Key k) {
        String name = k.op() == CudnnConv.Op.CONV3X3S2 ? "conv3x3s2" : "conv_transpose2x2";
        return name + " (" + k.n() + ", " + k.h() + ", " + k.w() + ", " + k.cin() + ") -> " + k.cout() + (k.gelu() ? " + GELU" : "");
    }

    /** The largest power of two up to 16 dividing the address (cuDNN's BYTE_ALIGNMENT). */
    private static int alignment(MemorySegment address) {
        long a = address.address();
        return a == 0 ? 16 : (int) Math.min(16, Long.lowestOneBit(a));
    }

    /** Plans made (tests, diagnostics). */
    int plans() {
        return plans.size();
    }

    /** Frees every plan and workspace, then the handle; the stream must be idle. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (CudnnConv p : plans.values()) p.close();
        plans.clear();
        cudnnDestroy(handle);
    }
}
