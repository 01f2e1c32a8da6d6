/* Tiny helpers shared by the C tests: a deterministic RNG, NaN guard bands and a
 * check macro that counts failures instead of aborting (so one run lists them all). */
#ifndef XCIT_TEST_UTIL_H
#define XCIT_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_failures = 0;

#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      ++g_failures;                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                             \
      fputc('\n', stderr);                                      \
    }                                                           \
  } while (0)

/* xorshift64*: reproducible across platforms, unlike rand(). */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t rng_next(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [lo, hi). */
static inline float rng_uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)((double)(rng_next() >> 11) / 9007199254740992.0);
}
static inline int64_t rng_int(int64_t lo, int64_t hi) { /* inclusive */
  return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* A buffer of n floats with GUARD NaNs on each side: an op that writes out of bounds
 * turns a guard into a number, which guard_intact() reports. */
#define GUARD 64
typedef struct {
  float* base; /* n + 2 * GUARD floats */
  float* data; /* base + GUARD */
  int64_t n;
} guarded;

static inline guarded guarded_alloc(int64_t n) {
  guarded g;
  g.n = n;
  g.base = malloc((size_t)(n + 2 * GUARD) * sizeof(float));
  if (g.base == NULL) {
    fprintf(stderr, "test: out of memory\n");
    exit(2);
  }
  for (int64_t i = 0; i < n + 2 * GUARD; ++i) g.base[i] = NAN;
  g.data = g.base + GUARD;
  return g;
}

static inline int guard_intact(const guarded* g) {
  for (int64_t i = 0; i < GUARD; ++i) {
    if (!isnan(g->base[i]) || !isnan(g->data[g->n + i])) return 0;
  }
  return 1;
}

static inline int test_summary(const char* name) {
  if (g_failures == 0) {
    printf("%s: all checks passed\n", name);
    return 0;
  }
  printf("%s: %d check(s) failed\n", name, g_failures);
  return 1;
}

#endif /* XCIT_TEST_UTIL_H */
