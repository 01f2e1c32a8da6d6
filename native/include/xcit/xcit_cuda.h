/*
 * xcit_cuda.h - the C ABI of libxcit_cuda.so (built only where nvcc is found).
 * Mirrored by bindings/.../xcit/xcit_cuda_h.java. Same rules as xcit.h; contexts come
 * from xcit_ctx_create in libxcit.so (both libraries are built from one tree and
 * share the xcit_ctx layout, hence the separate ABI check below).
 *
 * Conventions for every op below:
 * - Tensors are dense, row-major, channel-last, in CUDA device memory of the current
 *   device, unless a comment says "host". Ops launch on the ctx's stream
 *   (xcit_cuda_set_stream) and are asynchronous: XCIT_OK means the work was enqueued.
 * - Each op comes in three storage types: _f32 (float*), _f16 (IEEE binary16) and _bf16
 *   (bfloat16), the 16-bit ones as uint16_t* bit patterns. Weights and activations of
 *   one call share the storage type; all arithmetic is fp32 and every reduction over
 *   tokens or channels accumulates in fp32. The math is Backend.java's (the Java
 *   reference) with one rounding to the storage type per output element.
 * - rows/sizes >= 0 (an empty tensor is a no-op); NULL ctx or required pointer, negative
 *   or overflowing sizes: XCIT_ERR_INVALID_ARGUMENT with the argument named in ctx; a
 *   head dimension above 64 (xca, xca_fold, class_attention): XCIT_ERR_UNSUPPORTED; a
 *   failed launch (also "no device"): XCIT_ERR_CUDA with the runtime's text. No other
 *   size limit: work larger than a device's launch grid folds into it, and offsets are
 *   64-bit, so whatever fits in device memory runs.
 * - No op allocates; scratch comes in as a "workspace" argument sized by the op's
 *   *_workspace_size query.
 */
#ifndef XCIT_XCIT_CUDA_H
#define XCIT_XCIT_CUDA_H

#include "xcit/xcit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Storage type codes for xcit_cuda_convert and xcit_cuda_convert_many. */
#define XCIT_CUDA_F32 0
#define XCIT_CUDA_F16 1
#define XCIT_CUDA_BF16 2

/* Flags of xcit_cuda_linear_*. */
#define XCIT_CUDA_LINEAR_GELU 1            /* exact GELU after the bias */
#define XCIT_CUDA_LINEAR_BATCHED_WEIGHTS 2 /* weight (batch, O, K), bias (batch, O) */
#define XCIT_CUDA_LINEAR_ACCUMULATE 4      /* out += (not =) the result: a residual update */

/* Flag of xcit_cuda_conv3x3s2_* beside xcit.h's XCIT_CONV_GELU: the weight is given tap-major,
 * (Cout, 3, 3, Cin), the layout the kernel reads as rows (16-byte units in fp16/bf16). */
#define XCIT_CUDA_CONV_TAP_MAJOR 4

/* Returns XCIT_ABI_VERSION as compiled into libxcit_cuda.so; Java checks it against
 * its bindings like xcit_abi_version for libxcit.so. */
XCIT_API int32_t xcit_cuda_abi_version(void);

/* The CUDA runtime version libxcit_cuda.so was built with (CUDART_VERSION, e.g. 13000
 * for 13.0; it links the shared runtime of that major version, libcudart.so.13): the
 * driver must support at least this version (cudaDriverGetVersion), or every launch
 * fails with cudaErrorInsufficientDriver. */
XCIT_API int32_t xcit_cuda_runtime_version(void);

/* Number of CUDA devices visible. count: host pointer to one int32_t, set to the
 * number of devices, or 0 on failure. With no driver or no GPU this returns
 * XCIT_ERR_CUDA and the ctx says why (e.g. cudaErrorInsufficientDriver). */
XCIT_API xcit_status xcit_cuda_device_count(xcit_ctx* ctx, int32_t* count);

/* Makes every later op of ctx launch on stream (a cudaStream_t of the current device;
 * NULL = the legacy default stream). The stream must outlive its use by ctx. */
XCIT_API xcit_status xcit_cuda_set_stream(xcit_ctx* ctx, void* stream);

/* out[i] = in[i] converted from in_type to out_type (XCIT_CUDA_F32/F16/BF16), rounding to
 * nearest even; count elements; out and in must not overlap unless out == in with types
 * of equal size. Used for host staging (always fp32) to and from 16-bit activations. */
XCIT_API xcit_status xcit_cuda_convert(xcit_ctx* ctx, void* out, int32_t out_type,
                                       const void* in, int32_t in_type, int64_t count);

