// What the emulated device's runtime (runtime_emu.cpp) offers the other parts of
// libxcit_cuda_emu.so (the cuBLASLt stand-in): its lock, its streams, its memory map.
#ifndef XCIT_RUNTIME_EMU_H
#define XCIT_RUNTIME_EMU_H

#include <cstddef>
#include <functional>
#include <mutex>

#include "cuda/emu/cuda_emu.h"

// cudaGetDeviceProperties' name: says what it is, so nobody mistakes it for a GPU.
#define XCIT_EMU_DEVICE_NAME "xcit4j emulated CUDA device (host CPU, not a GPU)"

namespace xcit_emu_runtime {

// Held by every runtime entry point (the block/thread emulator is single-threaded).
std::recursive_mutex& lock();
// Queues a kernel (op runs it) on the stream, or records it as a kernel node of the
// stream's capture, in CUDA's order.
cudaError_t enqueue_kernel(cudaStream_t stream, std::function<void()> op);
// Whether [p, p + bytes) lies inside one cudaMalloc allocation.
bool device_range(const void* p, size_t bytes);

}  // namespace xcit_emu_runtime

#endif  // XCIT_RUNTIME_EMU_H
