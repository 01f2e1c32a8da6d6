# Default CUDA targets. Include BEFORE project(): CMake reads CMAKE_CUDA_ARCHITECTURES
# when the CUDA language is enabled, and a value set later is ignored (nvcc 13 would
# then build for its own default, sm_75, which this project does not target).
#
# SASS for Ampere (80, 86), Ada (89) and Hopper (90), plus PTX for 90 so that newer
# GPUs can JIT-compile the kernels. A -DCMAKE_CUDA_ARCHITECTURES=... on the command
# line wins (e.g. "native" on a GPU machine for a faster build).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80-real;86-real;89-real;90" CACHE STRING
      "CUDA architectures: real = SASS only; a bare number = SASS + PTX")
endif()