/* The most conversions xcit_cuda_convert_many takes. */
#define XCIT_CUDA_CONVERT_MAX 8

/* n conversions as xcit_cuda_convert in ONE launch (a session's outputs at the end of its
 * forward): out[k] (counts[k] elements) = in[k] from in_type to out_type, k < n,
 * 0 <= n <= XCIT_CUDA_CONVERT_MAX, no pair overlapping another. out, in and counts are
 * host arrays of n entries, read during the call (the device pointers they hold are
 * captured by value, so the arrays may be reused at once). */
XCIT_API xcit_status xcit_cuda_convert_many(xcit_ctx* ctx, int32_t n, void* const* out,
                                            int32_t out_type, const void* const* in,
                                            int32_t in_type, const int64_t* counts);

/* ---- LayerNorm ------------------------------------------------------------------ */

/* out (rows, cols) = LayerNorm(in) over cols: (in - mean) / sqrt(var + eps) * gamma +
 * beta, biased var, two-pass fp32 statistics; gamma, beta (cols). out may equal in.
 * One block per row: rows <= INT32_MAX. */
XCIT_API xcit_status xcit_cuda_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                             const float* gamma, const float* beta,
                                             int64_t rows, int64_t cols, float eps);
XCIT_API xcit_status xcit_cuda_layernorm_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                             const uint16_t* gamma, const uint16_t* beta,
                                             int64_t rows, int64_t cols, float eps);
XCIT_API xcit_status xcit_cuda_layernorm_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                              const uint16_t* gamma, const uint16_t* beta,
                                              int64_t rows, int64_t cols, float eps);

/* The residual update and the next LayerNorm in one pass (XCA block epilogue):
 * x (rows, cols) += scale (cols) * y (rows, cols), rounded to the storage type, then
 * out = LayerNorm(x) as above. scale may be NULL (1). out must not alias x or y. */
XCIT_API xcit_status xcit_cuda_residual_layernorm_f32(xcit_ctx* ctx, float* x, float* out,
                                                      const float* y, const float* scale,
                                                      const float* gamma, const float* beta,
                                                      int64_t rows, int64_t cols, float eps);
XCIT_API xcit_status xcit_cuda_residual_layernorm_f16(xcit_ctx* ctx, uint16_t* x, uint16_t* out,
                                                      const uint16_t* y, const uint16_t* scale,
                                                      const uint16_t* gamma,
                                                      const uint16_t* beta, int64_t rows,
                                                      int64_t cols, float eps);
XCIT_API xcit_status xcit_cuda_residual_layernorm_bf16(xcit_ctx* ctx, uint16_t* x,
                                                       uint16_t* out, const uint16_t* y,
                                                       const uint16_t* scale,
                                                       const uint16_t* gamma,
                                                       const uint16_t* beta, int64_t rows,
                                                       int64_t cols, float eps);

/* ---- element-wise --------------------------------------------------------------- */

/* x (rows, cols) += scale (cols) * y (rows, cols); scale may be NULL (1). y may not
 * alias x. */
