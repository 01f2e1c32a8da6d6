package org.xcit4j.backend.cuda;

import static org.xcit4j.bindings.cuda.cudart_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.backend.Precision;
import org.xcit4j.bindings.CudaLibraries;
import org.xcit4j.bindings.xcit.xcit_cuda_h;
import org.xcit4j.tensor.Tensor;

/**
 * One session's forward on the GPU. {@link #prepare} (once):
 * <ol>
 *   <li>mirrors the session's activation block in one device allocation and gives the input
 *       slot its own fp32 buffer;
 *   <li>dry-runs setup + forward with launches switched off, so every tensor the ops touch
 *       that is not planned memory is found: the weights, uploaded into one allocation;
 *       the workspaces' sizes are found the same way;
 *   <li>uploads the tensors Java filled on the host (the Fourier features), runs setup
 *       (the positional projection) and the forward once eagerly (errors surface with
 *       their real message; cuBLASLt and cuDNN plans get made), then captures the forward, followed
 *       by the conversion of each output to fp32, as a CUDA graph.
 * </ol>
 * {@link #run}: input -> pinned staging -> device (async), graph launch, outputs -> pinned
 * -> host tensors, one stream synchronisation. {@link #launchResident} skips the host copies
 * for callers whose data is already on the GPU ({@link #residentInput}, {@link #residentOutput}).
 */
final class CudaExecution implements AutoCloseable {

    /**
     * Per backend: the stream every op and copy goes to, cuBLASLt if present, cuDNN if asked for
     * ({@link Cudnn#PROPERTY}) and present, else null.
     */
    public record Device(NativeContext ctx, MemorySegment stream, Cublas cublas, Cudnn cudnn, Precision precision,
                         CudaWeights weights) implements AutoCloseable {
        public static Device open(NativeContext ctx, Precision precision, boolean cublasLt, CudaWeights weights,
                                  Consumer<String> notes) {
            MemorySegment stream = Cuda.pointerOut(out -> cudaStreamCreateWithFlags(out, cudaStreamNonBlocking()),
                    "cudaStreamCreateWithFlags");
            Cublas cublas = null;
            try {
                ctx.check(xcit_cuda_h.xcit_cuda_set_stream(ctx.handle(), stream), "xcit_cuda_set_stream");
                if (!cublasLt) {
                    notes.accept("cuda: GEMMs by libxcit_cuda's portable kernel (cuBLASLt not used, as asked)");
                } else if (CudaLibraries.isAvailable(CudaLibraries.CUBLASLT)) {
                    cublas = new Cublas(precision);
                } else {
                    notes.accept("cuda: " + CudaLibraries.describe(CudaLibraries.CUBLASLT)
                            + "; GEMMs use libxcit_cuda's portable kernel (correct, several times slower)");
                }
                Cudnn cudnn = Cudnn.open(precision, stream, notes);
                return new Device(ctx, stream, cublas, cudnn, precision, weights);
            } catch (RuntimeException e) {
                // Nothing half-open stays behind: what was made so far goes, the first error is thrown.
                if (cublas != null) cublas.close();
                cudaStreamDestroy(stream);
                throw e;
            }
        }

        @Override
        public void close() {
            if (cudnn != null) cudnn.close();
            if (cublas != null) cublas.close();
            Cuda.check(cudaStreamDestroy(stream), "cudaStreamDestroy");
        }
    }

    private record Output(Tensor host, DeviceBuffer fp32, MemorySegment pinned) {}

    /**
     * Device scratch that ops ask for by size (sized during the dry run, the largest request
     * of each kind, allocated once). Kinds never share bytes: XCA's split slots are rewritten
     * by every call, while class attention's counters must stay zero between its calls.
     */
    public enum Workspace {
        /** xcit_cuda_xca's split-route slots. */
        XCA(false),
        /** xcit_cuda_class_attention_folded's counters (zero before the first call) and slots. */
        CLASS_ATTENTION(true),
        /** xcit_cuda_conv3x3s2's split-K slots (small outputs; every slot written before it is read). */
        CONV(false),
        /** The im2col route's window rows of one slab of output pixels (CudaBackend.IM2COL_PROPERTY). */
        IM2COL(false);

        private final boolean zeroed;

        Workspace(boolean zeroed) {
            this.zeroed = zeroed;
        }
    }

