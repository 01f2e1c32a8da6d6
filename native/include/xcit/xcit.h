/*
 * xcit.h - the C ABI of libxcit.so, the one header the Java bindings mirror
 * (bindings/src/main/java/org/xcit4j/bindings/xcit/xcit_h.java; a test there checks
 * that both declare the same functions with the same parameter types).
 *
 * Rules (DESIGN.md section 5): plain C, fixed-width types only, every function returns
 * an xcit_status (0 = ok) except the pure queries below, native code never exits,
 * aborts or prints. Error text is kept in the xcit_ctx passed to the failing call.
 * Argument order: ctx, outputs, inputs, sizes, scalars.
 * Tensors are dense row-major; "host" means ordinary process memory.
 */
#ifndef XCIT_XCIT_H
#define XCIT_XCIT_H

#include <stdint.h>

/* Marks the exported ABI; everything else in the library is built with hidden
 * visibility. */
#if defined(__GNUC__)
#define XCIT_API __attribute__((visibility("default")))
#else
#define XCIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header or to the xcit_ctx layout
 * (libxcit_cuda.so shares it). Java refuses a library reporting another number. */
#define XCIT_ABI_VERSION 7

/* Returns XCIT_ABI_VERSION as compiled into the library. */
XCIT_API int32_t xcit_abi_version(void);

/* ---- status codes ------------------------------------------------------------- */

typedef int32_t xcit_status;

#define XCIT_OK 0
#define XCIT_ERR_INVALID_ARGUMENT 1 /* NULL pointer, negative or inconsistent size   */
#define XCIT_ERR_OUT_OF_MEMORY 2    /* a host or device allocation failed            */
#define XCIT_ERR_UNSUPPORTED 3      /* valid request this build or device cannot do  */
#define XCIT_ERR_CUDA 4             /* the CUDA runtime reported an error            */
#define XCIT_ERR_INTERNAL 5         /* a bug in xcit itself                          */

/* Static English name of a status ("XCIT_OK", ...; "XCIT_ERR_UNKNOWN" for codes not
 * listed above). Never NULL; the string lives as long as the library is loaded. */
XCIT_API const char* xcit_status_string(xcit_status status);

/* ---- context ------------------------------------------------------------------ */

/* Opaque per-caller state: the last error text now; later the CUDA stream, library
 * handles and workspace. Not thread-safe: one ctx per thread (or per session). */
typedef struct xcit_ctx xcit_ctx;

/* Creates a ctx. out: host pointer to one xcit_ctx* that receives the new context
 * (left untouched on failure). XCIT_ERR_INVALID_ARGUMENT if out is NULL,
 * XCIT_ERR_OUT_OF_MEMORY if the allocation fails. */
XCIT_API xcit_status xcit_ctx_create(xcit_ctx** out);

/* Frees a ctx created by xcit_ctx_create. NULL is accepted and ignored. */
XCIT_API void xcit_ctx_destroy(xcit_ctx* ctx);

/* The error text of the last failed call made with ctx ("" if none has failed; not
 * cleared by successful calls). The string is owned by ctx and valid until the next
 * call with ctx or its destruction. A NULL ctx gives a static message saying so. */
XCIT_API const char* xcit_ctx_last_error(const xcit_ctx* ctx);

/* ---- CPU runtime: threads and instruction set --------------------------------- */

/* Kernel sets. Every CPU op dispatches through the ctx's set, chosen at ctx creation as
 * the widest the host runs; one kernel source is compiled once per set. */
#define XCIT_ISA_AUTO 0    /* xcit_cpu_set_isa: the best this CPU runs              */
#define XCIT_ISA_GENERIC 1 /* x86-64 baseline (SSE2), 4-wide                        */
#define XCIT_ISA_AVX2 2    /* AVX2 + FMA, 8-wide                                    */
#define XCIT_ISA_AVX512 3  /* AVX-512 F/BW/VL/DQ, 16-wide                           */