XCIT_API xcit_status xcit_cuda_add_scaled_f32(xcit_ctx* ctx, float* x, const float* y,
                                              const float* scale, int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cuda_add_scaled_f16(xcit_ctx* ctx, uint16_t* x, const uint16_t* y,
                                              const uint16_t* scale, int64_t rows,
                                              int64_t cols);
XCIT_API xcit_status xcit_cuda_add_scaled_bf16(xcit_ctx* ctx, uint16_t* x, const uint16_t* y,
                                               const uint16_t* scale, int64_t rows,
                                               int64_t cols);

/* x (images, per_image) += rows (per_image) for every image (positional encoding). */
XCIT_API xcit_status xcit_cuda_add_broadcast_f32(xcit_ctx* ctx, float* x, const float* rows,
                                                 int64_t images, int64_t per_image);
XCIT_API xcit_status xcit_cuda_add_broadcast_f16(xcit_ctx* ctx, uint16_t* x,
                                                 const uint16_t* rows, int64_t images,
                                                 int64_t per_image);
XCIT_API xcit_status xcit_cuda_add_broadcast_bf16(xcit_ctx* ctx, uint16_t* x,
                                                  const uint16_t* rows, int64_t images,
                                                  int64_t per_image);

/* x (rows, cols) = GELU(x + bias (cols)), exact erf GELU, in place; bias may be NULL.
 * For GEMMs whose library epilogue cannot apply the exact GELU. */
XCIT_API xcit_status xcit_cuda_bias_gelu_f32(xcit_ctx* ctx, float* x, const float* bias,
                                             int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cuda_bias_gelu_f16(xcit_ctx* ctx, uint16_t* x, const uint16_t* bias,
                                             int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cuda_bias_gelu_bf16(xcit_ctx* ctx, uint16_t* x, const uint16_t* bias,
                                              int64_t rows, int64_t cols);

/* x (rows, cols) = x * scale (cols) + shift (cols), in place: an inference BatchNorm. */
XCIT_API xcit_status xcit_cuda_channel_affine_f32(xcit_ctx* ctx, float* x, const float* scale,
                                                  const float* shift, int64_t rows,
                                                  int64_t cols);
XCIT_API xcit_status xcit_cuda_channel_affine_f16(xcit_ctx* ctx, uint16_t* x,
                                                  const uint16_t* scale, const uint16_t* shift,
                                                  int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cuda_channel_affine_bf16(xcit_ctx* ctx, uint16_t* x,
                                                   const uint16_t* scale,
                                                   const uint16_t* shift, int64_t rows,
                                                   int64_t cols);

/* ---- layout and row copies ------------------------------------------------------ */

/* out (batch, cols, rows) = in (batch, rows, cols), both in the storage type, not
 * aliased: the transposes of activations (nchw_to_nhwc is for the fp32 input image). */
XCIT_API xcit_status xcit_cuda_transpose_f32(xcit_ctx* ctx, float* out, const float* in,
                                             int64_t batch, int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cuda_transpose_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                             int64_t batch, int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cuda_transpose_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                              int64_t batch, int64_t rows, int64_t cols);

/* out (batch, height, width, channels) in the storage type = in (batch, channels,
 * height, width) fp32: the staged input image to channel-last. */
XCIT_API xcit_status xcit_cuda_nchw_to_nhwc_f32(xcit_ctx* ctx, float* out, const float* in,
                                                int64_t batch, int64_t channels,
                                                int64_t height, int64_t width);
XCIT_API xcit_status xcit_cuda_nchw_to_nhwc_f16(xcit_ctx* ctx, uint16_t* out, const float* in,
                                                int64_t batch, int64_t channels,
                                                int64_t height, int64_t width);
XCIT_API xcit_status xcit_cuda_nchw_to_nhwc_bf16(xcit_ctx* ctx, uint16_t* out, const float* in,
                                                 int64_t batch, int64_t channels,
                                                 int64_t height, int64_t width);

/* out (batch, cols) = in (batch, rows, cols)[:, row, :]; 0 <= row < rows. */
XCIT_API xcit_status xcit_cuda_gather_row_f32(xcit_ctx* ctx, float* out, const float* in,
                                              int64_t batch, int64_t rows, int64_t cols,
                                              int64_t row);
XCIT_API xcit_status xcit_cuda_gather_row_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                              int64_t batch, int64_t rows, int64_t cols,
                                              int64_t row);
XCIT_API xcit_status xcit_cuda_gather_row_bf16(xcit_ctx* ctx, uint16_t* out,
                                               const uint16_t* in, int64_t batch, int64_t rows,
                                               int64_t cols, int64_t row);

/* out (batch, rows, cols)[:, row, :] = in (batch, cols); 0 <= row < rows. */
XCIT_API xcit_status xcit_cuda_scatter_row_f32(xcit_ctx* ctx, float* out, const float* in,
                                               int64_t batch, int64_t rows, int64_t cols,
                                               int64_t row);
XCIT_API xcit_status xcit_cuda_scatter_row_f16(xcit_ctx* ctx, uint16_t* out,
                                               const uint16_t* in, int64_t batch, int64_t rows,
                                               int64_t cols, int64_t row);
XCIT_API xcit_status xcit_cuda_scatter_row_bf16(xcit_ctx* ctx, uint16_t* out,
                                                const uint16_t* in, int64_t batch,
                                                int64_t rows, int64_t cols, int64_t row);

/* out (batch, tokens + 1, cols) = [first (cols); in (batch, tokens, cols)] per image. */
XCIT_API xcit_status xcit_cuda_prepend_row_f32(xcit_ctx* ctx, float* out, const float* first,
                                               const float* in, int64_t batch, int64_t tokens,
                                               int64_t cols);
XCIT_API xcit_status xcit_cuda_prepend_row_f16(xcit_ctx* ctx, uint16_t* out,
                                               const uint16_t* first, const uint16_t* in,
                                               int64_t batch, int64_t tokens, int64_t cols);
XCIT_API xcit_status xcit_cuda_prepend_row_bf16(xcit_ctx* ctx, uint16_t* out,
                                                const uint16_t* first, const uint16_t* in,
                                                int64_t batch, int64_t tokens, int64_t cols);

/* ---- GEMM ----------------------------------------------------------------------- */

/* out (batch, rows, O) = in (batch, rows, K) * weight^T + bias, then GELU if flags has
 * XCIT_CUDA_LINEAR_GELU, added to out's values with XCIT_CUDA_LINEAR_ACCUMULATE (out must
 * not alias in). weight (O, K) and bias (O) are shared by the batch, or with
 * XCIT_CUDA_LINEAR_BATCHED_WEIGHTS one per item: (batch, O, K) and (batch, O). bias may
 * be NULL. fp32 accumulation. The portable GEMM: the backend prefers cuBLASLt where
 * present; this one needs nothing but the driver (and runs in the kernel tests). */
XCIT_API xcit_status xcit_cuda_linear_f32(xcit_ctx* ctx, float* out, const float* in,
                                          const float* weight, const float* bias,
                                          int64_t batch, int64_t rows, int64_t in_features,
                                          int64_t out_features, int32_t flags);
XCIT_API xcit_status xcit_cuda_linear_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                          const uint16_t* weight, const uint16_t* bias,
                                          int64_t batch, int64_t rows, int64_t in_features,
                                          int64_t out_features, int32_t flags);
XCIT_API xcit_status xcit_cuda_linear_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                           const uint16_t* weight, const uint16_t* bias,
                                           int64_t batch, int64_t rows, int64_t in_features,
                                           int64_t out_features, int32_t flags);

/* ---- convolutions and pooling (patch embedding, dense outputs) ------------------- */

/* Bytes of device workspace xcit_cuda_conv3x3s2_* needs for this shape (written to *bytes):
 * 0 when the output has enough 64 x 64 tiles to fill a GPU, else the fp32 partial products
 * of the slices its K (9 Cin) is split into (at most 8 x pixels x Cout floats). A function
 * of the shape only. */
XCIT_API xcit_status xcit_cuda_conv3x3s2_workspace_size(xcit_ctx* ctx, int64_t* bytes,
                                                        int64_t batch, int64_t height,
                                                        int64_t width, int64_t in_channels,
                                                        int64_t out_channels);

/* 3x3 convolution, stride 2, zero padding 1: out (batch, ceil(H/2), ceil(W/2), Cout) =
 * act(conv(in (batch, H, W, Cin), weight (Cout, Cin, 3, 3)) + bias (Cout)), act the exact
 * GELU if flags has XCIT_CONV_GELU (xcit.h, as xcit_cpu_conv3x3s2_f32), else none; with
 * XCIT_CUDA_CONV_TAP_MAJOR the weight is (Cout, 3, 3, Cin) instead; other flags are
 * refused (XCIT_ERR_INVALID_ARGUMENT). Output pixels (batch x ceil(H/2) x
 * ceil(W/2)) and 9 Cin below 2^31, else XCIT_ERR_UNSUPPORTED. workspace:
 * xcit_cuda_conv3x3s2_workspace_size bytes (may be NULL when that is 0). */
XCIT_API xcit_status xcit_cuda_conv3x3s2_f32(xcit_ctx* ctx, float* out, void* workspace,
                                             const float* in, const float* weight,
                                             const float* bias, int64_t batch, int64_t height,
                                             int64_t width, int64_t in_channels,
                                             int64_t out_channels, int32_t flags);
XCIT_API xcit_status xcit_cuda_conv3x3s2_f16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                                             const uint16_t* in, const uint16_t* weight,
                                             const uint16_t* bias, int64_t batch,
                                             int64_t height, int64_t width,
                                             int64_t in_channels, int64_t out_channels,
                                             int32_t flags);
