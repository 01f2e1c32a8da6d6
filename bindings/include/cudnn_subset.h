/*
 * The cuDNN 9 (libcudnn.so.9) functions xcit4j calls: the backend (graph) API, from
 * NVIDIA's cudnn_graph.h of cuDNN 9.24.0.43 (the nvidia_cudnn_cu13 wheel on the local pip
 * index; bindings/nvidia-headers.sh extracts it). bindings/regenerate.sh has jextract bind
 * exactly these names from that header, and BindingsMatchHeaderTest checks the checked-in
 * org.xcit4j.bindings.cuda.cudnn_h class against this file and this file against NVIDIA's
 * real header (every prototype as FFM carriers, every constant's value).
 *
 * Opaque handles and descriptors are pointers, enums are 32-bit ints, exactly the ABI of the
 * real header on x86-64 Linux. Lines starting with XCIT_BIND are the bound functions;
 * `#define` lines are the enum values used (names as in the real header).
 * cudnnBackendInitialize is not bound: cuDNN 9 deprecates it (descriptors come initialised
 * from cudnnBackendCreateDescriptor).
 */
#ifndef XCIT_CUDNN_SUBSET_H
#define XCIT_CUDNN_SUBSET_H

#include <stddef.h>
#include <stdint.h>

#define XCIT_BIND extern

typedef struct CUstream_st* cudaStream_t; /* as in cudart_subset.h */

/* ---- libcudnn.so.9: cudnn_h ---------------------------------------------------------- */

typedef int cudnnStatus_t;
typedef int cudnnBackendDescriptorType_t;
typedef int cudnnBackendAttributeName_t;
typedef int cudnnBackendAttributeType_t;
typedef struct cudnnContext* cudnnHandle_t;
typedef void* cudnnBackendDescriptor_t;

/* cudnnStatus_t */
#define CUDNN_STATUS_SUCCESS 0
#define CUDNN_STATUS_NOT_INITIALIZED 1001
#define CUDNN_STATUS_BAD_PARAM 2000
#define CUDNN_STATUS_NOT_SUPPORTED 3000
/* cudnnDataType_t */
#define CUDNN_DATA_FLOAT 0
#define CUDNN_DATA_HALF 2
#define CUDNN_DATA_BFLOAT16 9
/* cudnnConvolutionMode_t */
#define CUDNN_CROSS_CORRELATION 1
/* cudnnPointwiseMode_t */
#define CUDNN_POINTWISE_ADD 0
#define CUDNN_POINTWISE_GELU_FWD 104
#define CUDNN_POINTWISE_GELU_APPROX_TANH_FWD 107
/* cudnnBackendHeurMode_t */
#define CUDNN_HEUR_MODE_A 3
#define CUDNN_HEUR_MODE_FALLBACK 2
/* cudnnBackendNumericalNote_t */
#define CUDNN_NUMERICAL_NOTE_TENSOR_CORE 0
#define CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS 1
#define CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION 2
/* cudnnBackendAttributeType_t */
#define CUDNN_TYPE_HANDLE 0
#define CUDNN_TYPE_DATA_TYPE 1
#define CUDNN_TYPE_BOOLEAN 2
#define CUDNN_TYPE_INT64 3
#define CUDNN_TYPE_FLOAT 4
#define CUDNN_TYPE_VOID_PTR 6
#define CUDNN_TYPE_CONVOLUTION_MODE 7
#define CUDNN_TYPE_HEUR_MODE 8
#define CUDNN_TYPE_NUMERICAL_NOTE 11
#define CUDNN_TYPE_POINTWISE_MODE 14
#define CUDNN_TYPE_BACKEND_DESCRIPTOR 15
/* cudnnBackendDescriptorType_t */
#define CUDNN_BACKEND_POINTWISE_DESCRIPTOR 0
#define CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR 1
#define CUDNN_BACKEND_ENGINE_DESCRIPTOR 2
#define CUDNN_BACKEND_ENGINECFG_DESCRIPTOR 3
#define CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR 4
#define CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR 5
#define CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR 10
#define CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR 12
#define CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR 13
#define CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR 15
#define CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR 16
#define CUDNN_BACKEND_TENSOR_DESCRIPTOR 17
/* cudnnBackendAttributeName_t */
#define CUDNN_ATTR_POINTWISE_MODE 0
#define CUDNN_ATTR_POINTWISE_MATH_PREC 1
#define CUDNN_ATTR_CONVOLUTION_COMP_TYPE 100
#define CUDNN_ATTR_CONVOLUTION_CONV_MODE 101
#define CUDNN_ATTR_CONVOLUTION_DILATIONS 102
#define CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES 103
#define CUDNN_ATTR_CONVOLUTION_POST_PADDINGS 104
#define CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS 105
#define CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS 106
#define CUDNN_ATTR_ENGINEHEUR_MODE 200
#define CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH 201
#define CUDNN_ATTR_ENGINEHEUR_RESULTS 202
#define CUDNN_ATTR_ENGINECFG_ENGINE 300
#define CUDNN_ATTR_EXECUTION_PLAN_HANDLE 400
#define CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG 401
#define CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE 402
#define CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA 700
#define CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA 701
#define CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC 702
#define CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W 703
#define CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X 704
#define CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y 705
#define CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA 706
#define CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA 707
#define CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC 708
#define CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W 709
#define CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX 710
#define CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY 711
#define CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR 750
#define CUDNN_ATTR_OPERATION_POINTWISE_XDESC 751
#define CUDNN_ATTR_OPERATION_POINTWISE_BDESC 752
#define CUDNN_ATTR_OPERATION_POINTWISE_YDESC 753
#define CUDNN_ATTR_OPERATIONGRAPH_HANDLE 800
#define CUDNN_ATTR_OPERATIONGRAPH_OPS 801
#define CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT 900
#define CUDNN_ATTR_TENSOR_DATA_TYPE 901
#define CUDNN_ATTR_TENSOR_DIMENSIONS 902
#define CUDNN_ATTR_TENSOR_STRIDES 903
#define CUDNN_ATTR_TENSOR_UNIQUE_ID 906
#define CUDNN_ATTR_TENSOR_IS_VIRTUAL 907
#define CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS 1000
#define CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS 1001
#define CUDNN_ATTR_VARIANT_PACK_WORKSPACE 1003
#define CUDNN_ATTR_ENGINE_NUMERICAL_NOTE 1303

XCIT_BIND size_t cudnnGetVersion(void);
XCIT_BIND size_t cudnnGetCudartVersion(void);
XCIT_BIND const char* cudnnGetErrorString(cudnnStatus_t status);
XCIT_BIND cudnnStatus_t cudnnCreate(cudnnHandle_t* handle);
XCIT_BIND cudnnStatus_t cudnnDestroy(cudnnHandle_t handle);
XCIT_BIND cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId);
XCIT_BIND cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
                                                     cudnnBackendDescriptor_t* descriptor);
XCIT_BIND cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor);
XCIT_BIND cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor);
XCIT_BIND cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor,
                                                 cudnnBackendAttributeName_t attributeName,
                                                 cudnnBackendAttributeType_t attributeType,
                                                 int64_t elementCount, const void* arrayOfElements);
XCIT_BIND cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t descriptor,
                                                 cudnnBackendAttributeName_t attributeName,
                                                 cudnnBackendAttributeType_t attributeType,
                                                 int64_t requestedElementCount, int64_t* elementCount,
                                                 void* arrayOfElements);
XCIT_BIND cudnnStatus_t cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                            cudnnBackendDescriptor_t variantPack);

#endif /* XCIT_CUDNN_SUBSET_H */