/* The widest XCIT_ISA_* this CPU supports. */
XCIT_API int32_t xcit_cpu_best_isa(void);

/* Selects the kernel set of ctx (XCIT_ISA_AUTO = best); XCIT_ERR_UNSUPPORTED if the CPU
 * lacks it. For tests and comparisons: the default is already the best. */
XCIT_API xcit_status xcit_cpu_set_isa(xcit_ctx* ctx, int32_t isa);

/* The XCIT_ISA_* in use by ctx (0 for a NULL ctx). */
XCIT_API int32_t xcit_cpu_isa(const xcit_ctx* ctx);

/* OpenMP threads used by every CPU op called with ctx: threads >= 1, or 0 for all cores
 * this process may run on (the default). Also sets the calling thread's OpenMP default
 * (omp_set_num_threads), which oneDNN, sharing the same libgomp, uses for primitives
 * executed from that thread. XCIT_ERR_INVALID_ARGUMENT outside [0, 4096]. */
XCIT_API xcit_status xcit_cpu_set_threads(xcit_ctx* ctx, int32_t threads);

/* The team size of ctx (0 for a NULL ctx). */
XCIT_API int32_t xcit_cpu_threads(const xcit_ctx* ctx);

/* ---- CPU ops: all pointers are host memory ------------------------------------ */
/* Common rules: float32, dense row-major, channel-last activations. Sizes are int64_t
 * and must be >= 0 (a zero size is a no-op) with products that fit in int64_t; pointers
 * must not be NULL (except where marked nullable) even for empty tensors. Outputs may
 * not overlap inputs unless the op says so. Ops run on ctx's threads and kernel set;
 * scratch they need lives in ctx (grown on first use, reused after, so steady-state
 * calls allocate nothing). Errors: XCIT_ERR_INVALID_ARGUMENT with the argument named in
 * ctx; XCIT_ERR_OUT_OF_MEMORY if scratch cannot grow. */

/*
 * LayerNorm over the last dimension, fp32 in and out:
 *   mean_r = (1/cols) sum_c in[r,c]
 *   var_r  = (1/cols) sum_c (in[r,c] - mean_r)^2          (biased, as torch)
 *   out[r,c] = (in[r,c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c]
 * mean_r and var_r are accumulated in double, two passes over the row (no
 * E[x^2]-E[x]^2 cancellation); the result is rounded to float once.
 *
 * out:   (rows, cols) row-major float, host. May be exactly the same pointer as in
 *        (in-place); any other overlap with in is not allowed.
 * in:    (rows, cols) row-major float, host.
 * gamma: (cols) float, host.   beta: (cols) float, host.
 * rows >= 0 (0 is a no-op); cols >= 1 when rows > 0; eps >= 0 (typically 1e-6).
 * Errors: XCIT_ERR_INVALID_ARGUMENT for a NULL ctx or pointer, a negative size,
 * cols == 0 with rows > 0, rows*cols overflowing int64, or eps < 0 / NaN; the text in
 * ctx names the argument.
 */
XCIT_API xcit_status xcit_cpu_layernorm_f32(xcit_ctx* ctx, float* out, const float* in,
                                            const float* gamma, const float* beta,
                                            int64_t rows, int64_t cols, float eps);

/*
 * out[r,c] = bfloat16(LayerNorm(in[r,:])[c]): xcit_cpu_layernorm_f32 then xcit_cpu_to_bf16
 * in one pass, bit for bit, for a LayerNorm whose only reader is a bf16 GEMM.
 * out: (rows, cols) uint16_t bf16 bit patterns, not overlapping in; other arguments and
 * errors as xcit_cpu_layernorm_f32.
 */
XCIT_API xcit_status xcit_cpu_layernorm_to_bf16(xcit_ctx* ctx, uint16_t* out, const float* in,
                                               const float* gamma, const float* beta,
                                               int64_t rows, int64_t cols, float eps);