XCIT_API xcit_status xcit_cuda_conv3x3s2_bf16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                                              const uint16_t* in, const uint16_t* weight,
                                              const uint16_t* bias, int64_t batch,
                                              int64_t height, int64_t width,
                                              int64_t in_channels, int64_t out_channels,
                                              int32_t flags);

/* The first half of conv3x3s2 as im2col + GEMM: out (pixels, 9 Cin) holds, for output pixel
 * first_pixel + r of xcit_cuda_conv3x3s2's output (batch, ceil(H/2), ceil(W/2)), its 3x3
 * window of in (batch, H, W, Cin) tap-major: out[r, (ky*3 + kx)*Cin + ci] = in[b, 2*oy - 1 +
 * ky, 2*ox - 1 + kx, ci], 0 outside the image. out times the weight relaid out to (Cout, 3,
 * 3, Cin), plus bias, is the conv's output rows [first_pixel, first_pixel + pixels). A copy:
 * exact in every storage type. 0 <= first_pixel, first_pixel + pixels <= the output pixels
 * (XCIT_ERR_INVALID_ARGUMENT otherwise); output pixels and 9 Cin below 2^31 as for
 * conv3x3s2. Rows take 16-byte accesses when Cin * sizeof(element) is a multiple of 16 and
 * out and in are 16-byte aligned. */