    private final Device device;
    private final Backend.Forward forward;
    private final DeviceMemory memory = new DeviceMemory();
    private final List<Output> outputs = new ArrayList<>();
    private final long[] workspaceNeeded = new long[Workspace.values().length];
    private final DeviceBuffer[] workspaces = new DeviceBuffer[Workspace.values().length];
    private DeviceBuffer input;
    private MemorySegment pinnedInput, graph;
    private boolean collecting, capturing;
    private int kernelLaunches;

    public CudaExecution(Device device, Backend.Forward forward) {
        this.device = device;
        this.forward = forward;
    }

    public void prepare(Backend backend) {
        Precision p = device.precision();
        MemorySegment block = forward.activations();
        memory.mirror(block, memory.keep(DeviceBuffer.allocate(block.byteSize() / Float.BYTES * p.storageBytes())),
                p.storageBytes());
        input = memory.keep(DeviceBuffer.allocate(forward.inputSlot().segment().byteSize()));
        memory.pin(forward.inputSlot(), input);

        collecting = true;
        try {
            forward.setup(backend);
            forward.forward(backend, forward.inputSlot());
        } finally {
            collecting = false;
        }
        MemorySegment ctx = device.ctx().handle();
        memory.uploadWeights(device.weights(), ctx, device.stream());
        for (Workspace w : Workspace.values()) {
            DeviceBuffer b = memory.keep(DeviceBuffer.allocate(Math.max(workspaceNeeded[w.ordinal()], 256)));
            if (w.zeroed) {
                Cuda.check(cudaMemsetAsync(b.address(), 0, b.bytes(), device.stream()), "cudaMemsetAsync");
                synchronize();
            }
            workspaces[w.ordinal()] = b;
        }
        for (Tensor t : forward.hostInitialised()) memory.upload(t, p, ctx, device.stream());
        for (Tensor t : forward.outputs()) {
            outputs.add(new Output(t, memory.keep(DeviceBuffer.allocate(t.segment().byteSize())),
                    Cuda.mallocHost(t.segment().byteSize())));
        }
        pinnedInput = Cuda.mallocHost(input.bytes());

        forward.setup(backend);
        enqueueForward(backend);
        synchronize();
        Cuda.check(cudaStreamBeginCapture(device.stream(), cudaStreamCaptureModeThreadLocal()), "cudaStreamBeginCapture");
        MemorySegment captured;
        capturing = true;
        try {
            enqueueForward(backend);
        } finally {
            capturing = false;
            captured = Cuda.pointerOut(out -> cudaStreamEndCapture(device.stream(), out), "cudaStreamEndCapture");
        }
        try {
            kernelLaunches = kernelNodes(captured);
            graph = Cuda.pointerOut(out -> cudaGraphInstantiate(out, captured, 0L), "cudaGraphInstantiate");
        } finally {
            Cuda.check(cudaGraphDestroy(captured), "cudaGraphDestroy");
        }
    }

    /** Kernel nodes of a captured graph: the launches one replay makes (copies not counted). */
    private static int kernelNodes(MemorySegment graph) {
        try (var arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
            Cuda.check(cudaGraphGetNodes(graph, MemorySegment.NULL, count), "cudaGraphGetNodes");
            long n = count.get(ValueLayout.JAVA_LONG, 0);
            MemorySegment nodes = arena.allocate(ValueLayout.ADDRESS, Math.max(n, 1));
            Cuda.check(cudaGraphGetNodes(graph, nodes, count), "cudaGraphGetNodes");
            MemorySegment type = arena.allocate(ValueLayout.JAVA_INT);
            int kernels = 0;
            for (long i = 0; i < count.get(ValueLayout.JAVA_LONG, 0); i++) {
                Cuda.check(cudaGraphNodeGetType(nodes.getAtIndex(ValueLayout.ADDRESS, i), type),
                        "cudaGraphNodeGetType");
                if (type.get(ValueLayout.JAVA_INT, 0) == cudaGraphNodeTypeKernel()) kernels++;
            }
            return kernels;
        }
    }

    /**
     * Kernel launches per run: the captured graph's kernel nodes (cuBLASLt's own counted as
     * its graph records them; the emulated device counts one per product).
     */
    public int kernelLaunches() {
        return kernelLaunches;
    }

