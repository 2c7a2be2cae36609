package dev.xgblora.model;

import dev.xgblora.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

/** Scratch hands out shape-keyed views: the same object for a shape seen lately, a fresh one over a grown buffer. */
class ScratchTest {
    @Test
    void aShapeSeenLatelyGetsTheSameViewObject() {
        Scratch s = new Scratch();
        Tensor a = s.view(4, 8);
        Tensor b = s.view(3, 8); // a ragged batch: smaller, same buffer
        assertSame(a, s.view(4, 8));
        assertSame(b, s.view(3, 8));
        assertArrayEquals(new long[]{3, 8}, b.shape());
        assertEquals(32, s.capacity());
        b.set(2, 7, 7f);
        assertEquals(7f, a.get(2, 7), "both views share the buffer");
    }

    @Test
    void growingDropsViewsOfTheOldBuffer() {
        Scratch s = new Scratch();
        Tensor small = s.view(2, 2);
        Tensor big = s.view(8, 8);
        Tensor again = s.view(2, 2);
        assertNotSame(small, again, "the old view points at the replaced array");
        again.set(1, 1, 5f);
        assertEquals(5f, big.get(0, 3), "the new view reads the grown buffer");
    }

    @Test
    void remembersOnlyTheLastFewShapes() {
        Scratch s = new Scratch();
        Tensor first = s.view(1, 4);
        for (int t = 2; t <= Scratch.SHAPES + 1; t++) s.view(t, 4);
        assertNotSame(first, s.view(1, 4));
        assertArrayEquals(new long[]{1, 4}, s.view(1, 4).shape());
    }
}
