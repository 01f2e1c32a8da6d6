// The emulated device's CUDA runtime: the cudart entry points the Java bindings call
// (bindings/include/cudart_subset.h), over host memory, for libxcit_cuda_emu.so, a host
// build of libxcit_cuda (DESIGN.md 3, "The emulated device"). With it the whole
// CudaBackend runs in CI: memory mirror, weight upload and conversion, input staging,
// graph capture and replay, device-resident I/O.
//
// What it models, because real bugs live there:
// - Streams are queues. Work runs when something waits for it (cudaStreamSynchronize,
//   a synchronous copy, cudaFree) and not before: the latest moment CUDA allows, so a
//   missing synchronisation shows up as stale data every time instead of once in a while.
// - The legacy default stream (NULL) and streams made with cudaStreamDefault order
//   against each other; cudaStreamNonBlocking streams do not (driver_types.h).
// - cudaMemcpy from pageable host memory to the device returns once the source is staged;
//   the bytes reach the destination on the legacy stream's turn (the runtime API guide:
//   "the DMA to final destination may not have completed"). A kernel on a non-blocking
//   stream that reads them without a synchronisation sees the old contents.
// - Stream capture records launches, asynchronous copies and cuBLASLt calls; a graph
//   launch queues the recording on its stream, in order. In ThreadLocal/Global capture
//   the calls CUDA prohibits (synchronous copies, cudaMalloc, cudaFree, synchronising)
//   fail and invalidate the capture; pageable memory cannot be captured.
// - cudaMalloc returns 256-byte aligned memory filled with 0xFF bytes (NaN as floats):
//   reading memory that was never written shows.
// Errors of a kernel that ran late (a barrier deadlock, a trap) are sticky, like a
// device's: every later synchronisation returns cudaErrorLaunchFailure.
//
// One big lock: the block/thread emulator underneath is single-threaded, and Java may
// call from several threads.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda/emu/cuda_emu.h"
#include "cuda/emu/runtime_emu.h"

#define XCIT_EMU_API extern "C" __attribute__((visibility("default")))