    /**
     * The forward, then every output converted from the storage type into its fp32 buffer, up
     * to XCIT_CUDA_CONVERT_MAX of them per launch (one launch for a classifier's four).
     */
    private void enqueueForward(Backend backend) {
        forward.forward(backend, forward.inputSlot());
        int most = xcit_cuda_h.XCIT_CUDA_CONVERT_MAX();
        for (int from = 0; from < outputs.size(); from += most) {
            List<Output> group = outputs.subList(from, Math.min(outputs.size(), from + most));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS, group.size());
                MemorySegment in = arena.allocate(ValueLayout.ADDRESS, group.size());
                MemorySegment counts = arena.allocate(ValueLayout.JAVA_LONG, group.size());
                for (int i = 0; i < group.size(); i++) {
                    out.setAtIndex(ValueLayout.ADDRESS, i, group.get(i).fp32().address());
                    in.setAtIndex(ValueLayout.ADDRESS, i, resolve(group.get(i).host()));
                    counts.setAtIndex(ValueLayout.JAVA_LONG, i, group.get(i).host().numel());
                }
                Ops.convertMany(device.ctx().handle(), group.size(), out, in, CudaTypes.typeCode(device.precision()), counts);
            }
        }
    }

    /** Device address of a tensor an op was handed; during the dry run, unknown tensors are weights. */
    public MemorySegment resolve(Tensor t) {
        MemorySegment a = memory.device(t);
        if (a != null) return a;
        if (collecting) {
            memory.collect(t);
            return MemorySegment.NULL;
        }
        throw new IllegalStateException(t + " at 0x" + Long.toHexString(t.segment().address())
                + " is neither planned memory nor a weight seen while the session was prepared");
    }

    /** Whether the stream is being captured: ops may enqueue work but not allocate (cuDNN plans are made before). */
    public boolean capturing() {
        return capturing;
    }

    /** Whether ops should launch (false during the dry run). */
    public boolean launching() {
        return !collecting;
    }

    /** The workspace of that kind: sized during the dry run, then at least {@code bytes} long. */
    public MemorySegment workspace(Workspace kind, long bytes) {
        if (collecting) {
            workspaceNeeded[kind.ordinal()] = Math.max(workspaceNeeded[kind.ordinal()], bytes);
            return MemorySegment.NULL;
        }
        DeviceBuffer b = workspaces[kind.ordinal()];
        if (bytes > b.bytes()) throw new IllegalStateException(kind + " workspace of " + bytes + " bytes > " + b.bytes());
        return b.address();
    }

    public void run(Tensor in) {
        long bytes = input.bytes();
        MemorySegment.copy(in.segment(), 0, pinnedInput, 0, bytes);
        Cuda.copy(input.address(), pinnedInput, bytes, cudaMemcpyHostToDevice(), device.stream());
        launchResident();
        for (Output o : outputs) {
            Cuda.copy(o.pinned(), o.fp32().address(), o.fp32().bytes(), cudaMemcpyDeviceToHost(), device.stream());
        }
        synchronize();
        for (Output o : outputs) MemorySegment.copy(o.pinned(), 0, o.host().segment(), 0, o.fp32().bytes());
    }

    /** The device buffer the forward reads its (B, 3, H, W) fp32 input from (a view). */
    public DeviceBuffer residentInput() {
        return input.slice(0, input.bytes());
    }

    /** Output {@code i} (the session's order: logits, features, tokens) in fp32 on the device (a view). */
    public DeviceBuffer residentOutput(int i) {
        DeviceBuffer b = outputs.get(i).fp32();
        return b.slice(0, b.bytes());
    }

    /** Enqueues one replay of the forward on the session's stream; {@link #synchronize()} waits for it. */
    public void launchResident() {
        Cuda.check(cudaGraphLaunch(graph, device.stream()), "cudaGraphLaunch");
    }

    public void synchronize() {
        Cuda.check(cudaStreamSynchronize(device.stream()), "cudaStreamSynchronize");
    }

    @Override
    public void close() {
        if (graph != null) cudaGraphExecDestroy(graph);
        graph = null;
        for (Output o : outputs) cudaFreeHost(o.pinned());
        outputs.clear();
        if (pinnedInput != null) cudaFreeHost(pinnedInput);
        pinnedInput = null;
        memory.close();
    }
}