/*
 * Residual update fused with the next LayerNorm:
 *   x[r,c] += scale[c] * y[r,c]                   (scale nullable: 1)
 *   out[r,:] = LayerNorm(x[r,:]) as xcit_cpu_layernorm_f32 (double statistics)
 * x: (rows, cols), updated in place. out: (rows, cols), distinct from x and y.
 * y: (rows, cols). scale: (cols) or NULL. gamma, beta: (cols). eps finite >= 0.
 */
XCIT_API xcit_status xcit_cpu_add_layernorm_f32(xcit_ctx* ctx, float* x, float* out,
                                                const float* y, const float* scale,
                                                const float* gamma, const float* beta,
                                                int64_t rows, int64_t cols, float eps);

/*
 * In-place exact-form GELU: x = x/2 * (1 + erf(x / sqrt 2)) over n floats. erf is the
 * Abramowitz-Stegun 7.1.26 form (|error| <= 1.5e-7; the one oneDNN's gelu_erf uses), so
 * with float32 evaluation |result - exact| <= 2.5e-7 * |x| + 1 ulp (tests/test_cpu_runtime.c).
 */
XCIT_API xcit_status xcit_cpu_gelu_f32(xcit_ctx* ctx, float* x, int64_t n);

/*
 * x[r,c] += scale[c] * y[r,c] for x, y (rows, cols); scale (cols) nullable (= 1).
 * y may equal x.
 */
XCIT_API xcit_status xcit_cpu_add_scaled_f32(xcit_ctx* ctx, float* x, const float* y,
                                             const float* scale, int64_t rows, int64_t cols);

/*
 * x[i] += rows[i mod period] for i < total: adds one (period) block to every block of x,
 * e.g. a (N, C) positional table to each image of a (B, N, C) batch. total must be a
 * multiple of period, period >= 1 when total > 0.
 */
XCIT_API xcit_status xcit_cpu_add_broadcast_f32(xcit_ctx* ctx, float* x, const float* rows,
                                                int64_t total, int64_t period);

/*
 * x[r,c] = x[r,c] * scale[c] + shift[c] (an inference BatchNorm), x (rows, cols) in place,
 * scale and shift (cols).
 */
XCIT_API xcit_status xcit_cpu_channel_affine_f32(xcit_ctx* ctx, float* x, const float* scale,
                                                 const float* shift, int64_t rows,
                                                 int64_t cols);

/*
 * out (B, H, W, C) = in (B, C, H, W): an image batch to channel-last.
 */
XCIT_API xcit_status xcit_cpu_nchw_to_nhwc_f32(xcit_ctx* ctx, float* out, const float* in,
                                               int64_t batch, int64_t channels,
                                               int64_t height, int64_t width);

/* Flags of xcit_cpu_conv3x3s2_f32. */
#define XCIT_CONV_GELU 1           /* GELU (as xcit_cpu_gelu_f32) on every output            */
#define XCIT_CONV_CHANNELS_FIRST 2 /* in is (B, Cin, H, W), e.g. the input image as given */

/*
 * 3x3 convolution, stride 2, zero padding 1, direct (no GEMM):
 *   out[b,r,ox,o] = act(bias[o] + sum_{ky,kx,c} in[b, 2oy-1+ky, 2ox-1+kx, c] * weight[o,c,ky,kx])
 * for the output rows oy = first_row + r, r < out_rows (all of them: first_row 0, out_rows
 * ceil(H/2); a band lets a caller hold only part of a large output). act is GELU with
 * XCIT_CONV_GELU, else the identity. out (B, out_rows, ceil(W/2), Cout); in (B, H, W, Cin),
 * or (B, Cin, H, W) with XCIT_CONV_CHANNELS_FIRST (indexed in[b, c, y, x] then);
 * weight (Cout, Cin, 3, 3), torch's layout; bias (Cout). first_row + out_rows <= ceil(H/2).
 * Accumulates in float in the order ky, kx, c.
 */
