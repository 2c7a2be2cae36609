package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ReferenceElementwiseTest {
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(13);

    @Test
    void addAccumulateAndScale() {
        Tensor a = Tensor.fromArray(new float[] {1, 2, 3, 4}, 2, 2), b = Tensor.fromArray(new float[] {10, 20, 30, 40}, 2, 2);
        Tensor out = Tensor.zeros(2, 2);
        k.add(a, b, out);
        assertArrayEquals(new float[] {11, 22, 33, 44}, out.toFloatArray());
        k.add(a, b, a); // out aliases a
        assertArrayEquals(new float[] {11, 22, 33, 44}, a.toFloatArray());
        k.accumulate(b, -0.5f, a);
        assertArrayEquals(new float[] {6, 12, 18, 24}, a.toFloatArray());
        k.scale(a, 0.5f);
        assertArrayEquals(new float[] {3, 6, 9, 12}, a.toFloatArray());
        // a strided destination: the transpose view gets the transposed sum
        Tensor base = Tensor.zeros(2, 2);
        k.accumulate(b, 1f, base.transposeLast2());
        assertArrayEquals(new float[] {10, 30, 20, 40}, base.toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> k.add(a, Tensor.zeros(4), out));
        // a rank-3 strided view is read and written through its strides
        Tensor cube = Tensor.zeros(2, 2, 3);
        Tensor src = Tensor.fromArray(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 3, 2);
        k.accumulate(src, 1f, cube.transposeLast2());
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int l = 0; l < 2; l++) assertEquals(src.get(i * 6 + j * 2 + l), cube.get(i * 6 + l * 3 + j));
            }
        }
    }

    @Test
    void dropoutMaskFollowsTheSeededGeneratorInRowMajorOrder() {
        float p = 0.3f;
        Tensor x = randn(random, 1f, 40, 50), mask = Tensor.zeros(40, 50), y = Tensor.zeros(40, 50);
        k.dropoutForward(x, p, 1234L, mask, y);
        SplittableRandom expected = new SplittableRandom(1234L);
        float keep = (float) (1.0 / (1 - p));
        int kept = 0;
        for (int i = 0; i < 2000; i++) {
            float m = expected.nextDouble() >= p ? keep : 0f;
            assertEquals(m, mask.get(i), "mask[" + i + "]");
            assertEquals(x.get(i) * m, y.get(i));
            if (m != 0) kept++;
        }
        assertEquals(0.7, kept / 2000.0, 0.04, "fraction kept");

        Tensor mask2 = Tensor.zeros(40, 50);
        k.dropoutForward(x, p, 1234L, mask2, Tensor.zeros(40, 50));
        assertArrayEquals(mask.toFloatArray(), mask2.toFloatArray(), "same seed, same mask");
        k.dropoutForward(x, p, 1235L, mask2, Tensor.zeros(40, 50));
        assertFalse(java.util.Arrays.equals(mask.toFloatArray(), mask2.toFloatArray()), "another seed, another mask");
    }

    @Test
    void dropoutWithZeroProbabilityCopies() {
        Tensor x = randn(random, 1f, 3, 4), mask = Tensor.zeros(3, 4), y = Tensor.zeros(3, 4);
        k.dropoutForward(x, 0f, 9L, mask, y);
        assertArrayEquals(x.toFloatArray(), y.toFloatArray());
        for (float m : mask.toFloatArray()) assertEquals(1f, m);
        assertThrows(IllegalArgumentException.class, () -> k.dropoutForward(x, -0.1f, 9L, mask, y));
    }

    @Test
    void dropoutBackwardMatchesFiniteDifferencesAndAccumulates() {
        Tensor x = randn(random, 1f, 4, 6), mask = Tensor.zeros(4, 6), y = Tensor.zeros(4, 6), r = randn(random, 1f, 4, 6);
        Loss loss = weightedSum(() -> k.dropoutForward(x, 0.5f, 77L, mask, y), y, r);
        loss.eval();
        Tensor dx = zerosLike(x);
        k.dropoutBackward(r, mask, dx);
        assertGradient("dropout", x, dx, loss);
        Tensor dx2 = dx.copy();
        k.dropoutBackward(r, mask, dx2);
        for (int i = 0; i < 24; i++) assertEquals(2 * dx.get(i), dx2.get(i), 1e-6);
    }

    @Test
    void sumOfSquaresInDoubleOverViews() {
        Tensor g = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertEquals(91.0, k.sumOfSquares(g));
        assertEquals(91.0, k.sumOfSquares(g.transposeLast2()));
        assertEquals(16 + 25 + 36, k.sumOfSquares(g.slice(1, 1)));
        // double accumulation: 1e8 + many small squares keeps the small ones
        float[] v = new float[1001];
        v[0] = 1e4f;
        java.util.Arrays.fill(v, 1, v.length, 1f);
        assertEquals(1e8 + 1000, k.sumOfSquares(Tensor.fromArray(v, v.length)));
    }
}