namespace {

using Op = std::function<void()>;

// What a graph node is (driver_types.h cudaGraphNodeType): a kernel (xcit's, or the
// cuBLASLt stand-in's product), a copy or a memset.
enum NodeKind { kKernelNode = 0, kMemcpyNode = 1, kMemsetNode = 2 };
struct Node {
  NodeKind kind;
  Op run;
};

enum MemcpyKind { kHostToHost = 0, kHostToDevice = 1, kDeviceToHost = 2, kDeviceToDevice = 3, kDefault = 4 };
constexpr unsigned kNonBlocking = 1;
constexpr int kCaptureRelaxed = 2;
constexpr size_t kAlignment = 256;
// What cudaMemGetInfo reports as the device's size: large enough for any test model,
// small enough that a runaway allocation loop fails instead of swapping.
constexpr size_t kDeviceBytes = size_t{16} << 30;

struct Graph {
  std::vector<Node> nodes;
};

struct Stream {
  unsigned flags = 0;
  std::deque<Op> queue;
  Graph* capture = nullptr;  // non-null while capturing
  int capture_mode = 0;
  std::thread::id capture_thread;
  bool capture_invalidated = false;
};

struct Runtime {
  std::recursive_mutex lock;
  Stream legacy;
  std::vector<std::unique_ptr<Stream>> streams;
  std::map<uintptr_t, size_t> device;  // base -> bytes
  std::map<uintptr_t, size_t> pinned;
  size_t device_bytes = 0;
  cudaError_t sticky = cudaSuccess;
  std::string sticky_text;
  uint64_t executed_launches = 0;
};

Runtime& rt() {
  static Runtime* r = new Runtime();  // never destroyed: JVM threads may call at exit
  return *r;
}

using Guard = std::lock_guard<std::recursive_mutex>;

bool in_range(const std::map<uintptr_t, size_t>& ranges, const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = ranges.upper_bound(a);
  if (it == ranges.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}
bool is_device(const void* p, size_t bytes) { return in_range(rt().device, p, bytes); }
bool is_pinned(const void* p, size_t bytes) { return in_range(rt().pinned, p, bytes); }

Stream* find(cudaStream_t handle) {
  if (handle == nullptr) return &rt().legacy;
  for (auto& s : rt().streams) {
    if (reinterpret_cast<cudaStream_t>(s.get()) == handle) return s.get();
  }
  return nullptr;
}

bool blocking(const Stream* s) { return s == &rt().legacy || (s->flags & kNonBlocking) == 0; }

void run(Stream* s) {
  while (!s->queue.empty()) {
    Op op = std::move(s->queue.front());
    s->queue.pop_front();
    op();
  }
}

// The legacy stream and every blocking stream: what a legacy-stream operation waits for.
void run_blocking() {
  run(&rt().legacy);
  for (auto& s : rt().streams) {
    if (blocking(s.get())) run(s.get());
  }
}

void run_all() {
  run(&rt().legacy);
  for (auto& s : rt().streams) run(s.get());
}

// A capture of this thread that prohibits "potentially unsafe" calls (CUDA's Global and
// ThreadLocal modes); such a call invalidates it and fails.
bool unsafe_during_capture() {
  bool found = false;
  for (auto& s : rt().streams) {
    if (s->capture != nullptr && s->capture_mode != kCaptureRelaxed && s->capture_thread == std::this_thread::get_id()) {
      s->capture_invalidated = true;
      found = true;
    }
  }
  return found;
}

// Queues op on s (or records it as a node of s's capture). Blocking streams and the
// legacy stream order against each other: the earlier work of the other side runs first.
cudaError_t enqueue(Stream* s, Op op, NodeKind kind) {
  if (s->capture != nullptr) {
    s->capture->nodes.push_back(Node{kind, std::move(op)});
    return cudaSuccess;
  }
  if (s == &rt().legacy) {
    for (auto& other : rt().streams) {
      if (blocking(other.get())) run(other.get());
    }
  } else if (blocking(s)) {
    run(&rt().legacy);
  }
  s->queue.push_back(std::move(op));
  return cudaSuccess;
}

// A kernel running on its stream's turn: a failure becomes the sticky error.
void run_kernel(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  Runtime& r = rt();
  ++r.executed_launches;
  const cudaError_t err = xcit_emu::launch(grid, block, smem, body);
  (void)cudaGetLastError();  // reported through the sticky error, not a later launch
  if (err != cudaSuccess && r.sticky == cudaSuccess) {
    r.sticky = cudaErrorLaunchFailure;
    r.sticky_text = std::string("a kernel failed when its stream ran it: ") + xcit_emu::last_failure();
    std::fprintf(stderr, "xcit_emu: %s (every later synchronisation reports cudaErrorLaunchFailure)\n",
                 r.sticky_text.c_str());
  }
}

cudaError_t launch_hook(cudaStream_t handle, dim3 grid, dim3 block, size_t smem, std::function<void()> body) {
  Guard g(rt().lock);
  Stream* s = find(handle);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  const cudaError_t config = xcit_emu::check_launch(grid, block, smem);
  if (config != cudaSuccess) return config;
  return enqueue(s, [grid, block, smem, body = std::move(body)] { run_kernel(grid, block, smem, body); }, kKernelNode);
}

// Installed when the library loads: from then on every xcit_launch goes to a stream.
struct InstallHook {
  InstallHook() { xcit_emu::set_launch_hook(launch_hook); }
} install_hook;

cudaError_t sync_result() { return rt().sticky; }

void* aligned(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, kAlignment, std::max<size_t>(bytes, 1)) != 0) return nullptr;
  return p;
}

