package org.xcit4j.backend;

/**
 * Arithmetic of a backend's matrix products. {@link #FP32} everywhere is the default and
 * matches the reference to float rounding. {@link #BF16} stores weights and GEMM inputs
 * as bfloat16 (8-bit mantissa) with float32 accumulation; every reduction over tokens
 * (LayerNorm statistics, XCA Gram and norms, softmax) stays float32.
 */
public enum Precision {
    FP32, BF16;

    public static Precision parse(String name) {
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "fp32", "f32", "float32" -> FP32;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown precision '" + name + "': expected fp32 or bf16");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
