package org.xcit4j.backend.java;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ErfTest {
    @Test
    void matchesReferenceValues() {
        // Values from Abramowitz & Stegun table 7.1 / high-precision references.
        assertEquals(0.0, Erf.erf(0.0), 0);
        assertEquals(0.1124629160182849, Erf.erf(0.1), 1e-15);
        assertEquals(0.8427007929497149, Erf.erf(1.0), 1e-15);
        assertEquals(-0.9953222650189527, Erf.erf(-2.0), 1e-15);
        assertEquals(0.9999779095030014, Erf.erf(3.0), 1e-15);
        assertEquals(1.0, Erf.erf(7.0), 0);
        // GELU(1) = 0.5 * (1 + erf(1/sqrt 2)) = 0.8413447460685429
        assertEquals(0.8413447460685429, Erf.gelu(1.0), 1e-15);
        assertEquals(-0.15865525393145707, Erf.gelu(-1.0), 1e-15);
    }
}
