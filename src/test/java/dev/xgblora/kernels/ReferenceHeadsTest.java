package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertGradient;
import static dev.xgblora.kernels.KernelTestSupport.dot;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static dev.xgblora.kernels.KernelTestSupport.weightedSum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.tensor.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The task-head ops of the contract (pooling, tanh, chunked LM cross-entropy, the global squared
 * norm) in their reference form: forwards against direct formulas, backwards against finite differences.
 */
class ReferenceHeadsTest {
    static final Kernels REF = new ReferenceKernels();
    /** Ragged rows: 3 real tokens, all 5, none (the count clamps), 1. */
    static final int[] MASK = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};

    @Test
    void meanPoolingAveragesTheMaskedTokensAndItsGradientMatchesFiniteDifferences() {
        Random r = new Random(1);
        int b = 4, t = 5, c = 3;
        Tensor hidden = randn(r, 1f, b * t, c), out = Tensor.zeros(b, c);
        REF.meanPoolForward(hidden, MASK, out);
        assertEquals((hidden.get(0, 2) + hidden.get(1, 2) + hidden.get(2, 2)) / 3.0, out.get(0, 2), 1e-6);
        assertEquals(0f, out.get(2, 1), "a row without tokens pools to 0");
        assertEquals(hidden.get(15, 0), out.get(3, 0), 1e-7);
        Tensor dOut = randn(r, 1f, b, c), dHidden = Tensor.zeros(b * t, c);
        REF.meanPoolBackward(dOut, MASK, dHidden);
        assertGradient("mean pooling dHidden", hidden, dHidden, weightedSum(() -> REF.meanPoolForward(hidden, MASK, out), out, dOut));
        assertEquals(0f, dHidden.get(3, 0), "a padded token gets no gradient");
    }

    @Test
    void clsPoolingTakesTheFirstTokenAndItsGradientMatchesFiniteDifferences() {
        Random r = new Random(2);
        int b = 3, t = 4, c = 5;
        Tensor hidden = randn(r, 1f, b * t, c), out = Tensor.zeros(b, c);
        REF.clsPoolForward(hidden, t, out);
        assertEquals(hidden.get(8, 3), out.get(2, 3));
        Tensor dOut = randn(r, 1f, b, c), dHidden = Tensor.zeros(b * t, c);
        REF.clsPoolBackward(dOut, t, dHidden);
        assertGradient("cls pooling dHidden", hidden, dHidden, weightedSum(() -> REF.clsPoolForward(hidden, t, out), out, dOut));
    }

    @Test
    void tanhGradientMatchesFiniteDifferences() {
        Random r = new Random(3);
        Tensor x = randn(r, 1.5f, 4, 7), y = Tensor.zeros(4, 7), dy = randn(r, 1f, 4, 7), dx = Tensor.zeros(4, 7);
        REF.tanhForward(x, y);
        assertEquals(Math.tanh(x.get(1, 2)), y.get(1, 2), 1e-7);
        REF.tanhBackward(dy, y, dx);
        assertGradient("tanh dx", x, dx, weightedSum(() -> REF.tanhForward(x, y), y, dy));
    }

    /** Mean cross-entropy of logits [M, V] taken in vocabulary tiles of {@code tile} entries, through the chunked ops. */
    static double chunkedLoss(Kernels k, Tensor logits, int[] targets, int ignore, int tile, Tensor state, Tensor lse) {
        int m = (int) logits.rows(), v = (int) logits.cols();
        for (int v0 = 0; v0 < v; v0 += tile) {
            int vn = Math.min(tile, v - v0);
            k.chunkedCrossEntropyForward(columns(logits, v0, vn), targets, v0, v0 == 0, state);
        }
        return k.chunkedCrossEntropyLoss(state, targets, ignore, lse);
    }

    /** Columns v0 .. v0+vn of a [M, V] matrix as a contiguous [M, vn] copy (a tile). */
    static Tensor columns(Tensor x, int v0, int vn) {
        int m = (int) x.rows();
        Tensor out = Tensor.zeros(m, vn);
        for (int i = 0; i < m; i++) for (int j = 0; j < vn; j++) out.set(i, j, x.get(i, v0 + j));
        return out;
    }

    @Test
    void chunkedCrossEntropyEqualsTheFullOneAndItsGradientMatchesFiniteDifferences() {
        Random r = new Random(4);
        int m = 6, v = 11, ignore = -100;
        Tensor logits = randn(r, 2f, m, v);
        int[] targets = {3, ignore, 10, 0, 7, 5};
        Tensor state = Tensor.zeros(m, 3), lse = Tensor.zeros(m);
        for (int tile : new int[]{11, 4, 1}) {
            double sum = chunkedLoss(REF, logits, targets, ignore, tile, state, lse);
            assertEquals(REF.crossEntropyForward(logits, targets, ignore, null) * 5, sum, 1e-5, "tiles of " + tile);
        }
        float scale = 0.3f;
        Tensor grad = Tensor.zeros(m, v);
        for (int v0 = 0; v0 < v; v0 += 4) { // backward per tile, written back into one [M, V] gradient
            int vn = Math.min(4, v - v0);
            Tensor t = columns(logits, v0, vn);
            REF.chunkedCrossEntropyBackward(t, targets, v0, ignore, lse, scale);
            for (int i = 0; i < m; i++) for (int j = 0; j < vn; j++) grad.set(i, v0 + j, t.get(i, j));
        }
        for (int j = 0; j < v; j++) assertEquals(0f, grad.get(1, j), "an ignored row gets no gradient");
        assertGradient("chunked cross-entropy dlogits", logits, grad,
                () -> scale * chunkedLoss(REF, logits, targets, ignore, 4, state, lse), 1e-2, 1e-4, 2e-3);
    }

    @Test
    void theGlobalSquaredNormAddsEveryTensor() {
        Random r = new Random(5);
        List<Tensor> gs = List.of(randn(r, 1f, 3, 4), randn(r, 1f, 17), Tensor.zeros(0), randn(r, 1f, 2, 2, 2));
        double want = 0;
        for (Tensor g : gs) want += dot(g, g);
        assertEquals(want, REF.sumOfSquares(gs), 1e-9 * want);
        assertTrue(want > 0);
    }

    @Test
    void badShapesAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> REF.meanPoolForward(Tensor.zeros(6, 3), new int[5], Tensor.zeros(2, 3)));
        assertTrue(e.getMessage().contains("meanPoolForward") && e.getMessage().contains("mask of 5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> REF.chunkedCrossEntropyForward(Tensor.zeros(2, 4), new int[]{1, 2}, 0, true, Tensor.zeros(2, 2)));
        assertTrue(e.getMessage().contains("3 value(s) per row"), e.getMessage());
    }
}