XCIT_API xcit_status xcit_cuda_im2col3x3s2_f32(xcit_ctx* ctx, float* out, const float* in,
                                               int64_t batch, int64_t height, int64_t width,
                                               int64_t in_channels, int64_t first_pixel,
                                               int64_t pixels);
XCIT_API xcit_status xcit_cuda_im2col3x3s2_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                               int64_t batch, int64_t height, int64_t width,
                                               int64_t in_channels, int64_t first_pixel,
                                               int64_t pixels);
XCIT_API xcit_status xcit_cuda_im2col3x3s2_bf16(xcit_ctx* ctx, uint16_t* out,
                                                const uint16_t* in, int64_t batch,
                                                int64_t height, int64_t width,
                                                int64_t in_channels, int64_t first_pixel,
                                                int64_t pixels);

/* 2x2 transposed convolution, stride 2: out (batch, 2H, 2W, Cout) [b, 2y+i, 2x+j, o] =
 * bias[o] + sum_c in (batch, H, W, Cin) [b, y, x, c] * weight (Cin, Cout, 2, 2) [c, o, i, j]. */
XCIT_API xcit_status xcit_cuda_conv_transpose2x2_f32(xcit_ctx* ctx, float* out, const float* in,
                                                     const float* weight, const float* bias,
                                                     int64_t batch, int64_t height,
                                                     int64_t width, int64_t in_channels,
                                                     int64_t out_channels);
XCIT_API xcit_status xcit_cuda_conv_transpose2x2_f16(xcit_ctx* ctx, uint16_t* out,
                                                     const uint16_t* in, const uint16_t* weight,
                                                     const uint16_t* bias, int64_t batch,
                                                     int64_t height, int64_t width,
                                                     int64_t in_channels, int64_t out_channels);
XCIT_API xcit_status xcit_cuda_conv_transpose2x2_bf16(xcit_ctx* ctx, uint16_t* out,
                                                      const uint16_t* in,
                                                      const uint16_t* weight,
                                                      const uint16_t* bias, int64_t batch,
                                                      int64_t height, int64_t width,
                                                      int64_t in_channels,
                                                      int64_t out_channels);

/* k x k max pooling, stride k, no padding: out (batch, H/k, W/k, C) from in (batch, H,
 * W, C), floor sizes; NaN propagates as in torch. k >= 1. */
XCIT_API xcit_status xcit_cuda_max_pool_f32(xcit_ctx* ctx, float* out, const float* in,
                                            int64_t batch, int64_t height, int64_t width,
                                            int64_t channels, int64_t k);
XCIT_API xcit_status xcit_cuda_max_pool_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                            int64_t batch, int64_t height, int64_t width,
                                            int64_t channels, int64_t k);
XCIT_API xcit_status xcit_cuda_max_pool_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                             int64_t batch, int64_t height, int64_t width,
                                             int64_t channels, int64_t k);

/* ---- XCA: cross-covariance attention --------------------------------------------- */

/* Bytes of device workspace xcit_cuda_xca_* needs for this shape (written to *bytes, a
 * host pointer). */
XCIT_API xcit_status xcit_cuda_xca_workspace_size(xcit_ctx* ctx, int64_t* bytes, int64_t batch,
                                                  int64_t tokens, int64_t channels,
                                                  int64_t heads);

/*
 * The XCA core, Backend.xca: from qkv (batch, tokens, 3C) (feature s*C + h*d + i,
 * s = q, k, v; d = C / heads) compute per image and head
 *   A = softmax_j(temperature[h] * <q_i, k_j> / (max(|q_i|, 1e-12) max(|k_j|, 1e-12)))
 * with the inner products and norms over tokens, and out (batch, tokens, C)
 * [n, h*d + i] = sum_j A[i, j] v[n, h*d + j]. Two kernels: the first splits tokens
 * across blocks, each accumulating the raw Gram q^T k and both squared norms in fp32
 * into its own workspace slot; the second reduces the slots in a fixed order (so the
 * result does not depend on scheduling), normalises, applies the softmax and then A to
 * its tile of tokens. temperature (heads). workspace: xcit_cuda_xca_workspace_size bytes.
 * d <= 64 (every zoo model: 32, 48 or 64).
 */
