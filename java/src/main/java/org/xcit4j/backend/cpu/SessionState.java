package org.xcit4j.backend.cpu;

import java.util.IdentityHashMap;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.tensor.Tensor;

/**
 * What one session's runs make on a {@link CpuBackend}: its im2col plans, its covariance
 * route (buffers and runtime-operand primitives) and its references to the GEMM primitives
 * it uses, all in one {@link Dnnl.Scope}. Made when the session is prepared, freed when it
 * is released, so a backend serving sessions in turn holds only what its open sessions use.
 */
final class SessionState implements AutoCloseable {
    final Dnnl.Scope scope;
    /** The im2col schedule of each conv output view the session passes, by the view's identity. */
    final IdentityHashMap<Tensor, ConvPlan> convPlans = new IdentityHashMap<>();
    final CovarianceRoute covariance;

    SessionState(NativeContext ctx, Gemms gemms) {
        this.scope = gemms.dnnl().scope();
        this.covariance = new CovarianceRoute(ctx, gemms, scope);
    }

    @Override
    public void close() {
        convPlans.clear();
        scope.close();
    }
}