XCIT_API xcit_status xcit_cpu_conv3x3s2_f32(xcit_ctx* ctx, float* out, const float* in,
                                            const float* weight, const float* bias,
                                            int64_t batch, int64_t height, int64_t width,
                                            int64_t cin, int64_t cout, int64_t first_row,
                                            int64_t out_rows, int32_t flags);

/*
 * The im2col rows of the same convolution for one image, so a GEMM can do the rest:
 *   out[m - row0, (ky*3 + kx)*Cin + c] = in[2oy-1+ky, 2ox-1+kx, c]  (0 outside the image)
 * for output pixels m = oy*ceil(W/2) + ox in [row0, row0 + rows). With the weight
 * permuted to (Cout, 3, 3, Cin) the convolution is out = cols * weight^T + bias.
 * out (rows, 9*Cin); in (H, W, Cin) one image; 0 <= row0, row0 + rows <= ceil(H/2)*ceil(W/2).
 */
XCIT_API xcit_status xcit_cpu_im2col3x3s2_f32(xcit_ctx* ctx, float* out, const float* in,
                                              int64_t height, int64_t width, int64_t cin,
                                              int64_t row0, int64_t rows);

/*
 * Cross-covariance attention core (spec 3), fused: one pass over the tokens gives, per
 * image and head, the raw Gram G = q^T k (d x d) and the squared norms of q's and k's
 * channel rows, accumulated in float32; then
 *   A[i,j] = softmax_j(temperature[h] * G[i,j] / (max(|q_i|,1e-12) max(|k_j|,1e-12)))
 * and a second pass out[n, h*d+i] = sum_j A[i,j] v[n, h*d+j].
 * out (B, N, C); qkv (B, N, 3C), features s*C + h*d + i for s = q, k, v;
 * temperature (heads); d = C / heads (C must be divisible by heads).
 */
XCIT_API xcit_status xcit_cpu_xca_f32(xcit_ctx* ctx, float* out, const float* qkv,
                                      const float* temperature, int64_t batch,
                                      int64_t tokens, int64_t channels, int64_t heads);

/*
 * The covariance-folded path of XCA (spec 3) for one image, in four steps around the
 * caller's GEMMs; u is the (N, C) LN1 output, qkv weight Wqkv (3C, C) / bias bqkv (3C):
 *   1. xcit_cpu_column_sums_f32: out (cols) = sum over rows of in (rows, cols)     -> m
 *   (GEMM: S = u^T u (C, C); T = Wqk S (2C, C), Wqk = Wqkv rows [0, 2C))
 *   2. xcit_cpu_xca_cov_attention_f32: per head h, from T, wqk = Wqkv (rows [0, 2C) are
 *        read), bqk = bqkv (elements [0, 2C) are read), m, N:
 *        <q_i,k_j> = (Wq S Wk^T)_ij + (Wq m)_i bk_j + bq_i (Wk m)_j + N bq_i bk_j,
 *        |q_i|^2 likewise (negative rounding clamped to 0), then
 *        attn (heads, d, d) = softmax_j(temperature[h] <q_i,k_j> / (max(|q_i|,1e-12) max(|k_j|,1e-12)))
 *   3. xcit_cpu_xca_cov_mix_f32: mixed (C, C) = blockdiag(attn) Wv, vb (C) = blockdiag(attn) bv,
 *        from wqkv (3C, C) and bqkv (3C): Wv = rows [2C, 3C), bv = bqkv[2C, 3C)
 *   (GEMM: P = Wproj mixed (C, C))
 *   4. xcit_cpu_xca_cov_finish_f32: wfold (C, C) = gamma * P (row-wise),
 *        bfold (C) = gamma * (Wproj vb + bproj); gamma (C) nullable (= 1)
 *   (GEMM: x += u wfold^T + bfold, which equals x += gamma * proj(XCA(qkv(u)))).
 * Exact in exact arithmetic; float32 throughout (S accumulates over tokens in the GEMM).
 */
