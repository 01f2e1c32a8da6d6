// Second half of the covariance-folded XCA (xcit_cuda.h), for fp32/fp16/bf16 weights.
// With S = sum_n u_n u_n^T and m = sum_n u_n (xca_covariance.cu), for head h with rows
// W_q,i / W_k,j of the qkv weight and biases b_q, b_k:
//   G[i, j] = W_q,i S W_k,j^T + (W_q,i . m) b_k,j + b_q,i (W_k,j . m) + N b_q,i b_k,j
//   |q_i|^2 = W_q,i S W_q,i^T + 2 b_q,i (W_q,i . m) + N b_q,i^2      (|k_j|^2 alike)
// which is what summing q_n k_n^T over tokens gives, without computing q or k.
//
//   fold_attention_kernel  blocks (heads, batch): G and the norms, 16 columns of S at a
//                          time (X = W_q S and Y = W_k S staged in shared memory), then
//                          the softmax shared with xca.cu -> attention (fp32).
//   fold_project_kernel    blocks (C/8, batch): fold = W_p blockdiag(A_h) and
//                          fold_bias = fold b_v + b_p, a warp per row.
// Cost per image ~C^3 + C^2 d, independent of N: worth it once N exceeds about C.
// Both logical grids fold into the launch limits (grid.h); offsets are int64.
#include "cuda/cuda_check.h"
#include "cuda/grid.h"
#include "cuda/xca_softmax.h"
#include "xcit/xcit_cuda.h"