XCIT_API xcit_status xcit_cuda_xca_f32(xcit_ctx* ctx, float* out, void* workspace,
                                       const float* qkv, const float* temperature,
                                       int64_t batch, int64_t tokens, int64_t channels,
                                       int64_t heads);
XCIT_API xcit_status xcit_cuda_xca_f16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                                       const uint16_t* qkv, const uint16_t* temperature,
                                       int64_t batch, int64_t tokens, int64_t channels,
                                       int64_t heads);
XCIT_API xcit_status xcit_cuda_xca_bf16(xcit_ctx* ctx, uint16_t* out, void* workspace,
                                        const uint16_t* qkv, const uint16_t* temperature,
                                        int64_t batch, int64_t tokens, int64_t channels,
                                        int64_t heads);

/* Workspace bytes of xcit_cuda_xca_covariance_* for this shape (*bytes: host). */
XCIT_API xcit_status xcit_cuda_xca_covariance_workspace_size(xcit_ctx* ctx, int64_t* bytes,
                                                             int64_t batch, int64_t tokens,
                                                             int64_t channels);

/*
 * First half of the covariance-folded XCA (spec 3, "algebra"), for large token counts:
 * cov (batch, C, C) fp32 = sum_n u_n u_n^T and sum (batch, C) fp32 = sum_n u_n over the
 * LayerNorm output u (batch, tokens, C). Tokens are split across blocks into workspace
 * slots reduced in a fixed order. Cost ~N C^2 / 2, independent of the heads.
 */
XCIT_API xcit_status xcit_cuda_xca_covariance_f32(xcit_ctx* ctx, float* cov, float* sum,
                                                  void* workspace, const float* u,
                                                  int64_t batch, int64_t tokens,
                                                  int64_t channels);
XCIT_API xcit_status xcit_cuda_xca_covariance_f16(xcit_ctx* ctx, float* cov, float* sum,
                                                  void* workspace, const uint16_t* u,
                                                  int64_t batch, int64_t tokens,
                                                  int64_t channels);
XCIT_API xcit_status xcit_cuda_xca_covariance_bf16(xcit_ctx* ctx, float* cov, float* sum,
                                                   void* workspace, const uint16_t* u,
                                                   int64_t batch, int64_t tokens,
                                                   int64_t channels);

/*
 * Second half of the folded XCA: from cov and sum (above) and the block's weights
 * qkv_weight (3C, C), qkv_bias (3C), temperature (heads), proj_weight (C, C),
 * proj_bias (C), computes per image and head the Gram matrix and norms of q and k
 * (W_q S W_k^T plus the bias terms with sum and tokens), the attention
 * attention (batch, heads, d, d) fp32 exactly as xcit_cuda_xca defines A, then
 *   fold (batch, C, C)  = proj_weight * blockdiag(A_h)
 *   fold_bias (batch, C) = fold * v_bias + proj_bias
 * so that XCA+proj(u) = u * (fold * W_v)^T + fold_bias: the caller finishes with two
 * GEMMs (W' = fold * W_v, shared W_v^T as weight; then u * W'^T + fold_bias per image).
 * d <= 64.
 */
XCIT_API xcit_status xcit_cuda_xca_fold_f32(xcit_ctx* ctx, float* fold, float* fold_bias,
                                            float* attention, const float* cov,
                                            const float* sum, const float* qkv_weight,
                                            const float* qkv_bias, const float* temperature,
                                            const float* proj_weight, const float* proj_bias,
                                            int64_t batch, int64_t tokens, int64_t channels,
                                            int64_t heads);
XCIT_API xcit_status xcit_cuda_xca_fold_f16(xcit_ctx* ctx, uint16_t* fold, uint16_t* fold_bias,
                                            float* attention, const float* cov,
                                            const float* sum, const uint16_t* qkv_weight,
                                            const uint16_t* qkv_bias,
                                            const uint16_t* temperature,
                                            const uint16_t* proj_weight,
                                            const uint16_t* proj_bias, int64_t batch,
                                            int64_t tokens, int64_t channels, int64_t heads);
XCIT_API xcit_status xcit_cuda_xca_fold_bf16(xcit_ctx* ctx, uint16_t* fold,
                                             uint16_t* fold_bias, float* attention,
                                             const float* cov, const float* sum,
                                             const uint16_t* qkv_weight,
                                             const uint16_t* qkv_bias,
                                             const uint16_t* temperature,
                                             const uint16_t* proj_weight,
                                             const uint16_t* proj_bias, int64_t batch,
                                             int64_t tokens, int64_t channels, int64_t heads);

