package org.xcit4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class MemoryPlanTest {

    @Test
    void buffersWithDisjointLifetimesShareBytesAndOverlappingOnesDoNot() {
        try (Arena arena = Arena.ofConfined()) {
            MemoryPlan plan = MemoryPlan.builder()
                    .add("a", Shape.of(256), 0, 1)
                    .add("b", Shape.of(256), 1, 2)
                    .add("c", Shape.of(256), 2, 3)
                    .add("d", Shape.of(16), 0, 3)
                    .allocate(arena);
            long a = plan.tensor("a").segment().address(), b = plan.tensor("b").segment().address();
            long c = plan.tensor("c").segment().address(), d = plan.tensor("d").segment().address();
            assertEquals(a, c, "a and c never live together");
            assertNotEquals(a, b);
            assertNotEquals(b, c);
            assertEquals(2 * 1024 + 64, plan.bytes());
            for (long x : new long[] {a, b, c}) assertNotEquals(d, x);
            assertEquals(Shape.of(256), plan.tensor("b").shape());
        }
    }
}
