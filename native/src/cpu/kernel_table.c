/* The kernel table of one instruction set (see kernels.h); compiled once per ISA. */
#include "cpu/simd.h"

#if XCIT_ISA == XCIT_ISA_AVX512
#define ISA_NAME "avx512"
#elif XCIT_ISA == XCIT_ISA_AVX2
#define ISA_NAME "avx2"
#else
#define ISA_NAME "generic"
#endif

#define XCIT_CPU_KERNEL_ENTRY(name, args) .name = XCIT_KFN(name),
const struct xcit_cpu_kernels XCIT_KFN(xcit_cpu_kernels) = {
    .isa_name = ISA_NAME,
    XCIT_CPU_KERNELS(XCIT_CPU_KERNEL_ENTRY)};
