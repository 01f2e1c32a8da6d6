/*
 * The CUDA runtime (libcudart) functions xcit4j calls, declared from NVIDIA's
 * documented C signatures (CUDA Runtime API and cuBLAS library guides, CUDA 12/13).
 * bindings/regenerate.sh has jextract bind exactly these names from NVIDIA's real header
 * (the CUDA runtime's cuda_runtime_api.h), and BindingsMatchHeaderTest checks this file
 * against that header (every prototype as FFM carriers, every constant's value) and the checked-in
 * org.xcit4j.bindings.cuda.cudart_h class against this file (and every symbol against the
 * real library when one is installed).
 *
 * Opaque handles are pointers, enums are 32-bit ints, exactly the ABI of the real
 * headers on x86-64 Linux. Lines starting with XCIT_BIND are the bound functions;
 * `#define` lines are the enum values used (names as in the real headers).
 * Only CUDA 12 and 13 are supported (cudaGraphInstantiate's three-argument form).
 */
#ifndef XCIT_CUDART_SUBSET_H
#define XCIT_CUDART_SUBSET_H

#include <stddef.h>
#include <stdint.h>

#define XCIT_BIND extern

/* ---- libcudart.so.{13,12}: cudart_h ---------------------------------------------- */

typedef int cudaError_t;
typedef int cudaMemcpyKind_t;
typedef int cudaStreamCaptureMode_t;
typedef int cudaDeviceAttr_t;
typedef struct CUstream_st* cudaStream_t;
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;
typedef struct CUgraphNode_st* cudaGraphNode_t;
typedef int cudaGraphNodeType_t;

#define cudaSuccess 0
#define cudaErrorMemoryAllocation 2
#define cudaErrorInsufficientDriver 35
#define cudaErrorNoDevice 100
#define cudaMemcpyHostToDevice 1
#define cudaMemcpyDeviceToHost 2
#define cudaMemcpyDeviceToDevice 3
#define cudaStreamNonBlocking 1
#define cudaStreamCaptureModeThreadLocal 1
#define cudaGraphNodeTypeKernel 0
#define cudaDevAttrMultiProcessorCount 16
#define cudaDevAttrComputeCapabilityMajor 75
#define cudaDevAttrComputeCapabilityMinor 76

XCIT_BIND cudaError_t cudaRuntimeGetVersion(int* runtimeVersion);
XCIT_BIND cudaError_t cudaDriverGetVersion(int* driverVersion);
XCIT_BIND cudaError_t cudaGetDeviceCount(int* count);
XCIT_BIND cudaError_t cudaSetDevice(int device);
XCIT_BIND cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr_t attr, int device);
/* prop: a struct cudaDeviceProp; only its first field, char name[256], is read. */
XCIT_BIND cudaError_t cudaGetDeviceProperties(void* prop, int device);
XCIT_BIND cudaError_t cudaMemGetInfo(size_t* free, size_t* total);
XCIT_BIND cudaError_t cudaMalloc(void** devPtr, size_t size);
XCIT_BIND cudaError_t cudaFree(void* devPtr);
XCIT_BIND cudaError_t cudaMallocHost(void** ptr, size_t size);
XCIT_BIND cudaError_t cudaFreeHost(void* ptr);
XCIT_BIND cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind_t kind);
XCIT_BIND cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count,
                                      cudaMemcpyKind_t kind, cudaStream_t stream);
XCIT_BIND cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream);
XCIT_BIND cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags);
XCIT_BIND cudaError_t cudaStreamDestroy(cudaStream_t stream);
XCIT_BIND cudaError_t cudaStreamSynchronize(cudaStream_t stream);
XCIT_BIND cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode_t mode);
XCIT_BIND cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* pGraph);
XCIT_BIND cudaError_t cudaGraphInstantiate(cudaGraphExec_t* pGraphExec, cudaGraph_t graph,
                                           unsigned long long flags);
XCIT_BIND cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream);
XCIT_BIND cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec);
XCIT_BIND cudaError_t cudaGraphDestroy(cudaGraph_t graph);
XCIT_BIND cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* numNodes);
XCIT_BIND cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType_t* pType);
XCIT_BIND const char* cudaGetErrorName(cudaError_t error);
XCIT_BIND const char* cudaGetErrorString(cudaError_t error);
XCIT_BIND cudaError_t cudaGetLastError(void);

#endif /* XCIT_CUDART_SUBSET_H */
