/* xcit_cuda_layernorm_f32 against xcit_cpu_layernorm_f32 on a real GPU. Exits 77
 * (ctest: skipped) where no CUDA device is usable, printing why. */
#include <cuda_runtime.h>

#include "test_util.h"
#include "xcit/xcit_cuda.h"

/* The GPU reduces in fp32 (tree order), the CPU in double: for |x - mean| / std up to
 * ~4 and gamma, beta ~ 1 the fp32 mean/variance carry a few ulp of relative error,
 * i.e. ~1e-6 absolute in the output; 1e-5 leaves headroom without hiding a wrong
 * index or a missing element (those are O(1) off). */
static const double TOL = 1e-5;

static float* to_device(const float* host, int64_t n) {
  void* dev = NULL;
  if (cudaMalloc(&dev, (size_t)(n > 0 ? n : 1) * sizeof(float)) != cudaSuccess) return NULL;
  if (n > 0) cudaMemcpy(dev, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice);
  return (float*)dev;
}

static void check_case(xcit_ctx* ctx, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  float* in = malloc((size_t)(n + 1) * sizeof(float));
  float* want = malloc((size_t)(n + 1) * sizeof(float));
  /* The device output is the middle of an image with GUARD NaNs on each side; the
   * whole image is copied back, so a stray device write shows as a non-NaN guard. */
  guarded img = guarded_alloc(n);
  float* gamma = malloc((size_t)cols * sizeof(float));
  float* beta = malloc((size_t)cols * sizeof(float));
  for (int64_t i = 0; i < n; ++i) in[i] = rng_uniform(-3.0f, 3.0f);
  for (int64_t c = 0; c < cols; ++c) {
    gamma[c] = rng_uniform(0.5f, 1.5f);
    beta[c] = rng_uniform(-0.5f, 0.5f);
  }
  CHECK(xcit_cpu_layernorm_f32(ctx, want, in, gamma, beta, rows, cols, 1e-6f) == XCIT_OK, "cpu");

  float* d_in = to_device(in, n);
  float* d_img = to_device(img.base, n + 2 * GUARD);
  float* d_gamma = to_device(gamma, cols);
  float* d_beta = to_device(beta, cols);
  CHECK(d_in && d_img && d_gamma && d_beta, "cudaMalloc failed");
  if (d_in && d_img && d_gamma && d_beta) {
    const xcit_status st =
        xcit_cuda_layernorm_f32(ctx, d_img + GUARD, d_in, d_gamma, d_beta, rows, cols, 1e-6f);
    CHECK(st == XCIT_OK, "launch: %s", xcit_ctx_last_error(ctx));
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "kernel failed");
    cudaMemcpy(img.base, d_img, (size_t)(n + 2 * GUARD) * sizeof(float), cudaMemcpyDeviceToHost);
    double worst = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double err = fabs((double)img.data[i] - (double)want[i]);
      worst = err > worst || isnan(err) ? err : worst;
    }
    CHECK(worst <= TOL, "rows=%lld cols=%lld: max abs error %g", (long long)rows,
          (long long)cols, worst);
    CHECK(guard_intact(&img), "rows=%lld cols=%lld: write outside the output", (long long)rows,
          (long long)cols);
  }
  cudaFree(d_in);
  cudaFree(d_img);
  cudaFree(d_gamma);
  cudaFree(d_beta);
  free(in);
  free(want);
  free(img.base);
  free(gamma);
  free(beta);
}

int main(void) {
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    printf("test_cuda_layernorm: SKIPPED, no CUDA device (%s)\n",
           err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 77;
  }
  xcit_ctx* ctx = NULL;
  if (xcit_ctx_create(&ctx) != XCIT_OK) return 1;
  const int64_t shapes[][2] = {{1, 1}, {6, 1}, {5, 7}, {3, 384}, {197, 384}, {2, 1000}, {4, 33}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    check_case(ctx, shapes[i][0], shapes[i][1]);
  }
  for (int i = 0; i < 20; ++i) check_case(ctx, rng_int(1, 64), rng_int(1, 1100));
  xcit_ctx_destroy(ctx);
  return test_summary("test_cuda_layernorm");
}