/* ---- LPI and class attention ----------------------------------------------------- */

/*
 * Local patch interaction, Backend.lpi and Backend.lpiAddScaled, fused: on the (batch,
 * grid_h, grid_w, C) channel-last grid, r = depthwise conv3x3 (pad 1, weight1 (C, 9),
 * bias1 (C)) -> GELU -> x * bn_scale + bn_shift -> depthwise conv3x3 (pad 1, weight2,
 * bias2), zero padding applied to the affine's output (so the BatchNorm does not fold at
 * the borders); then out = r if gamma is NULL, else out += gamma (C) * r (the block's
 * residual update, one rounding), as xcit_cpu_lpi_f32. One block per output tile: the
 * input tile plus a 2-pixel halo and the intermediate plus a 1-pixel halo live in shared
 * memory, so the intermediate never reaches global memory. 16-byte vector accesses where
 * C % 32 == 0 and in, out are 16-byte aligned. out must not alias in.
 */
XCIT_API xcit_status xcit_cuda_lpi_f32(xcit_ctx* ctx, float* out, const float* in,
                                       const float* weight1, const float* bias1,
                                       const float* bn_scale, const float* bn_shift,
                                       const float* weight2, const float* bias2,
                                       const float* gamma, int64_t batch, int64_t grid_h,
                                       int64_t grid_w, int64_t channels);
XCIT_API xcit_status xcit_cuda_lpi_f16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                       const uint16_t* weight1, const uint16_t* bias1,
                                       const uint16_t* bn_scale, const uint16_t* bn_shift,
                                       const uint16_t* weight2, const uint16_t* bias2,
                                       const uint16_t* gamma, int64_t batch, int64_t grid_h,
                                       int64_t grid_w, int64_t channels);
XCIT_API xcit_status xcit_cuda_lpi_bf16(xcit_ctx* ctx, uint16_t* out, const uint16_t* in,
                                        const uint16_t* weight1, const uint16_t* bias1,
                                        const uint16_t* bn_scale, const uint16_t* bn_shift,
                                        const uint16_t* weight2, const uint16_t* bias2,
                                        const uint16_t* gamma, int64_t batch, int64_t grid_h,
                                        int64_t grid_w, int64_t channels);

/*
 * Class attention, Backend.classAttention: per image and head (d = C / heads)
 * a = softmax_t(q_h . k_{t,h} / sqrt d) over the rows t, out (batch, C) [h*d + i] =
 * sum_t a_t v_{t, h*d + i}; q (batch, C), kv (batch, rows, 2C) with k in features
 * [0, C) and v in [C, 2C). weights (batch, heads, rows) receives a, or is NULL. One
 * block per (head, image); scores, max and sum in fp32.
 */
XCIT_API xcit_status xcit_cuda_class_attention_f32(xcit_ctx* ctx, float* out, float* weights,
                                                   const float* q, const float* kv,
                                                   int64_t batch, int64_t rows,
                                                   int64_t channels, int64_t heads);
XCIT_API xcit_status xcit_cuda_class_attention_f16(xcit_ctx* ctx, uint16_t* out,
                                                   uint16_t* weights, const uint16_t* q,
                                                   const uint16_t* kv, int64_t batch,
                                                   int64_t rows, int64_t channels,
                                                   int64_t heads);
XCIT_API xcit_status xcit_cuda_class_attention_bf16(xcit_ctx* ctx, uint16_t* out,
                                                    uint16_t* weights, const uint16_t* q,
                                                    const uint16_t* kv, int64_t batch,
                                                    int64_t rows, int64_t channels,
                                                    int64_t heads);

/*
 * The row-wise part of a class-attention block, Backend.classAttentionRows, in one pass:
 * on x (batch, rows, C), each image's cls row first,
 *   u (batch, rows, C) = LayerNorm(x; ln1_gamma, ln1_beta) on every row;
 *   cls (batch, C)     = x[:, 0] as on entry (the cls row's residual);
 *   x[:, t]            = LayerNorm(x[:, t] + gamma1 * u[:, t]; ln2_gamma, ln2_beta) for t >= 1,
 *                        the LayerNorm only where ln2_gamma, ln2_beta are not NULL (timm's
 *                        tokens_norm), x + gamma1 * u rounded to the storage type first;
 * row 0 of x is left as it was. Statistics as xcit_cuda_layernorm. u and cls must not
 * alias x; rows >= 1 where batch > 0.
 */
