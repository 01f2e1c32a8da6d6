// cuBLASLt on the emulated device: the entry points xcit4j binds
// (bindings/include/cublasLt_subset.h), computing on the host what cublasLtMatmul
// computes, with the enum values of NVIDIA's cublasLt.h (nvidia_cublas 13.1 wheel) and the
// contract its documentation states, enforced instead of assumed:
// - cublasLtMatmulAlgoGetHeuristic chooses for the alignment it is told: the
//   CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_{A,B,C,D}_BYTES preferences (default 256) and the
//   bias pointer set on the descriptor at that time ("routines that don't dereference
//   this pointer, like cublasLtMatmulAlgoGetHeuristic(), depend on its value to determine
//   expected pointer alignment"; NULL counts as fully aligned). A GPU algorithm chosen for
//   more alignment than the pointers have may read wrong data; here cublasLtMatmul
//   refuses such a call with CUBLAS_STATUS_INVALID_VALUE and says which pointer.
// - The types are checked against the combinations cublasLtMatmul documents for the
//   compute types used (32F: A/B/C/D all 32F, 16F or 16BF with fp32 scale; 32F_FAST_TF32:
//   all 32F), and the layouts against the operation's shapes.
// - The product runs on its stream's turn (or is recorded in a capture), reading the
//   descriptor's bias pointer as it was at the call, like a captured kernel's parameters.
// Accumulation is fp32 in k order; TF32 rounds A and B to 10 mantissa bits first.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "cuda/emu/half_emu.h"
#include "cuda/emu/runtime_emu.h"

#define XCIT_EMU_API extern "C" __attribute__((visibility("default")))