XCIT_API xcit_status xcit_cpu_column_sums_f32(xcit_ctx* ctx, float* out, const float* in,
                                              int64_t rows, int64_t cols);
/*
 * s (n, n): the strictly lower triangle is overwritten with the transpose of the strictly
 * upper one (s[i][j] = s[j][i] for i > j), so that a symmetric product such as S = u^T u
 * can be computed on and above the diagonal only.
 */
XCIT_API xcit_status xcit_cpu_symmetrize_upper_f32(xcit_ctx* ctx, float* s, int64_t n);
XCIT_API xcit_status xcit_cpu_xca_cov_attention_f32(xcit_ctx* ctx, float* attn, const float* t,
                                                    const float* wqk, const float* bqk,
                                                    const float* colsum,
                                                    const float* temperature, int64_t tokens,
                                                    int64_t channels, int64_t heads);
XCIT_API xcit_status xcit_cpu_xca_cov_mix_f32(xcit_ctx* ctx, float* mixed, float* vb,
                                              const float* attn, const float* wqkv,
                                              const float* bqkv, int64_t channels, int64_t heads);
XCIT_API xcit_status xcit_cpu_xca_cov_finish_f32(xcit_ctx* ctx, float* wfold, float* bfold,
                                                 const float* p, const float* wproj,
                                                 const float* bproj, const float* vb,
                                                 const float* gamma, int64_t channels);

/*
 * Streamed XCA (spec 3) over chunks of tokens of one image, for sessions that never hold
 * q, k and v for all tokens:
 *   xcit_cpu_xca_gram_f32: stats (heads, d, d + 2) = (accumulate ? stats : 0) + the sums
 *     over the rows of qk (rows, 2C) (q in features [0, C), k in [C, 2C)) of
 *     [h, i, j] = q[h*d+i] k[h*d+j] (j < d), [h, i, d] = q[h*d+i]^2, [h, i, d+1] = k[h*d+i]^2:
 *     chunk after chunk, the raw Gram matrices and squared channel norms over all tokens,
 *     float32 with per-64-token partial sums (as xcit_cpu_xca_f32's first pass);
 *   xcit_cpu_xca_softmax_f32: attn (C, C), block-diagonal: block h =
 *     softmax_j(temperature[h] G[h,i,j] / (max(sqrt(qn[h,i]),1e-12) max(sqrt(kn[h,j]),1e-12))),
 *     zero off the blocks, so that out = v attn^T applies the attention;
 *   xcit_cpu_xca_apply_f32: out (rows, C) [n, h*d+i] = sum_j attn[h*d+i, h*d+j] v[n, h*d+j],
 *     reading only the diagonal blocks of attn (C, C); out must not alias v.
 * d = C / heads (C must be divisible by heads); accumulate is 0 or 1.
 */
XCIT_API xcit_status xcit_cpu_xca_gram_f32(xcit_ctx* ctx, float* stats, const float* qk,
                                           int64_t rows, int64_t channels, int64_t heads,
                                           int32_t accumulate);
XCIT_API xcit_status xcit_cpu_xca_softmax_f32(xcit_ctx* ctx, float* attn, const float* stats,
                                              const float* temperature, int64_t channels,
                                              int64_t heads);
XCIT_API xcit_status xcit_cpu_xca_apply_f32(xcit_ctx* ctx, float* out, const float* v,
                                            const float* attn, int64_t rows, int64_t channels,
                                            int64_t heads);

/*
 * Local patch interaction (spec 3), fused over a channel-last (B, H, W, C) grid:
 *   m = bn_scale * GELU(dwconv3x3(in; weight1, bias1)) + bn_shift    (zero padding 1)
 *   r = dwconv3x3(m; weight2, bias2)                                  (m zero-padded)
 *   out = r                     if gamma is NULL
 *   out += gamma[c] * r         otherwise (the block's residual update, fused)
 * m is never stored whole: each thread keeps a ring of three rows of it (a 1-row halo
 * on each side of the output row, recomputed at band edges).
 * out, in (B, H, W, C), not overlapping; weight1, weight2 (C, 9) = torch's (C, 1, 3, 3);
 * bias1, bias2, bn_scale, bn_shift (C); gamma (C) nullable.
 */