// Where a copy's pointers are, checked against its kind: the emulator's memory is all
// host memory, so a device pointer passed as host (or the reverse) would otherwise work
// here and fault on a GPU.
cudaError_t check_copy(void* dst, const void* src, size_t count, int kind) {
  const bool dst_dev = is_device(dst, count), src_dev = is_device(src, count);
  switch (kind) {
    case kHostToDevice: return dst_dev && !src_dev ? cudaSuccess : cudaErrorInvalidValue;
    case kDeviceToHost: return src_dev && !dst_dev ? cudaSuccess : cudaErrorInvalidValue;
    case kDeviceToDevice: return src_dev && dst_dev ? cudaSuccess : cudaErrorInvalidValue;
    case kHostToHost: return !src_dev && !dst_dev ? cudaSuccess : cudaErrorInvalidValue;
    case kDefault: return cudaSuccess;
    default: return cudaErrorInvalidMemcpyDirection;
  }
}

Op copy_op(void* dst, const void* src, size_t count) {
  return [dst, src, count] { std::memmove(dst, src, count); };
}

// The source of a pageable host-to-device copy, staged now (the caller may reuse its
// buffer as soon as the call returns); the write to the destination is an Op.
Op staged_copy_op(void* dst, const void* src, size_t count) {
  auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                             static_cast<const unsigned char*>(src) + count);
  return [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); };
}

}  // namespace

// ---- versions, devices ----------------------------------------------------------------

XCIT_EMU_API cudaError_t cudaRuntimeGetVersion(int* version) {
  if (version == nullptr) return cudaErrorInvalidValue;
  *version = CUDART_VERSION;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaDriverGetVersion(int* version) {
  if (version == nullptr) return cudaErrorInvalidValue;
  *version = CUDART_VERSION;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return cudaErrorInvalidValue;
  *count = 1;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

XCIT_EMU_API cudaError_t cudaDeviceGetAttribute(int* value, int attr, int device) {
  if (value == nullptr) return cudaErrorInvalidValue;
  if (device != 0) return cudaErrorInvalidDevice;
  switch (attr) {
    case 16: *value = 1; return cudaSuccess;   // cudaDevAttrMultiProcessorCount
    case 75: *value = 9; return cudaSuccess;   // cudaDevAttrComputeCapabilityMajor: the
    case 76: *value = 0; return cudaSuccess;   // sm_90 feature set the kernels are built for
    default: return cudaErrorInvalidValue;
  }
}

XCIT_EMU_API cudaError_t cudaGetDeviceProperties(void* prop, int device) {
  if (prop == nullptr) return cudaErrorInvalidValue;
  if (device != 0) return cudaErrorInvalidDevice;
  // struct cudaDeviceProp starts with char name[256]; the rest is left as the caller had it.
  std::memset(prop, 0, 256);
  std::snprintf(static_cast<char*>(prop), 256, "%s", XCIT_EMU_DEVICE_NAME);
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  Guard g(rt().lock);
  if (free_bytes == nullptr || total == nullptr) return cudaErrorInvalidValue;
  *total = kDeviceBytes;
  *free_bytes = kDeviceBytes - std::min(kDeviceBytes, rt().device_bytes);
  return cudaSuccess;
}

// ---- memory ----------------------------------------------------------------------------

XCIT_EMU_API cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  Guard g(rt().lock);
  if (ptr == nullptr) return cudaErrorInvalidValue;
  if (unsafe_during_capture()) return cudaErrorStreamCaptureUnsupported;
  if (bytes > kDeviceBytes - std::min(kDeviceBytes, rt().device_bytes)) return cudaErrorMemoryAllocation;
  void* p = aligned(bytes);
  if (p == nullptr) return cudaErrorMemoryAllocation;
  std::memset(p, 0xFF, std::max<size_t>(bytes, 1));
  rt().device[reinterpret_cast<uintptr_t>(p)] = std::max<size_t>(bytes, 1);
  rt().device_bytes += std::max<size_t>(bytes, 1);
  *ptr = p;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaFree(void* ptr) {
  Guard g(rt().lock);
  if (ptr == nullptr) return cudaSuccess;
  if (unsafe_during_capture()) return cudaErrorStreamCaptureUnsupported;
  auto it = rt().device.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == rt().device.end()) return cudaErrorInvalidDevicePointer;
  run_all();  // cudaFree synchronises the device: queued work may still use the memory
  rt().device_bytes -= it->second;
  rt().device.erase(it);
  std::free(ptr);
  return sync_result();
}

XCIT_EMU_API cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  Guard g(rt().lock);
  if (ptr == nullptr) return cudaErrorInvalidValue;
  void* p = aligned(bytes);
  if (p == nullptr) return cudaErrorMemoryAllocation;
  rt().pinned[reinterpret_cast<uintptr_t>(p)] = std::max<size_t>(bytes, 1);
  *ptr = p;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaFreeHost(void* ptr) {
  Guard g(rt().lock);
  if (ptr == nullptr) return cudaSuccess;
  auto it = rt().pinned.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == rt().pinned.end()) return cudaErrorInvalidValue;
  run_all();
  rt().pinned.erase(it);
  std::free(ptr);
  return sync_result();
}

