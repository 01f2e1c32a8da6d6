/* Completes a symmetric matrix from its upper triangle (xcit.h). The covariance route
 * computes S = u^T u only for the diagonal blocks and those right of them, which saves
 * about a third of that GEMM; the GEMMs that read S need it whole. Pure copying, so no
 * per-ISA kernel; 32 x 32 tiles keep the rows read and the rows written in L1. */
#include "cpu/runtime.h"

enum { TILE = 32 };

xcit_status xcit_cpu_symmetrize_upper_f32(xcit_ctx* ctx, float* s, int64_t n) {
  static const char* const OP = "xcit_cpu_symmetrize_upper_f32";
  xcit_status st;
  if ((st = xcit_check_ctx(ctx)) != XCIT_OK || (st = xcit_check_ptr(ctx, OP, "s", s)) != XCIT_OK ||
      (st = xcit_check_matrix(ctx, OP, n, n)) != XCIT_OK) {
    return st;
  }
  for (int64_t i0 = 0; i0 < n; i0 += TILE) {
    const int64_t i1 = i0 + TILE < n ? i0 + TILE : n;
    for (int64_t j0 = 0; j0 <= i0; j0 += TILE) {
      const int64_t j1 = j0 + TILE < n ? j0 + TILE : n;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t jend = j1 < i ? j1 : i;
        for (int64_t j = j0; j < jend; ++j) s[i * n + j] = s[j * n + i];
      }
    }
  }
  return XCIT_OK;
}