namespace {

constexpr int kMaxHeadDim = xcit::kXcaMaxHeadDim;
constexpr int kThreads = 256;
// 16 columns per step keep the four staging tiles + G at 35 KiB of static shared memory.
constexpr int kColumns = 16;
constexpr int kRowsPerBlock = kThreads / xcit::kWarp;  // fold_project: a warp per row

template <class T, bool Folded>
__global__ void __launch_bounds__(kThreads)
    fold_attention_kernel(float* attention, const float* cov, const float* sum,
                          const T* qkv_weight, const T* qkv_bias, const T* temperature,
                          int64_t batch, int64_t tokens, int64_t c, int64_t heads, int d) {
  __shared__ float xc[kMaxHeadDim][kColumns + 1];  // (W_q S)[:, chunk]
  __shared__ float yc[kMaxHeadDim][kColumns + 1];  // (W_k S)[:, chunk]
  __shared__ float wq[kMaxHeadDim][kColumns + 1];  // W_q[:, chunk]
  __shared__ float wk[kMaxHeadDim][kColumns + 1];  // W_k[:, chunk]
  __shared__ float g[kMaxHeadDim][kMaxHeadDim + 1];
  __shared__ float norms[2 * kMaxHeadDim];
  __shared__ float wm[2 * kMaxHeadDim];  // W_q,i . m, then W_k,j . m
  // int only within the block (e < 2 * d * kColumns <= 2048, r, i, j < d <= 64); rows
  // and columns of C and every element offset are int64.
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  xcit::for_each_block<Folded>(heads, batch, 1, [&](int64_t head, int64_t b, int64_t) {
    const float* s = cov + b * c * c;
    const float* m = sum + b * c;
    const T* w_q = qkv_weight + head * d * c;
    const T* w_k = qkv_weight + (c + head * d) * c;

    float acc[4][4] = {};
    float norm = 0.0f;  // tid < d: |q_tid|^2 so far; d <= tid < 2d: |k_(tid-d)|^2
    for (int64_t c0 = 0; c0 < c; c0 += kColumns) {
      // X[r][cc] = sum_k W[r, k] S[k, c0 + cc]: consecutive threads take consecutive cc,
      // so each k reads a contiguous run of S's row k.
      for (int e = tid; e < 2 * d * kColumns; e += kThreads) {
        const int which = e / (d * kColumns), r = (e / kColumns) % d, cc = e % kColumns;
        const T* w = (which == 0 ? w_q : w_k) + static_cast<int64_t>(r) * c;
        float x = 0.0f, wv = 0.0f;
        if (c0 + cc < c) {
          for (int64_t k = 0; k < c; ++k) x = fmaf(xcit::to_float(w[k]), s[k * c + c0 + cc], x);
          wv = xcit::to_float(w[c0 + cc]);
        }
        (which == 0 ? xc : yc)[r][cc] = x;
        (which == 0 ? wq : wk)[r][cc] = wv;
      }
      __syncthreads();
      for (int cc = 0; cc < kColumns; ++cc) {
        for (int a = 0; a < 4; ++a) {
          const int i = ty + 16 * a;
          if (i >= d) break;
          for (int e = 0; e < 4; ++e) {
            const int j = tx + 16 * e;
            if (j < d) acc[a][e] = fmaf(xc[i][cc], wk[j][cc], acc[a][e]);
          }
        }
        if (tid < d) norm = fmaf(xc[tid][cc], wq[tid][cc], norm);
        else if (tid < 2 * d) norm = fmaf(yc[tid - d][cc], wk[tid - d][cc], norm);
      }
      __syncthreads();
    }

    // The bias terms: W . m per row, then the rank-one corrections.
    const T* bias_q = qkv_bias + head * d;
    const T* bias_k = qkv_bias + c + head * d;
    if (tid < 2 * d) {
      const T* w = tid < d ? w_q + static_cast<int64_t>(tid) * c : w_k + static_cast<int64_t>(tid - d) * c;
      float dot = 0.0f;
      for (int64_t k = 0; k < c; ++k) dot = fmaf(xcit::to_float(w[k]), m[k], dot);
      wm[tid] = dot;
    }
    __syncthreads();
    const float n = static_cast<float>(tokens);
    for (int a = 0; a < 4; ++a) {
      for (int e = 0; e < 4; ++e) {
        const int i = ty + 16 * a, j = tx + 16 * e;
        if (i >= d || j >= d) continue;
        const float bq = xcit::to_float(bias_q[i]), bk = xcit::to_float(bias_k[j]);
        g[i][j] = acc[a][e] + wm[i] * bk + bq * wm[d + j] + n * bq * bk;
      }
    }
    if (tid < 2 * d) {
      const float bias = xcit::to_float(tid < d ? bias_q[tid] : bias_k[tid - d]);
      // Rounding can leave a tiny negative value where the true norm is ~0.
      norms[tid] = sqrtf(fmaxf(norm + 2.0f * bias * wm[tid] + n * bias * bias, 0.0f));
    }
    __syncthreads();
    xcit::xca_softmax_rows(&g[0][0], kMaxHeadDim + 1, norms, d, xcit::to_float(temperature[head]));
    __syncthreads();
    float* out = attention + (b * heads + head) * d * d;
    for (int e = tid; e < d * d; e += kThreads) out[e] = g[e / d][e % d];
  });
}

template <class T, bool Folded>
__global__ void __launch_bounds__(kThreads)
    fold_project_kernel(T* fold, T* fold_bias, const float* attention, const T* qkv_bias,
                        const T* proj_weight, const T* proj_bias, int64_t batch, int64_t c,
                        int d) {
  const int warp = threadIdx.x / xcit::kWarp, lane = threadIdx.x % xcit::kWarp;
  xcit::for_each_block<Folded>(xcit::ceil_div(c, kRowsPerBlock), batch, 1,
                               [&](int64_t row_group, int64_t b, int64_t) {
    const int64_t r = row_group * kRowsPerBlock + warp;
    // Whole warps leave together (only for_each_block's barrier between logical blocks
    // follows, which they reach).
    if (r >= c) return;
    const T* wp = proj_weight + r * c;
    const float* a = attention + b * c * d;  // heads * d * d == c * d
    float fb = 0.0f;
    for (int64_t k = lane; k < c; k += xcit::kWarp) {
      const int64_t h = k / d, j = k % d;
      const float* ah = a + h * d * d;
      float v = 0.0f;
      for (int i = 0; i < d; ++i) v = fmaf(xcit::to_float(wp[h * d + i]), ah[i * d + j], v);
      fold[(b * c + r) * c + k] = xcit::from_float<T>(v);
      fb = fmaf(v, xcit::to_float(qkv_bias[2 * c + k]), fb);
    }
    fb = xcit::warp_sum(fb);
    if (lane == 0) fold_bias[b * c + r] = xcit::from_float<T>(fb + xcit::to_float(proj_bias[r]));
  });
}

template <class T, class S>
xcit_status fold_entry(const char* op, xcit_ctx* ctx, S* fold, S* fold_bias, float* attention,
                       const float* cov, const float* sum, const S* qkv_weight,
                       const S* qkv_bias, const S* temperature, const S* proj_weight,
                       const S* proj_bias, int64_t batch, int64_t tokens, int64_t channels,
                       int64_t heads) {
  xcit_status st;
  const void* required[] = {fold, fold_bias, attention, cov, sum, qkv_weight,
                            qkv_bias, temperature, proj_weight, proj_bias};
  const char* names[] = {"fold", "fold_bias", "attention", "cov", "sum", "qkv_weight",
                         "qkv_bias", "temperature", "proj_weight", "proj_bias"};
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK) return st;
  for (int i = 0; i < 10; ++i) {
    if ((st = xcit_check_ptr(ctx, op, names[i], required[i])) != XCIT_OK) return st;
  }
  if ((st = xcit_check_matrix(ctx, op, batch, tokens)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, op, batch * channels, channels)) != XCIT_OK) {
    return st;
  }
  if ((st = xcit_cuda_check_heads(ctx, op, channels, heads, kMaxHeadDim)) != XCIT_OK) return st;
  if (batch == 0) return XCIT_OK;
  const int d = static_cast<int>(channels / heads);
  const cudaStream_t stream = xcit_cuda_stream(ctx);
  const xcit::LaunchGrid att = xcit::launch_grid(heads, batch);
  cudaError_t err = xcit_launch(
      att.folded ? fold_attention_kernel<T, true> : fold_attention_kernel<T, false>, att.dims,
      dim3(kThreads), 0, stream, attention, cov, sum, reinterpret_cast<const T*>(qkv_weight),
      reinterpret_cast<const T*>(qkv_bias), reinterpret_cast<const T*>(temperature), batch,
      tokens, channels, heads, d);
  const xcit::LaunchGrid project =
      xcit::launch_grid(xcit::ceil_div(channels, kRowsPerBlock), batch);
  if (err == cudaSuccess) {
    err = xcit_launch(project.folded ? fold_project_kernel<T, true> : fold_project_kernel<T, false>,
                      project.dims, dim3(kThreads), 0, stream, reinterpret_cast<T*>(fold),
                      reinterpret_cast<T*>(fold_bias), static_cast<const float*>(attention),
                      reinterpret_cast<const T*>(qkv_bias),
                      reinterpret_cast<const T*>(proj_weight),
                      reinterpret_cast<const T*>(proj_bias), batch, channels, d);
  }
  return xcit_cuda_launched(ctx, op, err);
}

}  // namespace