XCIT_API xcit_status xcit_cuda_class_attention_rows_f32(xcit_ctx* ctx, float* x, float* u, float* cls,
                                                        const float* ln1_gamma, const float* ln1_beta,
                                                        const float* gamma1, const float* ln2_gamma,
                                                        const float* ln2_beta, int64_t batch,
                                                        int64_t rows, int64_t cols, float eps);
XCIT_API xcit_status xcit_cuda_class_attention_rows_f16(xcit_ctx* ctx, uint16_t* x, uint16_t* u,
                                                        uint16_t* cls, const uint16_t* ln1_gamma,
                                                        const uint16_t* ln1_beta,
                                                        const uint16_t* gamma1,
                                                        const uint16_t* ln2_gamma,
                                                        const uint16_t* ln2_beta, int64_t batch,
                                                        int64_t rows, int64_t cols, float eps);
XCIT_API xcit_status xcit_cuda_class_attention_rows_bf16(xcit_ctx* ctx, uint16_t* x, uint16_t* u,
                                                         uint16_t* cls, const uint16_t* ln1_gamma,
                                                         const uint16_t* ln1_beta,
                                                         const uint16_t* gamma1,
                                                         const uint16_t* ln2_gamma,
                                                         const uint16_t* ln2_beta, int64_t batch,
                                                         int64_t rows, int64_t cols, float eps);

/* Workspace bytes of xcit_cuda_class_attention_folded_* for this shape (*bytes: host). */
XCIT_API xcit_status xcit_cuda_class_attention_folded_workspace_size(xcit_ctx* ctx, int64_t* bytes,
                                                                     int64_t batch, int64_t rows,
                                                                     int64_t channels,
                                                                     int64_t heads);

/*
 * Class attention with the k and v projections folded away (Backend.foldsClassAttention),
 * xcit_cpu_class_attention_folded_f32's math in one launch: per image and head h
 * (d = C / heads, s = d^-1/2) with u (batch, rows, C) the normalised rows,
 *   scores[h, t] = u_t . K'_h + c_h, K'_h = s sum_j q[h*d+j] Wk[h*d+j, :], c_h = s q_h . bk_h
 *   a[h, :] = softmax_t(scores[h, :]),  ubar_h = sum_t a[h, t] u_t
 *   out (batch, C) [h*d+j] = Wv[h*d+j, :] . ubar_h + bv[h*d+j]
 * with kv_weight (2C, C) = [Wk; Wv], kv_bias (2C) = [bk; bv] or NULL. The queries are
 * q (batch, C), or, with q NULL, computed here from each image's row 0 of u:
 * q[h*d+j] = q_weight (C, C) [h*d+j, :] . u_0 + q_bias[h*d+j] (q_bias nullable), never
 * stored; exactly one of q and q_weight is given. weights (batch, heads, rows) receives a,
 * or is NULL. workspace: xcit_cuda_class_attention_folded_workspace_size bytes whose first
 * batch * heads * 4 bytes are zero before the first call (cudaMemset once); every call
 * leaves them zero again, so the launch replays in a CUDA graph. Scores, softmax and sums
 * in fp32. d <= 64 and C <= 1024 (XCIT_ERR_UNSUPPORTED beyond).
 */
XCIT_API xcit_status xcit_cuda_class_attention_folded_f32(xcit_ctx* ctx, float* out, float* weights,
                                                          void* workspace, const float* q,
                                                          const float* u, const float* q_weight,
                                                          const float* q_bias,
                                                          const float* kv_weight,
                                                          const float* kv_bias, int64_t batch,
                                                          int64_t rows, int64_t channels,
                                                          int64_t heads);
XCIT_API xcit_status xcit_cuda_class_attention_folded_f16(xcit_ctx* ctx, uint16_t* out,
                                                          uint16_t* weights, void* workspace,
                                                          const uint16_t* q, const uint16_t* u,
                                                          const uint16_t* q_weight,
                                                          const uint16_t* q_bias,
                                                          const uint16_t* kv_weight,
                                                          const uint16_t* kv_bias, int64_t batch,
                                                          int64_t rows, int64_t channels,
                                                          int64_t heads);
XCIT_API xcit_status xcit_cuda_class_attention_folded_bf16(xcit_ctx* ctx, uint16_t* out,
                                                           uint16_t* weights, void* workspace,
                                                           const uint16_t* q, const uint16_t* u,
                                                           const uint16_t* q_weight,
                                                           const uint16_t* q_bias,
                                                           const uint16_t* kv_weight,
                                                           const uint16_t* kv_bias, int64_t batch,
                                                           int64_t rows, int64_t channels,
                                                           int64_t heads);

#ifdef __cplusplus
}
#endif

#endif /* XCIT_XCIT_CUDA_H */
