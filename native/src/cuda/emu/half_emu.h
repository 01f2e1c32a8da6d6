// Software fp16 and bf16 for the host emulator: 16-bit storage types with the device's
// conversions (round to nearest even, subnormals, infinities and NaN), so an emulated
// fp16/bf16 kernel rounds exactly where and how the device kernel does.
#ifndef XCIT_HALF_EMU_H
#define XCIT_HALF_EMU_H

#include <cstdint>
#include <cstring>

namespace xcit_emu {

struct half {
  uint16_t bits;
};
struct bfloat16 {
  uint16_t bits;
};

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float half_to_float(half h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000u) << 16;
  const uint32_t exp = (h.bits >> 10) & 0x1fu;
  uint32_t mant = h.bits & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return bits_float(sign);
  int e = -1;  // subnormal: normalise the mantissa
  do {
    ++e;
    mant <<= 1;
  } while ((mant & 0x400u) == 0);
  return bits_float(sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13));
}

inline half float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return half{static_cast<uint16_t>(sign | 0x7e00u)};  // NaN
  if (abs >= 0x477ff000u) return half{static_cast<uint16_t>(sign | 0x7c00u)};  // rounds to inf
  if (abs < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    // value = abs_float * 2^24 half-subnormal units, rounded to nearest even.
    const float scaled = bits_float(abs) * 16777216.0f;  // exact: power-of-two scaling
    uint32_t q = static_cast<uint32_t>(scaled);
    const float rest = scaled - static_cast<float>(q);
    if (rest > 0.5f || (rest == 0.5f && (q & 1u))) ++q;
    return half{static_cast<uint16_t>(sign | q)};
  }
  // Normal: drop 13 mantissa bits with round to nearest even, re-bias the exponent.
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return half{static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13))};
}

inline float bf16_to_float(bfloat16 b) { return bits_float(static_cast<uint32_t>(b.bits) << 16); }

inline bfloat16 float_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return bfloat16{static_cast<uint16_t>((u >> 16) | 0x40u)};  // quiet NaN
  }
  return bfloat16{static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

}  // namespace xcit_emu

#endif  // XCIT_HALF_EMU_H