xcit_status xcit_cuda_xca_fold_f32(xcit_ctx* ctx, float* fold, float* fold_bias, float* attention,
                                   const float* cov, const float* sum, const float* qkv_weight,
                                   const float* qkv_bias, const float* temperature,
                                   const float* proj_weight, const float* proj_bias,
                                   int64_t batch, int64_t tokens, int64_t channels,
                                   int64_t heads) {
  return fold_entry<float>("xcit_cuda_xca_fold_f32", ctx, fold, fold_bias, attention, cov, sum,
                           qkv_weight, qkv_bias, temperature, proj_weight, proj_bias, batch,
                           tokens, channels, heads);
}
xcit_status xcit_cuda_xca_fold_f16(xcit_ctx* ctx, uint16_t* fold, uint16_t* fold_bias,
                                   float* attention, const float* cov, const float* sum,
                                   const uint16_t* qkv_weight, const uint16_t* qkv_bias,
                                   const uint16_t* temperature, const uint16_t* proj_weight,
                                   const uint16_t* proj_bias, int64_t batch, int64_t tokens,
                                   int64_t channels, int64_t heads) {
  return fold_entry<xcit::f16>("xcit_cuda_xca_fold_f16", ctx, fold, fold_bias, attention, cov,
                               sum, qkv_weight, qkv_bias, temperature, proj_weight, proj_bias,
                               batch, tokens, channels, heads);
}
xcit_status xcit_cuda_xca_fold_bf16(xcit_ctx* ctx, uint16_t* fold, uint16_t* fold_bias,
                                    float* attention, const float* cov, const float* sum,
                                    const uint16_t* qkv_weight, const uint16_t* qkv_bias,
                                    const uint16_t* temperature, const uint16_t* proj_weight,
                                    const uint16_t* proj_bias, int64_t batch, int64_t tokens,
                                    int64_t channels, int64_t heads) {
  return fold_entry<xcit::bf16>("xcit_cuda_xca_fold_bf16", ctx, fold, fold_bias, attention, cov,
                                sum, qkv_weight, qkv_bias, temperature, proj_weight, proj_bias,
                                batch, tokens, channels, heads);
}
