package org.xcit4j.backend.cpu;

import static org.xcit4j.backend.Checks.convRows;
import static org.xcit4j.bindings.xcit.xcit_h.*;

import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * The patch embedding's 3x3 stride-2 convolutions on the CPU. Stage 0 (Cin = 3, K = 27) runs
 * the direct C kernel, GELU applied to each row as it is written; wider stages run im2col in
 * chunks of about 4 MB and a oneDNN GEMM per chunk with GELU as its post-op (measured: see
 * the README's table). The im2col schedules are per session ({@code plans}: the running
 * session's, from {@link SessionState}); the weights in GEMM order come from {@link CpuWeights}.
 */
final class PatchConv implements AutoCloseable {
    private final NativeContext ctx;
    private final Gemms gemms;
    private final CpuWeights weights;
    /** im2col columns of one chunk (at most about 4 MB), shared by all sessions: one runs at a time. */
    private final GrowingBuffer workspace = new GrowingBuffer();

    PatchConv(NativeContext ctx, Gemms gemms, CpuWeights weights) {
        this.ctx = ctx;
        this.gemms = gemms;
        this.weights = weights;
    }

    /**
     * in (B, H, W, Cin) channel-last; see Backend.conv3x3s2. {@code plans}: the im2col schedule
     * of each conv output view the session has passed (its patch-embedding stages or bands,
     * views it makes once), by the view's identity.
     */
    void channelsLast(IdentityHashMap<Tensor, ConvPlan> plans, Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias,
                      boolean gelu) {
        long rows = convRows(out, in, false, firstRow, weight, bias);
        Shape s = in.shape();
        long b = s.dim(0), h = s.dim(1), w = s.dim(2), cin = s.dim(3), cout = weight.shape().dim(0);
        if (cin < 8) {
            direct(out, in, weight, bias, b, h, w, cin, cout, firstRow, rows, gelu ? XCIT_CONV_GELU() : 0);
            return;
        }
        // A session hands the same views every run (its stages, or its bands made once), so each
        // finds its plan again; the weight in GEMM order is shared by all plans and backends.
        ConvPlan plan = plans.get(out);
        if (plan == null || !plan.serves(in, weight, firstRow)) {
            plan = new ConvPlan(in, out, weight, weights.im2colWeight(weight), firstRow, h, w, cin, cout);
            plans.put(out, plan);
        }
        Dnnl.Epilogue epilogue = gelu ? Dnnl.Epilogue.GELU : Dnnl.Epilogue.NONE;
        MemorySegment cols = workspace.atLeast(plan.chunk * plan.k * Float.BYTES);
        for (int i = 0; i < plan.dst.length; i++) {
            if (plan.rows[i] == 0) continue;
            ctx.check(xcit_cpu_im2col3x3s2_f32(ctx.handle(), cols, plan.src[i], h, w, cin, plan.row0[i], plan.rows[i]),
                    "xcit_cpu_im2col3x3s2_f32");
            gemms.run(gemms.matmul(plan.gemmWeight, bias, null, epilogue, plan.rows[i], false), cols, plan.rows[i] * plan.k,
                    plan.dst[i]);
        }
    }

    /** in (B, Cin, H, W): the direct kernel for any Cin (it is the fast one for the image's 3 channels). */
    void channelsFirst(Tensor out, Tensor in, int firstRow, Tensor weight, Tensor bias, boolean gelu) {
        long rows = convRows(out, in, true, firstRow, weight, bias);
        Shape s = in.shape();
        direct(out, in, weight, bias, s.dim(0), s.dim(2), s.dim(3), s.dim(1), weight.shape().dim(0), firstRow, rows,
                XCIT_CONV_CHANNELS_FIRST() | (gelu ? XCIT_CONV_GELU() : 0));
    }

    private void direct(Tensor out, Tensor in, Tensor weight, Tensor bias, long b, long h, long w, long cin, long cout,
                        long firstRow, long rows, int flags) {
        ctx.check(xcit_cpu_conv3x3s2_f32(ctx.handle(), out.segment(), in.segment(), weight.segment(), bias.segment(),
                b, h, w, cin, cout, firstRow, rows, flags), "xcit_cpu_conv3x3s2_f32");
    }

    @Override
    public void close() {
        workspace.close();
    }
}
