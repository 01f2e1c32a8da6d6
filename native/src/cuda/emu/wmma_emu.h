// nvcuda::wmma (mma.h) on the host emulator: the m16n16k16 shapes with fp16/bf16 A and B
// and fp32 accumulators, as the CUDA C++ Programming Guide ("Warp Matrix Functions")
// documents them, with every documented requirement checked instead of assumed:
// - load_matrix_sync, store_matrix_sync and mma_sync are warp-collective: all 32 lanes of
//   a whole warp call them, with the same pointer, leading dimension and layout. A lane
//   that skips a call leaves its warp waiting at the barrier (the launch fails as a
//   deadlock); different pointers or leading dimensions fail the launch.
// - mptr must be 256-bit (32-byte) aligned and ldm a multiple of 16 bytes (8 elements of
//   a 16-bit type, 4 of float); anything else fails the launch ("misaligned address").
// - The mapping of matrix elements to a lane's fragment storage x[] is unspecified. Here
//   it is a fixed permutation, different for A, B and accumulators and unlike any
//   hardware's, so a kernel that reads or writes x[i] as if it knew which element that is
//   computes garbage under test; element-wise operations on every x[i] stay valid.
// - mma_sync(d, a, b, c): D = A B + C, the products of 16-bit values exact in fp32 and
//   summed in k order in fp32 (hardware sums in an unspecified order; results agree to
//   fp32 rounding). d may be c.
#ifndef XCIT_WMMA_EMU_H
#define XCIT_WMMA_EMU_H

#include <cstdint>
#include <type_traits>

#include "cuda/emu/cuda_emu.h"
#include "cuda/emu/half_emu.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace emu {

constexpr int kSide = 16;
constexpr int kPerLane = kSide * kSide / ::xcit_emu::kWarpSize;  // 8 elements per lane

inline float widen(float v) { return v; }
inline float widen(::xcit_emu::half v) { return ::xcit_emu::half_to_float(v); }
inline float widen(::xcit_emu::bfloat16 v) { return ::xcit_emu::bf16_to_float(v); }

// Element (row, col) = kind's permutation of slot lane * 8 + e: p = (97 slot + offset) mod
// 256 is a bijection (97 is odd), so each element lives in exactly one lane's storage.
template <class Use>
constexpr int kOffset = std::is_same_v<Use, matrix_a> ? 13 : std::is_same_v<Use, matrix_b> ? 71 : 150;
template <class Use>
inline void element_of(int lane, int e, int& row, int& col) {
  const int p = (97 * (lane * kPerLane + e) + kOffset<Use>) % (kSide * kSide);
  row = p / kSide;
  col = p % kSide;
}

// The warp-uniform arguments and the alignment rules of a load or store.
template <class T>
inline void check_access(const void* p, unsigned ldm, const char* what) {
  struct Args {
    const void* p;
    unsigned ldm;
  } mine{p, ldm}, all[::xcit_emu::kWarpSize];
  ::xcit_emu::warp_all_gather(&mine, all, sizeof mine, 0xffffffffu);
  for (const Args& a : all) {
    if (a.p != p || a.ldm != ldm) ::xcit_emu::fail("wmma: lanes of a warp passed different pointers or ldm");
  }
  ::xcit_emu::require_aligned(p, 32, what);
  if ((ldm * sizeof(T)) % 16 != 0) ::xcit_emu::fail("wmma: ldm is not a multiple of 16 bytes");
}

// Offset of element (row, col) in memory of the given layout.
inline int64_t at(int row, int col, unsigned ldm, bool row_major) {
  return row_major ? static_cast<int64_t>(row) * ldm + col : row + static_cast<int64_t>(col) * ldm;
}

// f(e, offset) for each element e of the calling lane's fragment of kind Use, offset its
// place in memory of that layout.
template <class Use, class F>
inline void for_each_own(unsigned ldm, bool row_major, F f) {
  const int lane = ::xcit_emu::lane_id();
  for (int e = 0; e < kPerLane; ++e) {
    int r, c;
    element_of<Use>(lane, e, r, c);
    f(e, at(r, c, ldm, row_major));
  }
}

}  // namespace emu

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulator has the m16n16k16 shapes only");
  static_assert(std::is_same_v<Use, accumulator> ? std::is_same_v<T, float>
                                                 : (std::is_same_v<T, ::xcit_emu::half> ||
                                                    std::is_same_v<T, ::xcit_emu::bfloat16>),
                "A and B in fp16 or bf16, accumulators in fp32");
  enum { num_elements = emu::kPerLane };
  using element_type = T;
  T x[num_elements];
};

template <class Use, int M, int N, int K, class T, class Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, T v) {
  for (T& e : f.x) e = v;
}

template <class Use, class T, class Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "accumulators load with a layout_t");
  emu::check_access<T>(p, ldm, "wmma::load_matrix_sync");
  emu::for_each_own<Use>(ldm, std::is_same_v<Layout, row_major>, [&](int e, int64_t at) { f.x[e] = p[at]; });
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
  emu::check_access<float>(p, ldm, "wmma::load_matrix_sync");
  emu::for_each_own<accumulator>(ldm, layout == mem_row_major, [&](int e, int64_t at) { f.x[e] = p[at]; });
}

inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
  emu::check_access<float>(p, ldm, "wmma::store_matrix_sync");
  emu::for_each_own<accumulator>(ldm, layout == mem_row_major, [&](int e, int64_t at) { p[at] = f.x[e]; });
}

template <class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b,
                     const fragment<accumulator, 16, 16, 16, float>& c) {
  constexpr int kLanes = ::xcit_emu::kWarpSize, kN = emu::kPerLane;
  struct Mine {
    T a[kN], b[kN];
    float c[kN];
  } mine, all[kLanes];
  for (int e = 0; e < kN; ++e) {
    mine.a[e] = a.x[e];
    mine.b[e] = b.x[e];
    mine.c[e] = c.x[e];
  }
  ::xcit_emu::warp_all_gather(&mine, all, sizeof mine, 0xffffffffu);
  float am[16][16], bm[16][16], cm[16][16];
  for (int l = 0; l < kLanes; ++l) {
    for (int e = 0; e < kN; ++e) {
      int r, col;
      emu::element_of<matrix_a>(l, e, r, col);
      am[r][col] = emu::widen(all[l].a[e]);
      emu::element_of<matrix_b>(l, e, r, col);
      bm[r][col] = emu::widen(all[l].b[e]);
      emu::element_of<accumulator>(l, e, r, col);
      cm[r][col] = all[l].c[e];
    }
  }
  const int lane = ::xcit_emu::lane_id();
  for (int e = 0; e < kN; ++e) {
    int r, col;
    emu::element_of<accumulator>(lane, e, r, col);
    float acc = cm[r][col];
    for (int k = 0; k < 16; ++k) acc += am[r][k] * bm[k][col];
    d.x[e] = acc;
  }
}

}  // namespace wmma
}  // namespace nvcuda

#endif  // XCIT_WMMA_EMU_H
