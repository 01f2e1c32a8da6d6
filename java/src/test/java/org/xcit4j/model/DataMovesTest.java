package org.xcit4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.xcit4j.backend.java.JavaBackend;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/** The copies and transposes composed from backend ops over views. */
class DataMovesTest {
    private static Tensor iota(Arena arena, long... dims) {
        Tensor t = Tensor.allocate(arena, Shape.of(dims));
        for (long i = 0; i < t.numel(); i++) t.set(i, i);
        return t;
    }

    @Test
    void channelFirstTransposesEachImage() {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            Tensor in = iota(arena, 2, 3, 4, 5), out = Tensor.allocate(arena, Shape.of(2, 5, 3, 4));
            DataMoves.toChannelFirst(be, out, in);
            for (int b = 0; b < 2; b++)
                for (int c = 0; c < 5; c++)
                    for (int y = 0; y < 3; y++)
                        for (int x = 0; x < 4; x++)
                            assertEquals(in.get(((b * 3L + y) * 4 + x) * 5 + c), out.get(((b * 5L + c) * 3 + y) * 4 + x));
        }
    }

    @Test
    void dropFirstColumnAndCopyAndRows() {
        try (Arena arena = Arena.ofConfined(); JavaBackend be = new JavaBackend()) {
            Tensor in = iota(arena, 3, 4), out = Tensor.allocate(arena, Shape.of(3, 3)), scratch = Tensor.allocate(arena, Shape.of(12));
            DataMoves.DropFirstColumn.of(out, in, scratch, 3, 4).run(be);
            for (int r = 0; r < 3; r++) for (int c = 0; c < 3; c++) assertEquals(r * 4 + c + 1, out.get(r * 3L + c));
            Tensor dst = Tensor.allocate(arena, Shape.of(12));
            DataMoves.copy(be, dst, in);
            for (int i = 0; i < 12; i++) assertEquals(i, dst.get(i));
            Tensor image = iota(arena, 1, 5, 2, 3);
            Tensor rows = DataMoves.rows(image, 1, 3);
            assertEquals(Shape.of(1, 2, 2, 3), rows.shape());
            assertEquals(6f, rows.get(0));
        }
    }
}
