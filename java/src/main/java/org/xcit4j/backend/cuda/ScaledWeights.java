package org.xcit4j.backend.cuda;

import java.lang.foreign.Arena;
import java.util.IdentityHashMap;
import java.util.Map;
import org.xcit4j.tensor.Tensor;

/**
 * Linear weights with a layer scale folded in, so that a residual update
 * x += gamma * (in W^T + b) is one GEMM accumulating into x: (gamma W, gamma b), rows of W
 * scaled by gamma. Made on the host from the model's weights the first time a forward asks
 * (the dry run of a session's prepare), kept per backend and uploaded like any weight.
 * float32 products: gamma * w rounds once, as the CPU backend's packed folding does.
 */
final class ScaledWeights implements AutoCloseable {
    record Linear(Tensor weight, Tensor bias) {}

    private final Arena arena = Arena.ofShared();
    private final Map<Tensor, Map<Tensor, Linear>> folded = new IdentityHashMap<>();

    /** (gamma W, gamma b) for weight (O, K), bias (O) or null, gamma (O); the same tensors on every call. */
    synchronized Linear of(Tensor weight, Tensor bias, Tensor gamma) {
        return folded.computeIfAbsent(weight, w -> new IdentityHashMap<>()).computeIfAbsent(gamma, g -> {
            long o = weight.shape().size(0), k = weight.shape().size(1);
            if (gamma.numel() != o || (bias != null && bias.numel() != o)) {
                throw new IllegalArgumentException("layer scale " + gamma.shape() + " / bias " + (bias == null ? null : bias.shape())
                        + " do not match weight " + weight.shape());
            }
            Tensor w = Tensor.allocate(arena, weight.shape());
            Tensor b = Tensor.allocate(arena, gamma.shape());
            for (long r = 0; r < o; r++) {
                float s = gamma.get(r);
                for (long c = 0; c < k; c++) w.set(r * k + c, s * weight.get(r * k + c));
                b.set(r, bias == null ? 0f : s * bias.get(r));
            }
            return new Linear(w, b);
        });
    }

    @Override
    public synchronized void close() {
        folded.clear();
        arena.close();
    }
}
