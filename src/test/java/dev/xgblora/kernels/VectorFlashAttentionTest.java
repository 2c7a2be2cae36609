package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.assertGradient;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static dev.xgblora.kernels.KernelTestSupport.weightedSum;
import static dev.xgblora.kernels.KernelTestSupport.zerosLike;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fused, tiled vector attention against the reference (untiled, double) on ragged shapes:
 * T not a multiple of the 64-query / 64-key tiles, T = 1 against a long KV cache, grouped kv heads,
 * padded batches, sliding windows shorter and longer than T, packed segments. Backward is fed
 * the vector forward's own out and lse (the reference recomputes everything from q and k).
 */
class VectorFlashAttentionTest {
    static final Kernels REF = new ReferenceKernels();
    static final VectorKernels[] K = {new VectorKernels(1), new VectorKernels(2), new VectorKernels(3)};

    @AfterAll
    static void close() {
        for (VectorKernels k : K) k.close();
    }

    /** A mask: padding hides the last key of batch 0 and the first two of batch 1; segments split each row in three. */
    static AttentionMask mask(int b, int s, boolean causal, boolean padding, int window, boolean segments) {
        Tensor valid = null;
        if (padding) {
            valid = Tensor.zeros(b, s);
            valid.fill(1f);
            valid.set(0, s - 1, 0f);
            if (b > 1) {
                valid.set(1, 0, 0f);
                if (s > 1) valid.set(1, 1, 0f);
            }
        }
        int[] seg = null;
        if (segments) {
            seg = new int[b * s];
            for (int i = 0; i < b; i++) for (int j = 0; j < s; j++) seg[i * s + j] = 10 * i + 3 * j / s;
        }
        return new AttentionMask(valid, causal, window, seg);
    }

    @ParameterizedTest(name = "B={0} T={1} S={2} Hq={3} Hkv={4} D={5} causal={6} padding={7} window={8} segments={9} threads={10}")
    @CsvSource({
            "1,1,1,1,1,1,false,false,0,false,1",
            "2,5,5,4,2,8,true,false,0,false,2",
            "2,7,10,4,1,17,true,true,0,false,1",      // 3 cached keys before the queries
            "3,6,6,3,3,32,false,true,0,false,2",
            "2,70,70,4,2,64,true,true,0,false,2",     // two query and key tiles, the second ragged
            "1,1,200,4,2,32,true,false,0,false,3",    // one new token against a 200-key cache
            "2,130,130,2,1,16,true,false,50,false,2", // window < T: whole key tiles skipped
            "2,40,40,2,2,8,true,true,100,false,1",    // window > T: same as no window
            "2,3,131,2,1,33,true,false,64,false,2",   // window with a cache offset
            "2,100,100,4,2,24,true,true,0,true,2",    // packed documents and padding
            "1,200,200,2,1,16,true,false,0,true,2",   // documents longer than a tile: key tiles skipped
            "1,65,65,2,2,128,false,true,0,true,3"})
    void matchesReference(int b, int t, int s, int hq, int hkv, int d, boolean causal, boolean padding, int window,
                          boolean segments, int threads) {
        Random r = new Random(b * 1000L + t * 100 + s * 10 + d + window);
        float scale = (float) (1 / Math.sqrt(d));
        AttentionMask m = mask(b, s, causal, padding, window, segments);
        Tensor q = randn(r, 1f, b, t, hq, d), k = randn(r, 1f, b, s, hkv, d), v = randn(r, 1f, b, s, hkv, d);
        Tensor oe = Tensor.zeros(b, t, hq, d), le = Tensor.zeros(b, hq, t);
        Tensor oa = randn(r, 1f, b, t, hq, d), la = randn(r, 1f, b, hq, t); // overwritten
        Kernels vk = K[threads - 1];
        REF.attentionForward(q, k, v, m, scale, oe, le);
        vk.attentionForward(q, k, v, m, scale, oa, la);
        assertClose("attention out", oe, oa, 1e-5, 1e-5);
        assertLseClose(le, la);

        Tensor dout = randn(r, 1f, b, t, hq, d);
        Tensor dq0 = randn(r, 1f, b, t, hq, d), dk0 = randn(r, 1f, b, s, hkv, d), dv0 = randn(r, 1f, b, s, hkv, d);
        Tensor dqe = dq0.copy(), dqa = dq0.copy(), dke = dk0.copy(), dka = dk0.copy(), dve = dv0.copy(), dva = dv0.copy();
        REF.attentionBackward(dout, q, k, v, m, scale, oe, le, dqe, dke, dve);
        vk.attentionBackward(dout, q, k, v, m, scale, oa, la, dqa, dka, dva);
        assertClose("attention dq", dqe, dqa, 3e-5, 1e-5);
        assertClose("attention dk", dke, dka, 3e-5, 1e-5);
        assertClose("attention dv", dve, dva, 3e-5, 1e-5);
    }

    /** −inf (a query that sees no key) in the same places, the finite values close. */
    static void assertLseClose(Tensor expected, Tensor actual) {
        Tensor e = expected.copy(), a = actual.copy();
        for (long i = 0; i < e.numel(); i++) {
            boolean none = e.get(i) == Float.NEGATIVE_INFINITY;
            assertEquals(none, a.get(i) == Float.NEGATIVE_INFINITY, "lse[" + i + "] " + a.get(i) + " vs " + e.get(i));
            if (none) {
                e.set(i, 0f);
                a.set(i, 0f);
            }
        }
        assertClose("attention lse", e, a, 1e-5, 1e-5);
    }