namespace {

// cublas_api.h / library_types.h / cublasLt.h values.
enum Status { kSuccess = 0, kNotInitialized = 1, kAllocFailed = 3, kInvalidValue = 7, kExecutionFailed = 13, kNotSupported = 15 };
enum DataType { kR32F = 0, kR16F = 2, kR16BF = 14 };
enum Compute { kCompute32F = 68, kCompute32FFastTF32 = 77 };
enum DescAttr { kComputeType = 0, kScaleType = 1, kTransA = 3, kTransB = 4, kEpilogue = 7, kBiasPointer = 8,
                kBiasBatchStride = 10, kBiasDataType = 26 };
enum Epilogue { kEpilogueDefault = 1, kEpilogueBias = 4, kEpilogueGelu = 32, kEpilogueGeluBias = 36 };
enum LayoutAttr { kBatchCount = 5, kStridedBatchOffset = 6 };
enum PrefAttr { kMaxWorkspace = 1, kMinAlignA = 5, kMinAlignB = 6, kMinAlignC = 7, kMinAlignD = 8 };
constexpr uint64_t kAlgoMagic = 0x78636974656d75ull;  // "xcitemu"
constexpr uint32_t kDefaultAlignment = 256;

struct Handle {
  int magic = 1;
};
struct Desc {
  int compute, scale;
  int32_t transa = 0, transb = 0;
  uint32_t epilogue = kEpilogueDefault;
  const void* bias = nullptr;
  int64_t bias_batch_stride = 0;
  int32_t bias_type = -1;
};
struct Layout {
  int type;
  uint64_t rows, cols;
  int64_t ld;
  int32_t batch = 1;
  int64_t stride = 0;
};
struct Pref {
  uint64_t workspace = 0;
  uint32_t align[4] = {kDefaultAlignment, kDefaultAlignment, kDefaultAlignment, kDefaultAlignment};
};
// cublasLtMatmulAlgo_t's 64 bytes: what this "algorithm" was chosen for.
struct Algo {
  uint64_t magic;
  uint64_t align[5];  // A, B, C, D, bias
  uint64_t unused[2];
};
static_assert(sizeof(Algo) == 64, "cublasLtMatmulAlgo_t is uint64_t data[8]");
struct HeuristicResult {
  Algo algo;
  size_t workspace;
  int state;
  float waves;
  int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t");

uint64_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (a == 0) return kDefaultAlignment;
  uint64_t align = 1;
  while (align < kDefaultAlignment && (a & align) == 0) align <<= 1;
  return align;
}

size_t type_bytes(int type) { return type == kR32F ? 4 : 2; }
bool known_type(int type) { return type == kR32F || type == kR16F || type == kR16BF; }

float load(int type, const void* base, int64_t index) {
  switch (type) {
    case kR32F: return static_cast<const float*>(base)[index];
    case kR16F: return xcit_emu::half_to_float(static_cast<const xcit_emu::half*>(base)[index]);
    default: return xcit_emu::bf16_to_float(static_cast<const xcit_emu::bfloat16*>(base)[index]);
  }
}

void store(int type, void* base, int64_t index, float v) {
  switch (type) {
    case kR32F: static_cast<float*>(base)[index] = v; break;
    case kR16F: static_cast<xcit_emu::half*>(base)[index] = xcit_emu::float_to_half(v); break;
    default: static_cast<xcit_emu::bfloat16*>(base)[index] = xcit_emu::float_to_bf16(v); break;
  }
}

// TF32: 10 mantissa bits, round to nearest (ties away from zero, as the tensor cores' cvt.rna).
float to_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// cuBLASLt's GELU epilogue: the tanh approximation (up to ~4.7e-4 from the erf form).
float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

int fail(int status, const std::string& why) {
  std::fprintf(stderr, "cuBLASLt (emulated device): %s\n", why.c_str());
  return status;
}

// The heuristic's and the call's shared validation: types, transposes and shapes.
int check_operation(const Desc* d, const Layout* a, const Layout* b, const Layout* c, const Layout* dl) {
  if (d == nullptr || a == nullptr || b == nullptr || c == nullptr || dl == nullptr) return fail(kInvalidValue, "NULL descriptor");
  if (d->scale != kR32F) return fail(kNotSupported, "scale type other than CUDA_R_32F");
  if (d->compute == kCompute32FFastTF32) {
    if (a->type != kR32F || b->type != kR32F || c->type != kR32F || dl->type != kR32F) {
      return fail(kNotSupported, "CUBLAS_COMPUTE_32F_FAST_TF32 needs CUDA_R_32F A/B/C/D");
    }
  } else if (d->compute != kCompute32F) {
    return fail(kNotSupported, "compute type " + std::to_string(d->compute) + " (emulated: 32F, 32F_FAST_TF32)");
  }
  if (a->type != b->type || c->type != dl->type || a->type != c->type) {
    return fail(kNotSupported, "mixed A/B/C/D types (emulated: one type throughout)");
  }
  if (d->epilogue != kEpilogueDefault && d->epilogue != kEpilogueBias && d->epilogue != kEpilogueGelu &&
      d->epilogue != kEpilogueGeluBias) {
    return fail(kNotSupported, "epilogue " + std::to_string(d->epilogue) + " (emulated: DEFAULT, BIAS, GELU, GELU_BIAS)");
  }
  if (d->bias_type != -1 && d->bias_type != dl->type) return fail(kNotSupported, "a bias type other than D's");
  const uint64_t m = d->transa ? a->cols : a->rows, k = d->transa ? a->rows : a->cols;
  const uint64_t kb = d->transb ? b->cols : b->rows, n = d->transb ? b->rows : b->cols;
  if (k != kb || c->rows != m || c->cols != n || dl->rows != m || dl->cols != n) {
    return fail(kInvalidValue, "op(A) " + std::to_string(m) + "x" + std::to_string(k) + ", op(B) " + std::to_string(kb) +
                                   "x" + std::to_string(n) + ", D " + std::to_string(dl->rows) + "x" +
                                   std::to_string(dl->cols) + " do not compose");
  }
  for (const Layout* l : {a, b, c, dl}) {
    if (l->ld < static_cast<int64_t>(l->rows)) return fail(kInvalidValue, "a leading dimension below the row count");
  }
  if (a->batch != 1 || b->batch != 1 || c->batch != 1 || dl->batch != 1) {
    return fail(kNotSupported, "batched layouts (emulated: batch 1)");
  }
  return kSuccess;
}

}  // namespace

XCIT_EMU_API size_t cublasLtGetVersion(void) { return 130101; }

