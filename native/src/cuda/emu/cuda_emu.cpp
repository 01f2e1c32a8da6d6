// The block/thread emulator behind cuda_emu.h: one fiber per CUDA thread, cooperative
// barriers, blocks run one after another on the calling OS thread.
//
// Scheduling: the scheduler resumes every runnable fiber of the block in turn; a fiber
// runs until it arrives at a barrier (and is not the last to arrive) or returns. The last
// arrival bumps the barrier's generation, which makes every waiter runnable again. If no
// fiber is runnable and some have not finished, some threads wait at a barrier that the
// others will never reach: a real GPU would hang or misbehave, so the launch fails.
#include "cuda/emu/cuda_emu.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

// Switching fibers is the emulator's hot path (two switches per barrier arrival per
// thread). swapcontext saves the signal mask with a system call each time (~1.5 us); on
// x86-64 a switch of the callee-saved registers and the stack pointer does the same job
// in a few ns. Other architectures use ucontext throughout.
#if defined(__x86_64__)
extern "C" void xcit_emu_switch(void** save_sp, void* load_sp);
asm(R"(
.text
.globl xcit_emu_switch
.hidden xcit_emu_switch
.type xcit_emu_switch,@function
xcit_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size xcit_emu_switch, .-xcit_emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");

struct Context {
  void* sp = nullptr;
};
// A fresh stack whose first switch "returns" into entry with the ABI's alignment
// (rsp = 8 mod 16 at function entry); entry must never return.
inline void context_init(Context& c, unsigned char* stack, size_t bytes, void (*entry)()) {
  uintptr_t top = reinterpret_cast<uintptr_t>(stack + bytes) & ~static_cast<uintptr_t>(15);
  void** frame = reinterpret_cast<void**>(top - 16);
  frame[0] = reinterpret_cast<void*>(entry);  // popped by ret
  frame[1] = nullptr;                          // entry's (never used) return address
  for (int i = 1; i <= 6; ++i) frame[-i] = nullptr;  // rbp, rbx, r12-r15
  c.sp = frame - 6;
}
inline void context_switch(Context& from, Context& to) { xcit_emu_switch(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t uc;
};
inline void context_init(Context& c, unsigned char* stack, size_t bytes, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
inline void context_switch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

namespace xcit_emu {
namespace {

// Kernels keep a few small arrays in registers (locals); 64 KiB per thread is far more
// than any xcit kernel's frame, and 1024 such stacks (a full block) are 64 MiB of
// mostly untouched virtual memory.
constexpr size_t kStackBytes = 64 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;

struct Barrier {
  unsigned arrived = 0;
  unsigned generation = 0;
  unsigned expected = 0;
};

struct Fiber {
  Context context;
  uint3 tid;
  int warp = 0;
  int lane = 0;
  bool done = false;
  Barrier* waiting_on = nullptr;
  unsigned waiting_generation = 0;
};

struct Warp {
  Barrier barrier;
  unsigned lanes = 0;          // threads in this warp (the last one may be partial)
  uint64_t slots[kWarpSize];  // shuffle payloads, one per lane
  std::vector<unsigned char> gathered;  // warp_all_gather's payloads, lane after lane
};

struct State {
  dim3 grid, block;
  uint3 block_index{0, 0, 0};
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  std::vector<std::vector<unsigned char>> stacks;
  std::vector<unsigned char> dynamic_smem;
  Barrier block_barrier;
  Context scheduler;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
  bool failed = false;
  std::string failure;
  cudaError_t last_error = cudaSuccess;
  uint64_t launches = 0;
  uint64_t arrivals = 0;
  dim3 grid_limits{0x7fffffffu, 65535, 65535};
};

State& state() {
  static State s;
  return s;
}

Fiber& me() {
  State& s = state();
  if (s.current == nullptr) {
    std::fprintf(stderr, "xcit_emu: a CUDA built-in was used outside an emulated kernel\n");
    std::abort();  // test-only code: a misuse of the emulator itself, not of a kernel
  }
  return *s.current;
}

void yield_to_scheduler() {
  State& s = state();
  context_switch(s.current->context, s.scheduler);
}

void arrive(Barrier& b) {
  State& s = state();
  ++s.arrivals;
  if (++b.arrived == b.expected) {
    b.arrived = 0;
    ++b.generation;  // releases every waiter
    return;
  }
  Fiber& f = me();
  f.waiting_on = &b;
  f.waiting_generation = b.generation;
  yield_to_scheduler();
}

// Every fiber starts here and ends by switching to the scheduler for good.
void fiber_main() {
  State& s = state();
  (*s.body)();
  s.current->done = true;
  context_switch(s.current->context, s.scheduler);
}

void record_failure(const std::string& what) {
  State& s = state();
  if (!s.failed) {
    s.failed = true;
    s.failure = what;
  }
}

// Runs every fiber of the current block to completion; false on a failure.
bool run_block() {
  State& s = state();
  for (;;) {
    bool progressed = false;
    size_t unfinished = 0;
    for (Fiber& f : s.fibers) {
      if (f.done) continue;
      ++unfinished;
      if (f.waiting_on != nullptr && f.waiting_on->generation == f.waiting_generation) continue;
      f.waiting_on = nullptr;
      s.current = &f;
      context_switch(s.scheduler, f.context);
      s.current = nullptr;
      progressed = true;
      if (s.failed) return false;
    }
    if (unfinished == 0) return true;
    if (!progressed) {
      size_t waiting = 0, finished = 0;
      for (const Fiber& f : s.fibers) (f.done ? finished : waiting) += 1;
      record_failure("barrier deadlock in block (" + std::to_string(s.block_index.x) + "," +
                     std::to_string(s.block_index.y) + "," + std::to_string(s.block_index.z) +
                     "): " + std::to_string(waiting) + " thread(s) wait at a barrier that " +
                     std::to_string(finished) + " finished thread(s) never reached");
      return false;
    }
  }
}

cudaError_t finish(cudaError_t err) {
  State& s = state();
  if (err != cudaSuccess) {
    s.last_error = err;
    std::fprintf(stderr, "xcit_emu: launch failed: %s\n", s.failure.c_str());
  }
  return err;
}

}  // namespace

const uint3& thread_idx() { return me().tid; }
const uint3& block_idx() { return state().block_index; }
const dim3& block_dim() { return state().block; }
const dim3& grid_dim() { return state().grid; }
int lane_id() { return me().lane; }
void* dynamic_shared() { return state().dynamic_smem.data(); }
const char* last_failure() { return state().failure.c_str(); }
uint64_t launches() { return state().launches; }
uint64_t barrier_arrivals() { return state().arrivals; }

void syncthreads() { arrive(state().block_barrier); }

void syncwarp(unsigned mask) {
  Fiber& f = me();
  Warp& w = state().warps[f.warp];
  const unsigned full = w.lanes == 32 ? 0xffffffffu : (1u << w.lanes) - 1u;
  if (mask != full) fail("__syncwarp with a mask that is not the whole warp");
  arrive(w.barrier);
}

void warp_exchange(const void* mine, void* out, size_t bytes, int src, unsigned mask) {
  Fiber& f = me();
  Warp& w = state().warps[f.warp];
  const unsigned full = w.lanes == 32 ? 0xffffffffu : (1u << w.lanes) - 1u;
  if (mask != full) {
    fail(w.lanes == 32 ? "warp shuffle with a partial mask (xcit kernels shuffle whole warps)"
                       : "warp shuffle in a partial warp with a mask naming absent lanes");
  }
  std::memcpy(&w.slots[f.lane], mine, bytes);
  arrive(w.barrier);  // every lane has published
  const int from = src >= 0 && static_cast<unsigned>(src) < w.lanes ? src : f.lane;
  std::memcpy(out, &w.slots[from], bytes);
  arrive(w.barrier);  // every lane has read before anyone publishes again
}

void warp_all_gather(const void* mine, void* all, size_t bytes, unsigned mask) {
  Fiber& f = me();
  Warp& w = state().warps[f.warp];
  if (w.lanes != kWarpSize || mask != 0xffffffffu) {
    fail("a warp-collective matrix operation in a partial warp or with a partial mask");
  }
  // Every lane asks for the same size (the call is warp-uniform), so whichever lane comes
  // first sizes the buffer before anyone writes to it.
  if (w.gathered.size() < bytes * kWarpSize) w.gathered.resize(bytes * kWarpSize);
  std::memcpy(w.gathered.data() + static_cast<size_t>(f.lane) * bytes, mine, bytes);
  arrive(w.barrier);  // every lane has published
  std::memcpy(all, w.gathered.data(), bytes * kWarpSize);
  arrive(w.barrier);  // every lane has read before anyone publishes again
}

void require_aligned(const void* p, size_t bytes, const char* what) {
  if ((reinterpret_cast<uintptr_t>(p) & (bytes - 1)) != 0) {
    char text[160];  // fail() copies it before this fiber is abandoned
    std::snprintf(text, sizeof text, "misaligned address: %s at %p is not %zu-byte aligned", what, p, bytes);
    fail(text);
  }
}

void fail(const char* what) {
  State& s = state();
  record_failure(what);
  if (s.current != nullptr) {
    s.current->done = true;
    context_switch(s.current->context, s.scheduler);  // never resumed: the launch is abandoned
  }
  std::fprintf(stderr, "xcit_emu: %s (outside a kernel)\n", what);
  std::abort();
}

dim3 grid_limits() { return state().grid_limits; }

bool set_grid_limits(dim3 limits) {
  if (limits.x == 0 || limits.y == 0 || limits.z == 0 || limits.x > 0x7fffffffu ||
      limits.y > 65535 || limits.z > 65535) {
    return false;
  }
  state().grid_limits = limits;
  return true;
}

cudaError_t check_launch(dim3 grid, dim3 block, size_t dynamic_smem) {
  State& s = state();
  s.failed = false;
  s.failure.clear();
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > 64 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || grid.x > s.grid_limits.x || grid.y > s.grid_limits.y ||
      grid.z > s.grid_limits.z) {
    record_failure("invalid launch configuration: grid (" + std::to_string(grid.x) + "," +
                   std::to_string(grid.y) + "," + std::to_string(grid.z) + ") block (" +
                   std::to_string(block.x) + "," + std::to_string(block.y) + "," +
                   std::to_string(block.z) + ")");
    return finish(cudaErrorInvalidConfiguration);
  }
  if (dynamic_smem > kMaxDynamicShared) {
    record_failure("dynamic shared memory " + std::to_string(dynamic_smem) + " bytes > " +
                   std::to_string(kMaxDynamicShared));
    return finish(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

namespace {
LaunchHook g_launch_hook = nullptr;
}  // namespace

void set_launch_hook(LaunchHook hook) { g_launch_hook = hook; }

cudaError_t launch_on(cudaStream_t stream, dim3 grid, dim3 block, size_t dynamic_smem,
                      std::function<void()> body) {
  if (g_launch_hook != nullptr) return g_launch_hook(stream, grid, block, dynamic_smem, std::move(body));
  return launch(grid, block, dynamic_smem, body);
}

cudaError_t launch(dim3 grid, dim3 block, size_t dynamic_smem, const std::function<void()>& body) {
  State& s = state();
  ++s.launches;
  const cudaError_t config = check_launch(grid, block, dynamic_smem);
  if (config != cudaSuccess) return config;
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  s.grid = grid;
  s.block = block;
  s.body = &body;
  s.fibers.assign(threads, Fiber{});
  while (s.stacks.size() < threads) s.stacks.emplace_back(kStackBytes);
  const unsigned warps = static_cast<unsigned>((threads + kWarpSize - 1) / kWarpSize);
  s.warps.assign(warps, Warp{});
  for (unsigned w = 0; w < warps; ++w) {
    const uint64_t left = threads - static_cast<uint64_t>(w) * kWarpSize;
    s.warps[w].lanes = static_cast<unsigned>(left < kWarpSize ? left : kWarpSize);
    s.warps[w].barrier.expected = s.warps[w].lanes;
  }
  s.block_barrier = Barrier{};
  s.block_barrier.expected = static_cast<unsigned>(threads);

  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        s.block_index = uint3{bx, by, bz};
        // Fresh shared memory full of NaN bytes: a kernel that reads what it never wrote
        // sees garbage, as it would on a device, instead of the last block's values.
        s.dynamic_smem.assign(dynamic_smem > 0 ? dynamic_smem : 1, 0xFF);
        for (uint64_t t = 0; t < threads; ++t) {
          Fiber& f = s.fibers[t];
          f = Fiber{};
          f.tid = uint3{static_cast<unsigned>(t % block.x),
                        static_cast<unsigned>((t / block.x) % block.y),
                        static_cast<unsigned>(t / (static_cast<uint64_t>(block.x) * block.y))};
          f.warp = static_cast<int>(t / kWarpSize);
          f.lane = static_cast<int>(t % kWarpSize);
          context_init(f.context, s.stacks[t].data(), kStackBytes, fiber_main);
        }
        for (Warp& w : s.warps) w.barrier.arrived = 0;
        s.block_barrier.arrived = 0;
        if (!run_block()) return finish(cudaErrorLaunchFailure);
      }
    }
  }
  s.body = nullptr;
  return cudaSuccess;
}

}  // namespace xcit_emu

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration:
    case cudaErrorLaunchFailure: return xcit_emu::last_failure();  // the emulator's own account
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
    default: return cudaGetErrorName(err);
  }
}

cudaError_t cudaGetLastError(void) {
  xcit_emu::State& s = xcit_emu::state();
  const cudaError_t err = s.last_error;
  s.last_error = cudaSuccess;
  return err;
}
