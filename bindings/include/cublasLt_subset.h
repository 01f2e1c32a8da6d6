/*
 * The cuBLASLt (libcublasLt) functions xcit4j calls, declared from NVIDIA's
 * documented C signatures (CUDA Runtime API and cuBLAS library guides, CUDA 12/13).
 * bindings/regenerate.sh has jextract bind exactly these names from NVIDIA's real header
 * (cublasLt.h of the nvidia_cublas wheel), and BindingsMatchHeaderTest checks this file
 * against that header (every prototype as FFM carriers, every constant's value) and the checked-in
 * org.xcit4j.bindings.cuda.cublasLt_h class against this file (and every symbol against the
 * real library when one is installed).
 *
 * Opaque handles are pointers, enums are 32-bit ints, exactly the ABI of the real
 * headers on x86-64 Linux. Lines starting with XCIT_BIND are the bound functions;
 * `#define` lines are the enum values used (names as in the real headers).
 * Only CUDA 12 and 13 are supported (cudaGraphInstantiate's three-argument form).
 */
#ifndef XCIT_CUBLASLT_SUBSET_H
#define XCIT_CUBLASLT_SUBSET_H

#include <stddef.h>
#include <stdint.h>

#define XCIT_BIND extern

typedef struct CUstream_st* cudaStream_t; /* as in cudart_subset.h */

/* ---- libcublasLt.so.{13,12}: cublasLt_h -------------------------------------------- */

typedef int cublasStatus_t;
typedef int cublasComputeType_t;
typedef int cudaDataType_t;
typedef int cublasLtMatmulDescAttributes_t;
typedef int cublasLtMatrixLayoutAttribute_t;
typedef int cublasLtMatmulPreferenceAttributes_t;
typedef struct cublasLtContext* cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque* cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque* cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque* cublasLtMatmulPreference_t;
/* cublasLtMatmulAlgo_t is uint64_t data[8]; cublasLtMatmulHeuristicResult_t is
 * { cublasLtMatmulAlgo_t algo; size_t workspaceSize; cublasStatus_t state;
 *   float wavesCount; int reserved[4]; } = 96 bytes (cublasLtMatmulHeuristicResult_t.java). */
typedef struct cublasLtMatmulAlgo cublasLtMatmulAlgo_t;
typedef struct cublasLtMatmulHeuristicResult cublasLtMatmulHeuristicResult_t;

#define CUBLAS_STATUS_SUCCESS 0
#define CUBLAS_OP_N 0
#define CUBLAS_OP_T 1
#define CUDA_R_32F 0
#define CUDA_R_16F 2
#define CUDA_R_16BF 14
#define CUBLAS_COMPUTE_32F 68
#define CUBLAS_COMPUTE_32F_FAST_TF32 77
#define CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT 5
#define CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET 6
#define CUBLASLT_MATMUL_DESC_TRANSA 3
#define CUBLASLT_MATMUL_DESC_TRANSB 4
#define CUBLASLT_MATMUL_DESC_EPILOGUE 7
#define CUBLASLT_MATMUL_DESC_BIAS_POINTER 8
#define CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE 10
#define CUBLASLT_EPILOGUE_DEFAULT 1
#define CUBLASLT_EPILOGUE_BIAS 4
#define CUBLASLT_EPILOGUE_GELU 32
#define CUBLASLT_EPILOGUE_GELU_BIAS 36
#define CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES 1
#define CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES 5
#define CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES 6
#define CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES 7
#define CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES 8

XCIT_BIND cublasStatus_t cublasLtCreate(cublasLtHandle_t* lightHandle);
XCIT_BIND cublasStatus_t cublasLtDestroy(cublasLtHandle_t lightHandle);
XCIT_BIND size_t cublasLtGetVersion(void);
XCIT_BIND const char* cublasLtGetStatusString(cublasStatus_t status);
XCIT_BIND cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* matmulDesc,
                                                  cublasComputeType_t computeType,
                                                  cudaDataType_t scaleType);
XCIT_BIND cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc);
XCIT_BIND cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc,
                                                        cublasLtMatmulDescAttributes_t attr,
                                                        const void* buf, size_t sizeInBytes);
XCIT_BIND cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* matLayout,
                                                    cudaDataType_t type, uint64_t rows,
                                                    uint64_t cols, int64_t ld);
XCIT_BIND cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout);
XCIT_BIND cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout,
                                                          cublasLtMatrixLayoutAttribute_t attr,
                                                          const void* buf, size_t sizeInBytes);
XCIT_BIND cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref);
XCIT_BIND cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref);
XCIT_BIND cublasStatus_t cublasLtMatmulPreferenceSetAttribute(
    cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
    size_t sizeInBytes);
XCIT_BIND cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc,
    cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc,
    cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t preference,
    int requestedAlgoCount, cublasLtMatmulHeuristicResult_t* heuristicResultsArray,
    int* returnAlgoCount);
XCIT_BIND cublasStatus_t cublasLtMatmul(cublasLtHandle_t lightHandle,
                                        cublasLtMatmulDesc_t computeDesc, const void* alpha,
                                        const void* A, cublasLtMatrixLayout_t Adesc,
                                        const void* B, cublasLtMatrixLayout_t Bdesc,
                                        const void* beta, const void* C,
                                        cublasLtMatrixLayout_t Cdesc, void* D,
                                        cublasLtMatrixLayout_t Ddesc,
                                        const cublasLtMatmulAlgo_t* algo, void* workspace,
                                        size_t workspaceSizeInBytes, cudaStream_t stream);

#endif /* XCIT_CUBLASLT_SUBSET_H */
