package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ReferenceLinearLoraTest {
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(42);

    @Test
    void linearForwardMatchesHandComputedValues() {
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor w = Tensor.fromArray(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
        Tensor b = Tensor.fromArray(new float[] {0.5f, -1, 2}, 3);
        Tensor y = Tensor.zeros(2, 3);
        y.fill(99f); // forward overwrites
        k.linearForward(x, w, b, y);
        assertArrayEquals(new float[] {1.5f, 1, 5, 3.5f, 3, 9}, y.toFloatArray());
        k.linearForward(x, w, null, y);
        assertArrayEquals(new float[] {1, 2, 3, 3, 4, 7}, y.toFloatArray());
    }

    @Test
    void linearBackwardMatchesFiniteDifferences() {
        Tensor x = randn(random, 1f, 2, 3, 5); // rank 3: seen as [6, 5]
        Tensor w = randn(random, 0.5f, 4, 5);
        Tensor b = randn(random, 0.5f, 4);
        Tensor y = Tensor.zeros(2, 3, 4);
        Tensor r = randn(random, 1f, 2, 3, 4);
        Loss loss = weightedSum(() -> k.linearForward(x, w, b, y), y, r);

        Tensor dx = zerosLike(x), dw = zerosLike(w), db = zerosLike(b);
        k.linearBackwardInput(r, w, dx);
        k.linearBackwardWeight(r, x, dw);
        k.linearBackwardBias(r, db);
        assertGradient("linear dx", x, dx, loss);
        assertGradient("linear dw", w, dw, loss);
        assertGradient("linear db", b, db, loss);
    }

    @Test
    void linearBackwardAccumulatesIntoExistingGradients() {
        Tensor x = randn(random, 1f, 3, 5);
        Tensor w = randn(random, 1f, 4, 5);
        Tensor dy = randn(random, 1f, 3, 4);
        Tensor dx = zerosLike(x), dw = zerosLike(w), db = Tensor.zeros(4);
        k.linearBackwardInput(dy, w, dx);
        k.linearBackwardWeight(dy, x, dw);
        k.linearBackwardBias(dy, db);

        Tensor dx2 = randn(random, 1f, 3, 5), dw2 = randn(random, 1f, 4, 5), db2 = randn(random, 1f, 4);
        Tensor dx0 = dx2.copy(), dw0 = dw2.copy(), db0 = db2.copy();
        k.linearBackwardInput(dy, w, dx2);
        k.linearBackwardWeight(dy, x, dw2);
        k.linearBackwardBias(dy, db2);
        k.accumulate(dx0, 1f, dx);
        k.accumulate(dw0, 1f, dw);
        k.accumulate(db0, 1f, db);
        assertClose("dx accumulates", dx, dx2, 1e-6, 1e-6);
        assertClose("dw accumulates", dw, dw2, 1e-6, 1e-6);
        assertClose("db accumulates", db, db2, 1e-6, 1e-6);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void halfPrecisionWeightEqualsItsF32Widening(DType dtype) {
        Tensor x = randn(random, 1f, 3, 8);
        Tensor wHalf = randn(random, 0.5f, dtype, 5, 8);
        Tensor wWide = convert(wHalf, DType.F32);
        Tensor yHalf = Tensor.zeros(3, 5), yWide = Tensor.zeros(3, 5);
        k.linearForward(x, wHalf, null, yHalf);
        k.linearForward(x, wWide, null, yWide);
        assertArrayEquals(yWide.toFloatArray(), yHalf.toFloatArray());
        assertEquals(dtype, wHalf.dtype()); // the kernel really read a half-precision tensor

        Tensor dy = randn(random, 1f, 3, 5);
        Tensor dxHalf = Tensor.zeros(3, 8), dxWide = Tensor.zeros(3, 8);
        k.linearBackwardInput(dy, wHalf, dxHalf);
        k.linearBackwardInput(dy, wWide, dxWide);
        assertArrayEquals(dxWide.toFloatArray(), dxHalf.toFloatArray());

        int[] ids = {4, 0, 4};
        Tensor eHalf = Tensor.zeros(3, 8), eWide = Tensor.zeros(3, 8);
        k.embeddingForward(ids, wHalf, eHalf);
        k.embeddingForward(ids, wWide, eWide);
        assertArrayEquals(eWide.toFloatArray(), eHalf.toFloatArray());
    }

    @Test
    void stridedViewsGiveTheSameResultAsContiguousCopies() {
        Tensor xT = randn(random, 1f, 6, 4).transposeLast2(); // [4, 6] non-contiguous
        Tensor wT = randn(random, 1f, 6, 3).transposeLast2(); // [3, 6]
        assertFalse(xT.isContiguous());
        Tensor y1 = Tensor.zeros(4, 3), y2 = Tensor.zeros(4, 3);
        k.linearForward(xT, wT, null, y1);
        k.linearForward(xT.copy(), wT.copy(), null, y2);
        assertArrayEquals(y2.toFloatArray(), y1.toFloatArray());
    }

    @Test
    void shapeErrorsNameTheTensor() {
        Tensor x = Tensor.zeros(2, 3).named("input");
        Tensor w = Tensor.zeros(4, 5).named("q_proj.weight");
        var e = assertThrows(IllegalArgumentException.class, () -> k.linearForward(x, w, null, Tensor.zeros(2, 4)));
        assertTrue(e.getMessage().contains("input") && e.getMessage().contains("5"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class,
                () -> k.linearForward(Tensor.zeros(2, 5), w, null, Tensor.zeros(2, 3).named("out")));
        assertTrue(e2.getMessage().contains("out"), e2.getMessage());
    }

    // ---- LoRA -----------------------------------------------------------------------------------

    @Test
    void loraForwardAddsScaledLowRankProductToY() {
        Tensor x = randn(random, 1f, 5, 6);
        Tensor a = randn(random, 1f, 2, 6);
        Tensor b = randn(random, 1f, 4, 2);
        Tensor y0 = randn(random, 1f, 5, 4);
        Tensor y = y0.copy(), h = Tensor.zeros(5, 2);
        float scale = 0.75f;
        k.loraForward(x, a, b, scale, h, y);

        Tensor hExpected = Tensor.zeros(5, 2), bh = Tensor.zeros(5, 4), yExpected = y0.copy();
        k.linearForward(x, a, null, hExpected);
        k.linearForward(hExpected, b, null, bh);
        k.accumulate(bh, scale, yExpected);
        assertClose("h", hExpected, h, 1e-6, 1e-6);
        assertClose("y", yExpected, y, 1e-5, 1e-5);
    }

    @Test
    void loraBackwardMatchesFiniteDifferences() {
        for (int rank : new int[] {1, 3}) {
            Tensor x = randn(random, 1f, 2, 3, 6);
            Tensor a = randn(random, 0.5f, rank, 6);
            Tensor b = randn(random, 0.5f, 4, rank);
            Tensor y0 = randn(random, 1f, 2, 3, 4);
            Tensor y = Tensor.zeros(2, 3, 4), h = Tensor.zeros(6, rank);
            Tensor r = randn(random, 1f, 2, 3, 4);
            float scale = 1.5f;
            Loss loss = weightedSum(() -> {
                y.copyFrom(y0);
                k.loraForward(x, a, b, scale, h, y);
            }, y, r);
            loss.eval();
            Tensor dh = Tensor.zeros(6, rank), da = zerosLike(a), db = zerosLike(b), dx = zerosLike(x);
            k.loraBackward(r, x, a, b, scale, h, dh, da, db, dx);
            assertGradient("lora da rank " + rank, a, da, loss);
            assertGradient("lora db rank " + rank, b, db, loss);
            assertGradient("lora dx rank " + rank, x, dx, loss);

            Tensor dhExpected = Tensor.zeros(6, rank);
            k.linearForward(r, b.transposeLast2(), null, dhExpected);
            k.scale(dhExpected, scale);
            assertClose("dh = scale·dy·b", dhExpected, dh, 1e-5, 1e-5);
        }
    }

    @Test
    void loraBackwardSkipsNullGradientsAndAccumulates() {
        Tensor x = randn(random, 1f, 4, 6), a = randn(random, 1f, 1, 6), b = randn(random, 1f, 3, 1);
        Tensor h = Tensor.zeros(4, 1), y = Tensor.zeros(4, 3), dy = randn(random, 1f, 4, 3);
        k.loraForward(x, a, b, 2f, h, y);
        Tensor da = zerosLike(a), db = zerosLike(b), dx = zerosLike(x);
        k.loraBackward(dy, x, a, b, 2f, h, Tensor.zeros(4, 1), da, db, dx);

        Tensor dbOnly = zerosLike(b);
        k.loraBackward(dy, x, a, b, 2f, h, Tensor.zeros(4, 1), null, dbOnly, null);
        assertArrayEquals(db.toFloatArray(), dbOnly.toFloatArray());
        Tensor daOnly = Tensor.fromArray(new float[6], 1, 6);
        daOnly.fill(1f);
        k.loraBackward(dy, x, a, b, 2f, h, Tensor.zeros(4, 1), daOnly, null, null);
        for (int i = 0; i < 6; i++) assertEquals(1f + da.get(i), daOnly.get(i), 1e-5);
        Tensor dxTwice = dx.copy();
        k.loraBackward(dy, x, a, b, 2f, h, Tensor.zeros(4, 1), null, null, dxTwice);
        for (int i = 0; i < dx.numel(); i++) assertEquals(2 * dx.get(i), dxTwice.get(i), 1e-5);
    }
}
