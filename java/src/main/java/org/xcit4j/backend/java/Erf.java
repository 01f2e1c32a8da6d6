package org.xcit4j.backend.java;

/**
 * The error function to double precision, for the reference GELU. Java has no erf, and the
 * tanh GELU is off by ~2e-6, which the spec does not accept as exact.
 */
final class Erf {
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);

    private Erf() {
    }

    /**
     * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1)): every term is
     * positive, so the sum has no cancellation at any x. Beyond |x| = 6, erf is 1 in double.
     */
    static double erf(double x) {
        double a = Math.abs(x);
        if (a >= 6.0) return Math.copySign(1.0, x);
        double x2 = a * a;
        double term = a;
        double sum = a;
        for (int n = 0; term > 1e-17 * sum; n++) {
            term *= 2.0 * x2 / (2 * n + 3);
            sum += term;
        }
        return Math.copySign(Math.min(1.0, TWO_OVER_SQRT_PI * Math.exp(-x2) * sum), x);
    }

    /** Exact GELU: x/2 * (1 + erf(x / sqrt 2)). */
    static double gelu(double x) {
        return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
    }
}
