package dev.xgblora.device.opencl;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.checkChunkedCrossEntropy;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The OpenCL task-head kernels (heads.cl) against the reference ops on ragged shapes. */
class OpenClHeadsTest {
    static final Kernels REF = new ReferenceKernels();

    static Kernels cl() {
        return OpenClTestSupport.kernels();
    }

    /** A ragged mask: row b has a random number of real tokens (0 .. T), left-aligned. */
    static int[] raggedMask(Random r, int b, int t) {
        int[] mask = new int[b * t];
        for (int i = 0; i < b; i++) {
            int real = i == 1 ? 0 : 1 + r.nextInt(t);
            for (int j = 0; j < real; j++) mask[i * t + j] = 1;
        }
        return mask;
    }

    @ParameterizedTest(name = "B={0} T={1} C={2}")
    @CsvSource({"1,1,1", "3,7,5", "5,13,67", "2,33,384"})
    void poolingMatchesReference(int b, int t, int c) {
        Random r = new Random(b * 100L + t * 10L + c);
        int[] mask = raggedMask(r, b, t);
        Tensor hidden = randn(r, 1f, (long) b * t, c), dOut = randn(r, 1f, b, c), d0 = randn(r, 1f, (long) b * t, c);
        Tensor pe = Tensor.zeros(b, c), pa = Tensor.zeros(b, c);
        REF.meanPoolForward(hidden, mask, pe);
        cl().meanPoolForward(hidden, mask, pa);
        assertClose("mean pooling", pe, pa, 1e-6, 1e-5);
        Tensor de = d0.copy(), da = d0.copy();
        REF.meanPoolBackward(dOut, mask, de);
        cl().meanPoolBackward(dOut, mask, da);
        assertClose("mean pooling backward", de, da, 1e-6, 1e-5);
        REF.clsPoolForward(hidden, t, pe);
        cl().clsPoolForward(hidden, t, pa);
        assertClose("cls pooling", pe, pa, 0, 0);
        de = d0.copy();
        da = d0.copy();
        REF.clsPoolBackward(dOut, t, de);
        cl().clsPoolBackward(dOut, t, da);
        assertClose("cls pooling backward", de, da, 1e-7, 1e-6);
    }

    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "37", "1031"})
    void tanhMatchesReference(int n) {
        Random r = new Random(n);
        Tensor x = randn(r, 2f, n), dy = randn(r, 1f, n), d0 = randn(r, 1f, n);
        Tensor ye = Tensor.zeros(n), ya = Tensor.zeros(n), dxe = d0.copy(), dxa = d0.copy();
        REF.tanhForward(x, ye);
        cl().tanhForward(x, ya);
        assertClose("tanh", ye, ya, 1e-6, 1e-5);
        REF.tanhBackward(dy, ye, dxe);
        cl().tanhBackward(dy, ye, dxa);
        assertClose("tanh backward", dxe, dxa, 1e-6, 1e-5);
        Tensor inPlace = x.copy(); // the pooler applies it in place
        cl().tanhForward(inPlace, inPlace);
        assertClose("tanh in place", ye, inPlace, 1e-6, 1e-5);
    }

    /** Rows × vocabulary in tiles of {@code tile}: state, logsumexps, loss and each tile's gradient vs the reference. */
    @ParameterizedTest(name = "rows={0} vocab={1} tile={2}")
    @CsvSource({"1,1,1", "5,37,37", "7,130,64", "3,1000,333", "17,70,9"})
    void chunkedCrossEntropyMatchesReference(int m, int v, int tile) {
        checkChunkedCrossEntropy(REF, cl(), m, v, tile);
    }

    @Test
    void theGlobalSquaredNormMatchesReference() {
        Random r = new Random(9);
        // ragged sizes: one element, below and above one work-group, above the 256-group cap
        List<Tensor> gs = List.of(randn(r, 1f, 1), randn(r, 1f, 63), randn(r, 1f, 7, 33), Tensor.zeros(0), randn(r, 1f, 300, 70));
        double want = REF.sumOfSquares(gs);
        assertEquals(want, cl().sumOfSquares(gs), 1e-5 * want);
        assertEquals(REF.sumOfSquares(gs.get(2)), cl().sumOfSquares(List.of(gs.get(2))), 1e-5 * REF.sumOfSquares(gs.get(2)));
    }
}
