package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The gradient checker must accept a right gradient and reject one that is a few percent off. */
class KernelTestSupportTest {
    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(1);

    @Test
    void gradientCheckerAcceptsRightAndRejectsWrongGradients() {
        Tensor x = randn(random, 1f, 3, 4), w = randn(random, 1f, 5, 4), y = Tensor.zeros(3, 5), r = randn(random, 1f, 3, 5);
        Loss loss = weightedSum(() -> k.linearForward(x, w, null, y), y, r);
        Tensor dx = zerosLike(x);
        k.linearBackwardInput(r, w, dx);
        assertGradient("right", x, dx, loss);

        Tensor off = dx.copy();
        k.scale(off, 1.05f);
        assertThrows(AssertionFailedError.class, () -> assertGradient("5% off", x, off, loss));
        Tensor zero = zerosLike(x);
        assertThrows(AssertionFailedError.class, () -> assertGradient("missing", x, zero, loss));
        // a loss that ignores the input is reported as vacuous rather than passing
        assertThrows(AssertionFailedError.class, () -> assertGradient("vacuous", x, zero, () -> 1.0));
    }

    @Test
    void halfPrecisionRandomTensorsAreRoundedCopies() {
        Tensor bf = randn(new Random(9), 1f, DType.BF16, 4, 4);
        Tensor f32 = randn(new Random(9), 1f, 4, 4);
        assertEquals(DType.BF16, bf.dtype());
        assertTrue(maxAbsDiff(bf, f32) > 0 && maxRelDiff(bf, f32) < 0x1p-8, "bf16 rounding error " + maxRelDiff(bf, f32));
        Tensor f16 = convert(f32, DType.F16);
        assertTrue(maxRelDiff(f16, f32) < 0x1p-11);
        assertThrows(AssertionFailedError.class, () -> assertClose("differ", f32, bf, 1e-6, 0));
        assertClose("within bf16 precision", f32, bf, 0, 0x1p-8);
    }
}
