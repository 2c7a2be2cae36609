package dev.xgblora.device.opencl;

import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The recorded launch list: a step's launches are recorded once and replayed on the next steps
 * (bit-identical results, the replay counter says it was used); new scalar arguments are set on the
 * recorded launches; a shape change re-records.
 */
class LaunchListTest {
    /** A small "step": two linears, GELU, an AdamW update of w with this step's learning rate. */
    static float[] step(OpenClKernels cl, Tensor x, Tensor w, Tensor g, Tensor m, Tensor v, float lr, int stepNo) {
        cl.stepStarts();
        Tensor y = Tensor.zeros(x.rows(), w.rows()), a = Tensor.zeros(x.rows(), w.rows());
        cl.linearForward(x, w, null, y);
        cl.geluForward(y, false, a);
        g.zero();
        cl.linearBackwardWeight(a, x, g);
        cl.adamwStep(w, g, m, v, lr, 0.9f, 0.999f, 1e-8f, 0.01f, stepNo);
        return a.toFloatArray();
    }

    @Test
    void replayedStepsGiveTheRecordedStepsResults() {
        Random r = new Random(5);
        Tensor x = randn(r, 1f, 9, 12), w0 = randn(r, 1f, 6, 12);
        float[][] replayed = new float[3][], plain = new float[3][];
        float[] wReplayed, wPlain;
        LaunchList.Counts counts;
        try (OpenClKernels cl = new OpenClKernels(OpenClTestSupport.kernels().device(), true, true)) {
            Tensor w = w0.copy(), g = Tensor.zeros(6, 12), m = Tensor.zeros(6, 12), v = Tensor.zeros(6, 12);
            for (int s = 0; s < 3; s++) replayed[s] = step(cl, x, w, g, m, v, 1e-2f * (s + 1), s + 1);
            wReplayed = w.toFloatArray();
            counts = cl.launchCounts();
        }
        try (OpenClKernels cl = new OpenClKernels(OpenClTestSupport.kernels().device(), true, false)) {
            Tensor w = w0.copy(), g = Tensor.zeros(6, 12), m = Tensor.zeros(6, 12), v = Tensor.zeros(6, 12);
            for (int s = 0; s < 3; s++) plain[s] = step(cl, x, w, g, m, v, 1e-2f * (s + 1), s + 1);
            wPlain = w.toFloatArray();
        }
        for (int s = 0; s < 3; s++) assertArrayEquals(plain[s], replayed[s], "activations of step " + (s + 1) + " (bit-identical)");
        assertArrayEquals(wPlain, wReplayed, "weights after three steps (bit-identical)");
        assertEquals(4, counts.recorded(), "step 1 records its four launches: " + counts);
        assertEquals(8, counts.replayed(), "steps 2 and 3 replay them: " + counts);
        assertTrue(counts.argsReset() >= 2 * 3, "lr and both bias corrections are set again each step: " + counts);
        assertEquals(0, counts.rerecords(), counts.toString());
    }

    @Test
    void aShapeChangeReRecords() {
        Random r = new Random(6);
        try (OpenClKernels cl = new OpenClKernels(OpenClTestSupport.kernels().device(), true, true)) {
            Tensor w = randn(r, 1f, 6, 12), g = Tensor.zeros(6, 12), m = Tensor.zeros(6, 12), v = Tensor.zeros(6, 12);
            step(cl, randn(r, 1f, 9, 12), w, g, m, v, 1e-2f, 1);
            step(cl, randn(r, 1f, 9, 12), w, g, m, v, 1e-2f, 2);
            LaunchList.Counts before = cl.launchCounts();
            step(cl, randn(r, 1f, 5, 12), w, g, m, v, 1e-2f, 3); // another batch length
            LaunchList.Counts after = cl.launchCounts();
            assertEquals(1, after.rerecords() - before.rerecords(), after.toString());
            assertEquals(before.replayed(), after.replayed(), "nothing of the old shape replays: " + after);
            step(cl, randn(r, 1f, 5, 12), w, g, m, v, 1e-2f, 4);
            assertEquals(after.replayed() + 4, cl.launchCounts().replayed(), "the new shape replays: " + cl.launchCounts());
        }
    }