XCIT_EMU_API const char* cublasLtGetStatusString(int status) {
  switch (status) {
    case kSuccess: return "CUBLAS_STATUS_SUCCESS";
    case kNotInitialized: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case kAllocFailed: return "CUBLAS_STATUS_ALLOC_FAILED";
    case kInvalidValue: return "CUBLAS_STATUS_INVALID_VALUE";
    case kExecutionFailed: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case kNotSupported: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

XCIT_EMU_API int cublasLtCreate(void** handle) {
  if (handle == nullptr) return kInvalidValue;
  *handle = new (std::nothrow) Handle();
  return *handle != nullptr ? kSuccess : kAllocFailed;
}

XCIT_EMU_API int cublasLtDestroy(void* handle) {
  delete static_cast<Handle*>(handle);
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatmulDescCreate(void** desc, int compute, int scale) {
  if (desc == nullptr) return kInvalidValue;
  *desc = new Desc{compute, scale};
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatmulDescDestroy(void* desc) {
  delete static_cast<Desc*>(desc);
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatmulDescSetAttribute(void* desc, int attr, const void* buf, size_t bytes) {
  auto* d = static_cast<Desc*>(desc);
  if (d == nullptr || buf == nullptr) return kInvalidValue;
  auto put = [&](auto& field) {
    if (bytes != sizeof field) return fail(kInvalidValue, "attribute " + std::to_string(attr) + ": " + std::to_string(bytes) +
                                                              " bytes for a " + std::to_string(sizeof field) + "-byte value");
    std::memcpy(&field, buf, bytes);
    return static_cast<int>(kSuccess);
  };
  switch (attr) {
    case kComputeType: return put(d->compute);
    case kScaleType: return put(d->scale);
    case kTransA: return put(d->transa);
    case kTransB: return put(d->transb);
    case kEpilogue: return put(d->epilogue);
    case kBiasPointer: return put(d->bias);
    case kBiasBatchStride: return put(d->bias_batch_stride);
    case kBiasDataType: return put(d->bias_type);
    default: return fail(kInvalidValue, "matmul descriptor attribute " + std::to_string(attr) + " (not emulated)");
  }
}

XCIT_EMU_API int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  if (layout == nullptr) return kInvalidValue;
  if (!known_type(type)) return fail(kNotSupported, "data type " + std::to_string(type));
  *layout = new Layout{type, rows, cols, ld};
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatrixLayoutDestroy(void* layout) {
  delete static_cast<Layout*>(layout);
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatrixLayoutSetAttribute(void* layout, int attr, const void* buf, size_t bytes) {
  auto* l = static_cast<Layout*>(layout);
  if (l == nullptr || buf == nullptr) return kInvalidValue;
  if (attr == kBatchCount && bytes == sizeof l->batch) {
    std::memcpy(&l->batch, buf, bytes);
    return kSuccess;
  }
  if (attr == kStridedBatchOffset && bytes == sizeof l->stride) {
    std::memcpy(&l->stride, buf, bytes);
    return kSuccess;
  }
  return fail(kInvalidValue, "matrix layout attribute " + std::to_string(attr) + " with " + std::to_string(bytes) + " bytes");
}

XCIT_EMU_API int cublasLtMatmulPreferenceCreate(void** pref) {
  if (pref == nullptr) return kInvalidValue;
  *pref = new Pref();
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatmulPreferenceDestroy(void* pref) {
  delete static_cast<Pref*>(pref);
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatmulPreferenceSetAttribute(void* pref, int attr, const void* buf, size_t bytes) {
  auto* p = static_cast<Pref*>(pref);
  if (p == nullptr || buf == nullptr) return kInvalidValue;
  if (attr == kMaxWorkspace && bytes == sizeof p->workspace) {
    std::memcpy(&p->workspace, buf, bytes);
    return kSuccess;
  }
  if (attr >= kMinAlignA && attr <= kMinAlignD && bytes == sizeof(uint32_t)) {
    std::memcpy(&p->align[attr - kMinAlignA], buf, bytes);
    return kSuccess;
  }
  return fail(kInvalidValue, "preference attribute " + std::to_string(attr) + " with " + std::to_string(bytes) + " bytes");
}

XCIT_EMU_API int cublasLtMatmulAlgoGetHeuristic(void* handle, void* desc, void* a, void* b, void* c, void* d, void* pref,
                                                int requested, void* results, int* returned) {
  if (handle == nullptr || pref == nullptr || results == nullptr || returned == nullptr || requested < 1) return kInvalidValue;
  const int st = check_operation(static_cast<Desc*>(desc), static_cast<Layout*>(a), static_cast<Layout*>(b),
                                 static_cast<Layout*>(c), static_cast<Layout*>(d));
  if (st != kSuccess) return st;
  const auto* p = static_cast<Pref*>(pref);
  auto* r = static_cast<HeuristicResult*>(results);
  std::memset(r, 0, sizeof *r);
  r->algo.magic = kAlgoMagic;
  for (int i = 0; i < 4; ++i) r->algo.align[i] = p->align[i];
  r->algo.align[4] = alignment_of(static_cast<Desc*>(desc)->bias);
  r->state = kSuccess;
  r->waves = 1.0f;
  *returned = 1;
  return kSuccess;
}

XCIT_EMU_API int cublasLtMatmul(void* handle, void* desc, const void* alpha, const void* a, void* adesc, const void* b,
                                void* bdesc, const void* beta, const void* c, void* cdesc, void* d, void* ddesc,
                                const void* algo, void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> g(xcit_emu_runtime::lock());
  (void)workspace;
  (void)workspace_bytes;
  const auto* dd = static_cast<Desc*>(desc);
  const auto *la = static_cast<Layout*>(adesc), *lb = static_cast<Layout*>(bdesc), *lc = static_cast<Layout*>(cdesc),
             *ld = static_cast<Layout*>(ddesc);
  if (handle == nullptr || alpha == nullptr || beta == nullptr || algo == nullptr) return kInvalidValue;
  const int st = check_operation(dd, la, lb, lc, ld);
  if (st != kSuccess) return st;
  const auto* chosen = static_cast<const Algo*>(algo);
  if (chosen->magic != kAlgoMagic) return fail(kInvalidValue, "an algorithm that cublasLtMatmulAlgoGetHeuristic did not return");
  const char* names[5] = {"A", "B", "C", "D", "bias"};
  const bool has_bias = (dd->epilogue & kEpilogueBias) != 0;
  const void* pointers[5] = {a, b, c, d, has_bias ? dd->bias : nullptr};
  for (int i = 0; i < 5; ++i) {
    if (pointers[i] == nullptr) continue;
    if (alignment_of(pointers[i]) < chosen->align[i]) {
      return fail(kInvalidValue, std::string("the ") + names[i] + " pointer is " + std::to_string(alignment_of(pointers[i])) +
                                     "-byte aligned, but the algorithm was chosen for " + std::to_string(chosen->align[i]) +
                                     " bytes (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES, or the bias pointer set when the "
                                     "heuristic ran): on a GPU such a call may compute wrong results");
    }
  }
  const uint64_t m = ld->rows, n = ld->cols, k = dd->transa ? la->rows : la->cols;
  const Layout A = *la, B = *lb, C = *lc, D = *ld;
  for (const auto& [ptr, l] : {std::pair<const void*, const Layout*>{a, &A}, {b, &B}, {c, &C}, {d, &D}}) {
    const size_t bytes = (static_cast<size_t>(l->ld) * (l->cols - 1) + l->rows) * type_bytes(l->type);
    if (l->rows > 0 && l->cols > 0 && !xcit_emu_runtime::device_range(ptr, bytes)) {
      return fail(kInvalidValue, "a matrix that is not inside one device allocation");
    }
  }
  const bool transa = dd->transa != 0, transb = dd->transb != 0, tf32 = dd->compute == kCompute32FFastTF32;
  const void* bias = has_bias ? dd->bias : nullptr;
  const bool gelu = (dd->epilogue & kEpilogueGelu) != 0;
  float alpha_v, beta_v;
  std::memcpy(&alpha_v, alpha, 4);
  std::memcpy(&beta_v, beta, 4);
  const cudaError_t err = xcit_emu_runtime::enqueue_kernel(stream, [=] {
    for (uint64_t j = 0; j < n; ++j) {
      for (uint64_t i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (uint64_t p = 0; p < k; ++p) {
          float x = load(A.type, a, transa ? static_cast<int64_t>(i) * A.ld + p : static_cast<int64_t>(p) * A.ld + i);
          float y = load(B.type, b, transb ? static_cast<int64_t>(p) * B.ld + j : static_cast<int64_t>(j) * B.ld + p);
          if (tf32) {
            x = to_tf32(x);
            y = to_tf32(y);
          }
          acc += x * y;
        }
        // cublasLt.h: D = epilogue(alpha * AB + beta * C), the bias added inside the epilogue.
        float v = alpha_v * acc;
        if (beta_v != 0.0f) v += beta_v * load(C.type, c, static_cast<int64_t>(j) * C.ld + i);
        if (bias != nullptr) v += load(D.type, bias, static_cast<int64_t>(i));
        if (gelu) v = gelu_tanh(v);
        store(D.type, d, static_cast<int64_t>(j) * D.ld + i, v);
      }
    }
  });
  return err == cudaSuccess ? static_cast<int>(kSuccess) : fail(kExecutionFailed, "the stream refused the product");
}
