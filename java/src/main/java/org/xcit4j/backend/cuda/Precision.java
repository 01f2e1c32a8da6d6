package org.xcit4j.backend.cuda;

import java.util.Locale;
import org.xcit4j.bindings.cuda.cublasLt_h;

/**
 * Numeric mode of a CUDA session. Activations and weights are stored as {@link #storage()}
 * on the device; every reduction over tokens or channels accumulates in fp32 whatever the
 * mode. TF32 stores fp32 but lets cuBLASLt's GEMMs round their inputs to TF32 (10-bit
 * mantissa) on tensor cores; the kernels are fp32.
 */
public enum Precision {
    FP32("f32", 4), TF32("f32", 4), FP16("f16", 2), BF16("bf16", 2);

    private final String suffix;
    private final int bytes;

    Precision(String suffix, int bytes) {
        this.suffix = suffix;
        this.bytes = bytes;
    }

    /** The suffix of the libxcit_cuda entry points for this storage: f32, f16, bf16. */
    public String suffix() {
        return suffix;
    }

    /** Bytes per stored element. */
    public int storageBytes() {
        return bytes;
    }

    /** xcit_cuda.h's type code (XCIT_CUDA_F32/F16/BF16). */
    int typeCode() {
        return switch (this) {
            case FP32, TF32 -> 0;
            case FP16 -> 1;
            case BF16 -> 2;
        };
    }

    int cudaDataType() {
        return switch (this) {
            case FP32, TF32 -> cublasLt_h.CUDA_R_32F();
            case FP16 -> cublasLt_h.CUDA_R_16F();
            case BF16 -> cublasLt_h.CUDA_R_16BF();
        };
    }

    public static Precision parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown precision '" + s + "': expected fp32, tf32, fp16 or bf16");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