    /**
     * Ragged batches: lengths 9, 5, 9, 5, 7, 9, 7 alternate. Each length records its list once (the
     * first 9, 5 and 7); every later step switches to the kept list of its length and replays all
     * of it, bit-identical to launching plainly.
     */
    @Test
    void raggedBatchesReplayTheListOfTheirShape() {
        int[] lengths = {9, 5, 9, 5, 7, 9, 7};
        Random r = new Random(7);
        Tensor w0 = randn(r, 1f, 6, 12);
        Tensor[] xs = new Tensor[lengths.length];
        for (int s = 0; s < lengths.length; s++) xs[s] = randn(r, 1f, lengths[s], 12);
        float[][] replayed = new float[lengths.length][], plain = new float[lengths.length][];
        LaunchList.Counts afterFirstOfEach = null, end;
        try (OpenClKernels cl = new OpenClKernels(OpenClTestSupport.kernels().device(), true, true)) {
            Tensor w = w0.copy(), g = Tensor.zeros(6, 12), m = Tensor.zeros(6, 12), v = Tensor.zeros(6, 12);
            for (int s = 0; s < lengths.length; s++) {
                replayed[s] = step(cl, xs[s], w, g, m, v, 1e-2f, s + 1);
                if (s == 4) afterFirstOfEach = cl.launchCounts();
            }
            end = cl.launchCounts();
        }
        try (OpenClKernels cl = new OpenClKernels(OpenClTestSupport.kernels().device(), true, false)) {
            Tensor w = w0.copy(), g = Tensor.zeros(6, 12), m = Tensor.zeros(6, 12), v = Tensor.zeros(6, 12);
            for (int s = 0; s < lengths.length; s++) plain[s] = step(cl, xs[s], w, g, m, v, 1e-2f, s + 1);
        }
        for (int s = 0; s < lengths.length; s++) assertArrayEquals(plain[s], replayed[s], "activations of step " + (s + 1) + " (bit-identical)");
        assertEquals(3 * 4, afterFirstOfEach.recorded(), "lengths 9, 5, 7 each record their four launches once: " + afterFirstOfEach);
        assertEquals(3 * 4, end.recorded(), "nothing is recorded again: " + end);
        assertEquals(4 * 4, end.replayed(), "steps 2-3 of 9 and 5 and the second 7 replay whole lists: " + end);
        assertEquals(3, end.lists(), end.toString());
        assertEquals(4, end.switches(), "steps 3, 4, 6 and 7 come back to a length seen before: " + end);
    }

    /** More shapes than the list keeps: the least recently used is dropped and recorded again when it returns. */
    @Test
    void theListCacheIsBounded() {
        Random r = new Random(8);
        try (OpenClKernels cl = new OpenClKernels(OpenClTestSupport.kernels().device(), true, true)) {
            Tensor w = randn(r, 1f, 6, 12), g = Tensor.zeros(6, 12), m = Tensor.zeros(6, 12), v = Tensor.zeros(6, 12);
            int shapes = LaunchList.MAX_LISTS + 1;
            for (int s = 0; s < shapes; s++) step(cl, randn(r, 1f, s + 1, 12), w, g, m, v, 1e-2f, s + 1);
            LaunchList.Counts c = cl.launchCounts();
            assertEquals(LaunchList.MAX_LISTS, c.lists(), c.toString());
            step(cl, randn(r, 1f, shapes, 12), w, g, m, v, 1e-2f, shapes + 1); // the newest shape: kept
            assertEquals(c.recorded(), cl.launchCounts().recorded(), cl.launchCounts().toString());
            step(cl, randn(r, 1f, 1, 12), w, g, m, v, 1e-2f, shapes + 2); // the oldest: dropped, records again
            assertEquals(c.recorded() + 4, cl.launchCounts().recorded(), cl.launchCounts().toString());
        }
    }
}