XCIT_EMU_API cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, int kind) {
  Guard g(rt().lock);
  if (unsafe_during_capture()) return cudaErrorStreamCaptureImplicit;
  const cudaError_t err = check_copy(dst, src, count, kind);
  if (err != cudaSuccess) return err;
  run_blocking();  // "a stream sync is performed before the copy is initiated"
  if (kind == kHostToDevice && !is_pinned(src, count)) {
    // Returns once the source is staged; the DMA lands on the legacy stream's turn.
    return enqueue(&rt().legacy, staged_copy_op(dst, src, count), kMemcpyNode);
  }
  std::memmove(dst, src, count);
  return sync_result();
}

XCIT_EMU_API cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, int kind, cudaStream_t stream) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  const cudaError_t err = check_copy(dst, src, count, kind);
  if (err != cudaSuccess) return err;
  const bool pageable = (kind == kHostToDevice && !is_pinned(src, count)) || (kind == kDeviceToHost && !is_pinned(dst, count));
  if (pageable && s->capture != nullptr) {
    s->capture_invalidated = true;  // a graph cannot hold a copy from or to pageable memory
    return cudaErrorStreamCaptureUnsupported;
  }
  if (kind == kHostToDevice && pageable) return enqueue(s, staged_copy_op(dst, src, count), kMemcpyNode);
  if (kind == kDeviceToHost && pageable) {
    // To pageable memory the call is synchronous: the stream's earlier work, then the copy.
    if (blocking(s)) run_blocking();
    run(s);
    std::memmove(dst, src, count);
    return sync_result();
  }
  return enqueue(s, copy_op(dst, src, count), kMemcpyNode);
}

XCIT_EMU_API cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  if (!is_device(ptr, count)) return cudaErrorInvalidValue;
  return enqueue(s, [ptr, value, count] { std::memset(ptr, value, count); }, kMemsetNode);
}

// ---- streams and graphs ------------------------------------------------------------------

XCIT_EMU_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  Guard g(rt().lock);
  if (stream == nullptr || (flags & ~kNonBlocking) != 0) return cudaErrorInvalidValue;
  rt().streams.push_back(std::make_unique<Stream>());
  rt().streams.back()->flags = flags;
  *stream = reinterpret_cast<cudaStream_t>(rt().streams.back().get());
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr || s == &rt().legacy) return cudaErrorInvalidResourceHandle;
  if (s->capture != nullptr) return cudaErrorStreamCaptureUnsupported;
  run(s);  // queued work completes, as it does after cudaStreamDestroy on a device
  auto& all = rt().streams;
  all.erase(std::find_if(all.begin(), all.end(), [s](const auto& p) { return p.get() == s; }));
  return sync_result();
}

XCIT_EMU_API cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  if (s->capture != nullptr) {
    s->capture_invalidated = true;
    return cudaErrorStreamCaptureUnsupported;
  }
  if (unsafe_during_capture()) return cudaErrorStreamCaptureImplicit;
  if (s == &rt().legacy) {
    run_blocking();
  } else {
    run(s);
  }
  return sync_result();
}