XCIT_API xcit_status xcit_cpu_lpi_f32(xcit_ctx* ctx, float* out, const float* in,
                                      const float* weight1, const float* bias1,
                                      const float* bn_scale, const float* bn_shift,
                                      const float* weight2, const float* bias2,
                                      const float* gamma, int64_t batch, int64_t height,
                                      int64_t width, int64_t channels);

/*
 * Class attention (spec 4) of one query row per image over T rows, per head h (d = C/h):
 *   a_t = softmax_t(q[h*d:(h+1)*d] . k_t[h*d:...] / sqrt d),  out[h*d+i] = sum_t a_t v_t[h*d+i]
 * out (B, C); weights (B, heads, T) nullable, receives a; q (B, C);
 * kv (B, T, 2C) with k in features [0, C) and v in [C, 2C). Scores and sums in float32
 * with the max subtracted before exp.
 */
XCIT_API xcit_status xcit_cpu_class_attention_f32(xcit_ctx* ctx, float* out, float* weights,
                                                  const float* q, const float* kv,
                                                  int64_t batch, int64_t rows,
                                                  int64_t channels, int64_t heads);

/*
 * Class attention (spec 4) with the k and v projections folded away: the same result as
 * k, v = the rows of u times Wk, Wv (plus bk, bv) followed by xcit_cpu_class_attention_f32,
 * without computing k and v for any row. Per image and head h (d = C / heads, s = d^-1/2):
 *   scores[h, t] = u_t . K'_h + c_h, K'_h = s sum_j q[h*d+j] Wk[h*d+j, :], c_h = s q_h . bk_h
 *   a[h, :] = softmax_t(scores[h, :])
 *   out[h*d+j] = Wv[h*d+j, :] . ubar_h + bv[h*d+j],  ubar_h = sum_t a[h, t] u_t
 * O(T C heads + C^2) per image instead of O(T C^2). Float32 throughout; the softmax as
 * xcit_cpu_softmax_rows_f32.
 *   xcit_cpu_class_attention_folded_f32: the whole op for B images: out (B, C); weights
 *     (B, heads, T) nullable, receives a; q (B, C) the cls queries; u (B, T, C) the rows;
 *     kv_weight (2C, C) = [Wk; Wv] and kv_bias (2C) = [bk; bv], nullable (no bias): the kv
 *     Linear of xcit_cpu_class_attention_f32's route.
 * Its steps, for one image whose T rows come in chunks (streamed sessions), with scores and
 * weights in a (heads, T) buffer of row stride `stride` >= rows (pass scores + t0 for a chunk
 * starting at row t0):
 *   xcit_cpu_class_attention_fold_query_f32: keys (heads, C + 1), row h = [K'_h, c_h], from
 *     q (C), k_weight (C, C), k_bias (C) nullable.
 *   xcit_cpu_class_attention_folded_scores_f32: scores[h*stride + t] = u[t] . keys[h, :C]
 *     + keys[h, C] for t < rows; u (rows, C).
 *   xcit_cpu_softmax_rows_f32: x (rows, cols) = softmax along each row, in place (the max
 *     subtracted before exp, the sum in double): the scores become the attention weights.
 *   xcit_cpu_class_attention_folded_sum_f32: ubar (heads, C) = (accumulate ? ubar : 0)
 *     + sum_{t < rows} weights[h*stride + t] u[t]; u (rows, C); accumulate is 0 or 1.
 *   xcit_cpu_class_attention_folded_out_f32: out (C) [h*d+j] = v_weight[h*d+j, :] . ubar[h]
 *     + v_bias[h*d+j]; v_weight (C, C), v_bias (C) nullable.
 * C must be divisible by heads.
 */