    @Test
    void sameBitsForEveryThreadCount() {
        Random r = new Random(11);
        int b = 3, t = 75, hq = 4, hkv = 2, d = 20;
        AttentionMask m = mask(b, t, true, true, 40, true);
        Tensor q = randn(r, 1f, b, t, hq, d), k = randn(r, 1f, b, t, hkv, d), v = randn(r, 1f, b, t, hkv, d);
        Tensor dout = randn(r, 1f, b, t, hq, d);
        float[][] first = null;
        for (VectorKernels vk : K) {
            Tensor out = Tensor.zeros(b, t, hq, d), lse = Tensor.zeros(b, hq, t);
            Tensor dq = zerosLike(q), dk = zerosLike(k), dv = zerosLike(v);
            vk.attentionForward(q, k, v, m, 0.3f, out, lse);
            vk.attentionBackward(dout, q, k, v, m, 0.3f, out, lse, dq, dk, dv);
            float[][] got = {out.toFloatArray(), lse.toFloatArray(), dq.toFloatArray(), dk.toFloatArray(), dv.toFloatArray()};
            if (first == null) first = got;
            for (int i = 0; i < got.length; i++) assertArrayEquals(first[i], got[i], "output " + i + ", " + vk.threads() + " threads");
        }
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random r = new Random(5);
        int b = 2, t = 6, s = 9, hq = 4, hkv = 2, d = 5;
        AttentionMask m = mask(b, s, true, true, 5, true);
        Tensor q = randn(r, 1f, b, t, hq, d), k = randn(r, 1f, b, s, hkv, d), v = randn(r, 1f, b, s, hkv, d);
        Tensor out = Tensor.zeros(b, t, hq, d), lse = Tensor.zeros(b, hq, t), w = randn(r, 1f, b, t, hq, d);
        KernelTestSupport.Loss loss = weightedSum(() -> K[1].attentionForward(q, k, v, m, 0.4f, out, lse), out, w);
        loss.eval();
        Tensor dq = zerosLike(q), dk = zerosLike(k), dv = zerosLike(v);
        K[1].attentionBackward(w, q, k, v, m, 0.4f, out, lse, dq, dk, dv);
        assertGradient("vector attention dq", q, dq, loss);
        assertGradient("vector attention dk", k, dk, loss);
        assertGradient("vector attention dv", v, dv, loss);
    }

    @Test
    void nullGradientsAreSkippedAndOthersAccumulate() {
        Random r = new Random(9);
        int b = 2, t = 10, hq = 2, hkv = 1, d = 16;
        AttentionMask m = mask(b, t, true, true, 0, false);
        Tensor q = randn(r, 1f, b, t, hq, d), k = randn(r, 1f, b, t, hkv, d), v = randn(r, 1f, b, t, hkv, d);
        Tensor out = Tensor.zeros(b, t, hq, d), lse = Tensor.zeros(b, hq, t), dout = randn(r, 1f, b, t, hq, d);
        K[0].attentionForward(q, k, v, m, 0.25f, out, lse);
        Tensor dq = zerosLike(q), dk = zerosLike(k), dv = zerosLike(v);
        K[0].attentionBackward(dout, q, k, v, m, 0.25f, out, lse, dq, dk, dv);
        Tensor dvTwice = dv.copy(), dqOnly = zerosLike(q);
        K[0].attentionBackward(dout, q, k, v, m, 0.25f, out, lse, null, null, dvTwice);
        for (long i = 0; i < dv.numel(); i++) assertEquals(2 * dv.get(i), dvTwice.get(i), 1e-6);
        K[0].attentionBackward(dout, q, k, v, m, 0.25f, out, lse, dqOnly, null, null);
        assertArrayEquals(dq.toFloatArray(), dqOnly.toFloatArray());
    }

    @Test
    void rejectsBadShapesWithClearMessages() {
        Tensor q = Tensor.zeros(1, 4, 2, 8), kv = Tensor.zeros(1, 4, 2, 8), out = Tensor.zeros(1, 4, 2, 8);
        var lse = assertThrows(IllegalArgumentException.class,
                () -> K[0].attentionForward(q, kv, kv, AttentionMask.NONE, 1f, out, Tensor.zeros(1, 4, 2)));
        assertTrue(lse.getMessage().contains("lse"), lse.getMessage());
        var valid = assertThrows(IllegalArgumentException.class,
                () -> K[0].attentionForward(q, kv, kv, AttentionMask.causal(Tensor.zeros(1, 3)), 1f, out, null));
        assertTrue(valid.getMessage().contains("keyValid"), valid.getMessage());
        var fewKeys = assertThrows(IllegalArgumentException.class,
                () -> K[0].attentionForward(q, Tensor.zeros(1, 2, 2, 8), Tensor.zeros(1, 2, 2, 8), AttentionMask.NONE, 1f, out, null));
        assertTrue(fewKeys.getMessage().contains("S >= T"), fewKeys.getMessage());
    }
}
