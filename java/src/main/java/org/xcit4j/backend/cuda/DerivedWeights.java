package org.xcit4j.backend.cuda;

import java.lang.foreign.Arena;
import java.util.IdentityHashMap;
import java.util.Map;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Weights the CUDA backend computes from the model's own, once, on the host: made the first
 * time a forward asks (the dry run of a session's prepare), kept in {@link CudaWeights} (so
 * shared by every backend using them) and uploaded there like any weight.
 * <ul>
 *   <li>{@link #scaled}: a linear layer with its layer scale folded in, so that a residual
 *       update x += gamma * (in W^T + b) is one GEMM accumulating into x: (gamma W, gamma b).
 *       float32 products: gamma * w rounds once, as the CPU backend's packed folding does.
 *   <li>{@link #tapMajor}: a conv weight with its taps before its second dim, (A, B, kh, kw)
 *       -> (A, kh, kw, B): the channel-last filter of channel-last activations, what cuDNN
 *       takes for both patch-embedding and FPN convs and what im2col's rows multiply.
 * </ul>
 */
final class DerivedWeights implements AutoCloseable {
    record Linear(Tensor weight, Tensor bias) {}

    private final Arena arena = Arena.ofShared();
    private final Map<Tensor, Map<Tensor, Linear>> folded = new IdentityHashMap<>();
    private final Map<Tensor, Tensor> tapMajor = new IdentityHashMap<>();

    /** (gamma W, gamma b) for weight (O, K), bias (O) or null, gamma (O); the same tensors on every call. */
    synchronized Linear scaled(Tensor weight, Tensor bias, Tensor gamma) {
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

    /** weight (A, B, kh, kw) as (A, kh, kw, B), the same tensor on every call; values copied exactly. */
    synchronized Tensor tapMajor(Tensor weight) {
        return tapMajor.computeIfAbsent(weight, w -> {
            Shape s = w.shape();
            if (s.rank() != 4) throw new IllegalArgumentException("a conv weight is (A, B, kh, kw), not " + s);
            long a = s.size(0), b = s.size(1), taps = (long) s.size(2) * s.size(3);
            Tensor t = Tensor.allocate(arena, Shape.of(s.size(0), s.size(2), s.size(3), s.size(1)));
            for (long i = 0; i < a; i++) {
                for (long j = 0; j < b; j++) {
                    for (long tap = 0; tap < taps; tap++) t.set((i * taps + tap) * b + j, w.get((i * b + j) * taps + tap));
                }
            }
            return t;
        });
    }

    @Override
    public synchronized void close() {
        folded.clear();
        tapMajor.clear();
        arena.close();
    }
}