XCIT_EMU_API cudaError_t cudaStreamBeginCapture(cudaStream_t stream, int mode) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  if (s == &rt().legacy) return cudaErrorStreamCaptureUnsupported;  // the legacy stream cannot be captured
  if (s->capture != nullptr || mode < 0 || mode > kCaptureRelaxed) return cudaErrorInvalidValue;
  s->capture = new Graph();
  s->capture_mode = mode;
  s->capture_thread = std::this_thread::get_id();
  s->capture_invalidated = false;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaStreamEndCapture(cudaStream_t stream, void** graph) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr || graph == nullptr) return cudaErrorInvalidValue;
  if (s->capture == nullptr) return cudaErrorInvalidValue;
  if (s->capture_thread != std::this_thread::get_id() && s->capture_mode != kCaptureRelaxed) {
    return cudaErrorStreamCaptureWrongThread;
  }
  Graph* captured = s->capture;
  s->capture = nullptr;
  if (s->capture_invalidated) {
    delete captured;
    *graph = nullptr;
    return cudaErrorStreamCaptureInvalidated;
  }
  *graph = captured;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGraphInstantiate(void** exec, void* graph, unsigned long long flags) {
  Guard g(rt().lock);
  if (exec == nullptr || graph == nullptr || flags != 0) return cudaErrorInvalidValue;
  *exec = new Graph(*static_cast<Graph*>(graph));
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGraphLaunch(void* exec, cudaStream_t stream) {
  Guard g(rt().lock);
  Stream* s = find(stream);
  if (s == nullptr || exec == nullptr) return cudaErrorInvalidResourceHandle;
  for (const Node& node : static_cast<Graph*>(exec)->nodes) {
    const cudaError_t err = enqueue(s, node.run, node.kind);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGraphGetNodes(void* graph, void** nodes, size_t* count) {
  Guard g(rt().lock);
  if (graph == nullptr || count == nullptr) return cudaErrorInvalidValue;
  auto& all = static_cast<Graph*>(graph)->nodes;
  if (nodes == nullptr) {
    *count = all.size();
    return cudaSuccess;
  }
  const size_t n = std::min(*count, all.size());
  for (size_t i = 0; i < n; ++i) nodes[i] = &all[i];
  for (size_t i = n; i < *count; ++i) nodes[i] = nullptr;
  *count = n;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGraphNodeGetType(void* node, int* type) {
  Guard g(rt().lock);
  if (node == nullptr || type == nullptr) return cudaErrorInvalidValue;
  *type = static_cast<Node*>(node)->kind;
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGraphExecDestroy(void* exec) {
  Guard g(rt().lock);
  delete static_cast<Graph*>(exec);
  return cudaSuccess;
}

XCIT_EMU_API cudaError_t cudaGraphDestroy(void* graph) {
  Guard g(rt().lock);
  delete static_cast<Graph*>(graph);
  return cudaSuccess;
}

// ---- hooks for the cuBLASLt stand-in and the emulator's own statistics -------------------

namespace xcit_emu_runtime {

std::recursive_mutex& lock() { return rt().lock; }

cudaError_t enqueue_kernel(cudaStream_t stream, std::function<void()> op) {
  Stream* s = find(stream);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  return enqueue(s, std::move(op), kKernelNode);
}

bool device_range(const void* p, size_t bytes) { return is_device(p, bytes); }

}  // namespace xcit_emu_runtime

// Kernels the emulated device has run, and device bytes allocated now (tests: launches per
// forward, no leaks). Not part of cudart; exported for the Java tests of the emulated device.
XCIT_EMU_API uint64_t xcit_emu_launches_executed(void) {
  Guard g(rt().lock);
  return rt().executed_launches;
}

XCIT_EMU_API uint64_t xcit_emu_device_bytes(void) {
  Guard g(rt().lock);
  return rt().device_bytes;
}
