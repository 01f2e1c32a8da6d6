package org.xcit4j.backend;

import java.util.Locale;

/**
 * Arithmetic of a backend. {@link #FP32} everywhere is the default and matches the reference
 * to float rounding. {@link #TF32} (CUDA) stores fp32 but lets GEMMs round inputs to a
 * 10-bit mantissa on tensor cores. {@link #FP16} (CUDA) and {@link #BF16} (CUDA; CPU with
 * avx512_bf16) store weights and activations (CPU: GEMM inputs) in 16 bits. Every
 * reduction over tokens (LayerNorm statistics, XCA Gram and norms, softmax) stays fp32.
 */
public enum Precision {
    /** IEEE float32 storage and arithmetic. */
    FP32("f32", 4),
    /** float32 storage; GEMM inputs rounded to TF32 on tensor cores (CUDA). */
    TF32("f32", 4),
    /** Weights and activations in IEEE float16 (CUDA). */
    FP16("f16", 2),
    /** Weights and activations (CPU: GEMM inputs) in bfloat16. */
    BF16("bf16", 2);

    private final String suffix;
    private final int storageBytes;

    Precision(String suffix, int storageBytes) {
        this.suffix = suffix;
        this.storageBytes = storageBytes;
    }

    /**
     * The dtype suffix of native entry points for this storage: f32, f16, bf16.
     *
     * @return the suffix
     */
    public String suffix() {
        return suffix;
    }

    /**
     * Bytes per stored element.
     *
     * @return 2 or 4
     */
    public int storageBytes() {
        return storageBytes;
    }

    /**
     * The precision of a name, in any case: fp32 (f32, float32), tf32, fp16 (f16, float16,
     * half) or bf16 (bfloat16).
     *
     * @param name the name
     * @return the precision
     * @throws IllegalArgumentException naming the valid names if there is no such precision
     */
    public static Precision parse(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "fp32", "f32", "float32" -> FP32;
            case "tf32" -> TF32;
            case "fp16", "f16", "float16", "half" -> FP16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown precision '" + name + "': expected fp32, tf32, fp16 or bf16");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