XCIT_API xcit_status xcit_cpu_class_attention_folded_f32(xcit_ctx* ctx, float* out, float* weights,
                                                         const float* q, const float* u,
                                                         const float* kv_weight, const float* kv_bias,
                                                         int64_t batch, int64_t rows,
                                                         int64_t channels, int64_t heads);
XCIT_API xcit_status xcit_cpu_class_attention_fold_query_f32(xcit_ctx* ctx, float* keys,
                                                             const float* q, const float* k_weight,
                                                             const float* k_bias, int64_t channels,
                                                             int64_t heads);
XCIT_API xcit_status xcit_cpu_class_attention_folded_scores_f32(xcit_ctx* ctx, float* scores,
                                                                const float* keys, const float* u,
                                                                int64_t rows, int64_t channels,
                                                                int64_t heads, int64_t stride);
XCIT_API xcit_status xcit_cpu_softmax_rows_f32(xcit_ctx* ctx, float* x, int64_t rows, int64_t cols);
XCIT_API xcit_status xcit_cpu_class_attention_folded_sum_f32(xcit_ctx* ctx, float* ubar,
                                                             const float* weights, const float* u,
                                                             int64_t rows, int64_t channels,
                                                             int64_t heads, int64_t stride,
                                                             int32_t accumulate);
XCIT_API xcit_status xcit_cpu_class_attention_folded_out_f32(xcit_ctx* ctx, float* out,
                                                             const float* ubar,
                                                             const float* v_weight,
                                                             const float* v_bias, int64_t channels,
                                                             int64_t heads);

/*
 * 2x2 transposed convolution, stride 2:
 *   out[b, 2y+i, 2x+j, o] = bias[o] + sum_c in[b,y,x,c] * weight[c,o,i,j]
 * out (B, 2H, 2W, Cout); in (B, H, W, Cin); weight (Cin, Cout, 2, 2), torch's layout;
 * bias (Cout).
 */
XCIT_API xcit_status xcit_cpu_conv_transpose2x2_f32(xcit_ctx* ctx, float* out, const float* in,
                                                    const float* weight, const float* bias,
                                                    int64_t batch, int64_t height,
                                                    int64_t width, int64_t cin, int64_t cout);

/*
 * k x k max pooling, stride k, no padding (floor): out (B, H/k, W/k, C) from in
 * (B, H, W, C); NaN propagates as in torch. k >= 1.
 */
XCIT_API xcit_status xcit_cpu_max_pool_f32(xcit_ctx* ctx, float* out, const float* in,
                                           int64_t batch, int64_t height, int64_t width,
                                           int64_t channels, int64_t k);

/*
 * out[i] = bfloat16(in[i]) for i < n, rounded to nearest even (NaN stays NaN): the GEMM
 * inputs of the bf16 precision. out: n uint16_t (bf16 bit patterns); in: n floats.
 */
XCIT_API xcit_status xcit_cpu_to_bf16(xcit_ctx* ctx, uint16_t* out, const float* in, int64_t n);

/* out (B, C) = in (B, R, C)[:, row, :], 0 <= row < R. */
XCIT_API xcit_status xcit_cpu_gather_row_f32(xcit_ctx* ctx, float* out, const float* in,
                                             int64_t batch, int64_t rows, int64_t cols,
                                             int64_t row);

/* out (B, R, C)[:, row, :] = in (B, C), 0 <= row < R; other rows untouched. */
XCIT_API xcit_status xcit_cpu_scatter_row_f32(xcit_ctx* ctx, float* out, const float* in,
                                              int64_t batch, int64_t rows, int64_t cols,
                                              int64_t row);

/* out (B, N+1, C) = [first (C); tokens (B, N, C)] per image (prepends the cls token). */
XCIT_API xcit_status xcit_cpu_prepend_row_f32(xcit_ctx* ctx, float* out, const float* first,
                                              const float* tokens, int64_t batch,
                                              int64_t tokens_per_image, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif /* XCIT_XCIT_H */
