package org.xcit4j.backend.cuda;

import org.xcit4j.backend.Precision;
import org.xcit4j.bindings.cuda.cublasLt_h;

/** The CUDA-side codes of a {@link Precision}'s storage type. */
final class CudaTypes {
    private CudaTypes() {
    }

    /** xcit_cuda.h's type code (XCIT_CUDA_F32/F16/BF16). */
    static int typeCode(Precision p) {
        return switch (p) {
            case FP32, TF32 -> 0;
            case FP16 -> 1;
            case BF16 -> 2;
        };
    }

    /** cudaDataType of the stored elements, for cuBLASLt. */
    static int cudaDataType(Precision p) {
        return switch (p) {
            case FP32, TF32 -> cublasLt_h.CUDA_R_32F();
            case FP16 -> cublasLt_h.CUDA_R_16F();
            case BF16 -> cublasLt_h.CUDA_R_16BF();
        };
    }
}
