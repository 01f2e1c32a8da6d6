// First half of the covariance-folded XCA (xcit_cuda.h), for fp32/fp16/bf16 inputs:
// cov = sum_n u_n u_n^T and sum = sum_n u_n over tokens, both fp32.
//
// One GEMM on gemm_tile.h computes both: U^T [U | 1] (C x (C+1)), whose last column is
// the token sum. Tokens are split into slices (z = image * splits + slice), each slice
// writing its own workspace slot; covariance_reduce_kernel then sums the slots in slice
// order, so the result is deterministic and no float atomics are involved.
// The split count depends only on N.
#include "cuda/cuda_check.h"
#include "cuda/elementwise.h"
#include "cuda/fast_divmod.h"
#include "cuda/gemm_tile.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int64_t kTokensPerSplit = 512;
constexpr int64_t kMaxSplits = 8;

inline int64_t splits_for(int64_t tokens) {
  const int64_t s = xcit::ceil_div(tokens, kTokensPerSplit);
  return s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s);
}

struct Slices {
  int64_t tokens, c, splits, per_split;
  xcit::FastDivmod by_splits;  // z -> (image, slice): per staged element, so no '/' (fast_divmod.h)
};

// A[i, k] = u[image, slice*per_split + k, i] (and B the same with column C = 1), zero
// past the last token.
template <class T>
struct TokenColumns {
  const T* u;
  Slices s;
  bool ones_column;
  __device__ float operator()(int64_t z, int64_t channel, int64_t k) const {
    uint32_t image, slice;
    s.by_splits.divmod(static_cast<uint32_t>(z), image, slice);
    const int64_t token = static_cast<int64_t>(slice) * s.per_split + k;
    if (token >= s.tokens) return 0.0f;
    if (ones_column && channel == s.c) return 1.0f;
    return xcit::to_float(u[(image * s.tokens + token) * s.c + channel]);
  }
};

struct SlotStore {
  float* workspace;
  int64_t slot_floats, width;
  __device__ void operator()(int64_t z, int64_t m, int64_t n, float acc) const {
    workspace[z * slot_floats + m * width + n] = acc;
  }
};

// cov[b, i, j] / sum[b, i] = sum over slices, in slice order, of slot[b, slice, i, j | C].
__global__ void covariance_reduce_kernel(float* cov, float* sum, const float* workspace,
                                         int64_t batch, int64_t c, int64_t splits) {
  const int64_t width = c + 1, slot = c * width, n = batch * slot;
  for (int64_t e = xcit::grid_start(); e < n; e += xcit::grid_stride()) {
    const int64_t b = e / slot, within = e % slot, i = within / width, j = within % width;
    float acc = 0.0f;
    for (int64_t s = 0; s < splits; ++s) acc += workspace[(b * splits + s) * slot + within];
    if (j < c) cov[(b * c + i) * c + j] = acc;
    else sum[b * c + i] = acc;
  }
}

xcit_status check_shape(xcit_ctx* ctx, const char* op, int64_t batch, int64_t tokens,
                        int64_t channels) {
  xcit_status st;
  if ((st = xcit_check_matrix(ctx, op, batch, tokens)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * tokens, channels)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * kMaxSplits * channels, channels + 1)) != XCIT_OK) {
    return st;
  }
  return XCIT_OK;
}

template <class T, class S>
xcit_status covariance_entry(const char* op, xcit_ctx* ctx, float* cov, float* sum,
                             void* workspace, const S* u, int64_t batch, int64_t tokens,
                             int64_t channels) {
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "cov", cov)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "sum", sum)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "workspace", workspace)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "u", u)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, tokens, channels)) != XCIT_OK) {
    return st;
  }
  if (batch == 0 || channels == 0) return XCIT_OK;
  const int64_t splits = splits_for(tokens);
  if (batch * splits >= xcit::kFastDivmodLimit) {
    return xcit_fail(ctx, XCIT_ERR_UNSUPPORTED, "%s: batch %lld: at most 2^31 / %lld images per call",
                     op, static_cast<long long>(batch), static_cast<long long>(splits));
  }
  const Slices s{tokens, channels, splits, xcit::ceil_div(tokens, splits), xcit::FastDivmod(splits)};
  const T* data = reinterpret_cast<const T*>(u);
  float* ws = static_cast<float*>(workspace);
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  // gemm_launch<T>: u's values, 0 and the ones column's 1 are all exact in T, so fp16/bf16
  // inputs take the tensor-core kernel (fp32 accumulation, as before).
  cudaError_t err = xcit::gemm_launch<T>(
      stream, TokenColumns<T>{data, s, false}, TokenColumns<T>{data, s, true},
      SlotStore{ws, channels * (channels + 1), channels + 1}, channels, channels + 1,
      s.per_split, batch * splits);
  if (err == cudaSuccess) {
    err = xcit_launch(covariance_reduce_kernel,
                      xcit::elementwise_grid(batch * channels * (channels + 1)),
                      dim3(xcit::kElementwiseThreads), 0, stream, cov, sum,
                      static_cast<const float*>(ws), batch, channels, splits);
  }
  return xcit_cuda_launched(ctx, op, err);
}

}  // namespace

xcit_status xcit_cuda_xca_covariance_workspace_size(xcit_ctx* ctx, int64_t* bytes, int64_t batch,
                                                    int64_t tokens, int64_t channels) {
  static const char* const op = "xcit_cuda_xca_covariance_workspace_size";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK ||
      (st = xcit_check_ptr(ctx, op, "bytes", bytes)) != XCIT_OK ||
      (st = check_shape(ctx, op, batch, tokens, channels)) != XCIT_OK) {
    return st;
  }
  *bytes = batch * splits_for(tokens) * channels * (channels + 1) *
           static_cast<int64_t>(sizeof(float));
  return XCIT_OK;
}

xcit_status xcit_cuda_xca_covariance_f32(xcit_ctx* ctx, float* cov, float* sum, void* workspace,
                                         const float* u, int64_t batch, int64_t tokens,
                                         int64_t channels) {
  return covariance_entry<float>("xcit_cuda_xca_covariance_f32", ctx, cov, sum, workspace, u,
                                 batch, tokens, channels);
}
xcit_status xcit_cuda_xca_covariance_f16(xcit_ctx* ctx, float* cov, float* sum, void* workspace,
                                         const uint16_t* u, int64_t batch, int64_t tokens,
                                         int64_t channels) {
  return covariance_entry<xcit::f16>("xcit_cuda_xca_covariance_f16", ctx, cov, sum, workspace, u,
                                     batch, tokens, channels);
}
xcit_status xcit_cuda_xca_covariance_bf16(xcit_ctx* ctx, float* cov, float* sum,
                                          void* workspace, const uint16_t* u, int64_t batch,
                                          int64_t tokens, int64_t channels) {
  return covariance_entry<xcit::bf16>("xcit_cuda_xca_covariance_bf16", ctx, cov, sum, workspace,
                                      u, batch, tokens, channels);
}
