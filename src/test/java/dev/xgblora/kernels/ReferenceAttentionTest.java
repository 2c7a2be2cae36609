package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReferenceAttentionTest {
    private static final int B = 2, T = 3, S = 5, HQ = 4, HKV = 2, D = 4;
    private static final float SCALE = 0.5f;

    private final Kernels k = new ReferenceKernels();
    private final Random random = new Random(7);

    /** Batch 0: all keys real; batch 1: the first three keys are padding. */
    private static Tensor keyValid() {
        return Tensor.fromArray(new float[] {1, 1, 1, 1, 1, 0, 0, 0, 1, 1}, B, S);
    }

    private Tensor[] qkv(int hkv) {
        return new Tensor[] {randn(random, 1f, B, T, HQ, D), randn(random, 1f, B, S, hkv, D), randn(random, 1f, B, S, hkv, D)};
    }

    private static AttentionMask mask(Tensor keyValid, boolean causal) {
        return new AttentionMask(keyValid, causal, 0, null);
    }

    private static Tensor lse() {
        return Tensor.zeros(B, HQ, T);
    }

    private void checkGradients(String what, AttentionMask mask, int hkv) {
        Tensor[] in = qkv(hkv);
        Tensor q = in[0], kk = in[1], v = in[2];
        Tensor lse = lse(), out = Tensor.zeros(B, T, HQ, D);
        Tensor r = randn(random, 1f, B, T, HQ, D);
        Loss loss = weightedSum(() -> k.attentionForward(q, kk, v, mask, SCALE, out, lse), out, r);
        loss.eval();
        Tensor dq = zerosLike(q), dk = zerosLike(kk), dv = zerosLike(v);
        k.attentionBackward(r, q, kk, v, mask, SCALE, out, lse, dq, dk, dv);
        assertGradient(what + " dq", q, dq, loss);
        assertGradient(what + " dk", kk, dk, loss);
        assertGradient(what + " dv", v, dv, loss);
    }

    @Test
    void backwardMatchesFiniteDifferencesWithoutMasks() {
        checkGradients("plain MHA", AttentionMask.NONE, HQ);
    }

    @Test
    void backwardMatchesFiniteDifferencesWithGqaCausalAndPadding() {
        checkGradients("GQA+causal+padding", mask(keyValid(), true), HKV);
        checkGradients("GQA+padding", mask(keyValid(), false), HKV);
        checkGradients("GQA+causal", mask(null, true), HKV);
        checkGradients("GQA+causal+window 2", mask(null, true).withWindow(2), HKV);
        checkGradients("GQA+causal+segments", mask(keyValid(), true).withSegments(new int[] {0, 0, 1, 1, 1, 0, 0, 0, 0, 1}), HKV);
    }

    @Test
    void forwardEqualsSoftmaxOfScaledScoresTimesValues() {
        Tensor[] in = qkv(HQ);
        Tensor lse = lse(), out = Tensor.zeros(B, T, HQ, D);
        out.fill(42f); // overwritten
        k.attentionForward(in[0], in[1], in[2], AttentionMask.NONE, SCALE, out, lse);
        // Independent computation for every (b, h, t) through the softmax kernel.
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HQ; h++) {
                for (int t = 0; t < T; t++) {
                    Tensor scores = Tensor.zeros(1, S);
                    double expSum = 0;
                    for (int s = 0; s < S; s++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += at(in[0], b, t, h, d) * at(in[1], b, s, h, d);
                        scores.set(s, (float) (dot * SCALE));
                        expSum += Math.exp(dot * SCALE);
                    }
                    assertEquals(Math.log(expSum), lse.get(((long) b * HQ + h) * T + t), 1e-5, "lse");
                    k.softmaxForward(scores, scores);
                    for (int d = 0; d < D; d++) {
                        double o = 0;
                        for (int s = 0; s < S; s++) o += scores.get(s) * at(in[2], b, s, h, d);
                        assertEquals(o, at(out, b, t, h, d), 1e-5, "out[" + b + "," + t + "," + h + "," + d + "]");
                    }
                }
            }
        }
    }

    @Test
    void queriesThatSeeNoKeyGetZeroOutputAndMaskedKeysDoNotMatter() {
        Tensor[] in = qkv(HKV);
        AttentionMask mask = mask(keyValid(), true);
        Tensor lse = lse(), out = Tensor.zeros(B, T, HQ, D);
        k.attentionForward(in[0], in[1], in[2], mask, SCALE, out, lse);
        Tensor out0 = out.copy();
        int zeroRows = 0;
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HQ; h++) {
                for (int t = 0; t < T; t++) {
                    boolean anyVisible = false;
                    for (int s = 0; s < S; s++) anyVisible |= keyValid().get(b, s) != 0 && s <= t + (S - T);
                    float l = lse.get(((long) b * HQ + h) * T + t);
                    assertEquals(anyVisible, l != Float.NEGATIVE_INFINITY, "lse " + l + " of batch " + b + " query " + t);
                    if (!anyVisible) {
                        zeroRows++;
                        for (int d = 0; d < D; d++) assertEquals(0f, at(out, b, t, h, d));
                    }
                }
            }
        }
        assertEquals(HQ, zeroRows, "batch 1 query 0 sees only padding under causality, in every head");

        // Changing padded keys and values (keys 0..2 of batch 1) must not change the output.
        for (int s = 0; s < 3; s++) {
            for (int h = 0; h < HKV; h++) {
                for (int d = 0; d < D; d++) {
                    long i = ((1L * S + s) * HKV + h) * D + d;
                    in[1].set(i, 100f + d);
                    in[2].set(i, -50f);
                }
            }
        }
        k.attentionForward(in[0], in[1], in[2], mask, SCALE, out, lse);
        assertArrayEquals(out0.toFloatArray(), out.toFloatArray());
    }

    /** Which outputs move when value row {@code key} of every batch changes. */
    private boolean[][] movedByKey(AttentionMask mask, int key) {
        Tensor[] in = qkv(HKV);
        Tensor out = Tensor.zeros(B, T, HQ, D), before;
        k.attentionForward(in[0], in[1], in[2], mask, SCALE, out, null);
        before = out.copy();
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HKV; h++) for (int d = 0; d < D; d++) in[2].set(((long) b * S + key) * HKV * D + h * D + d, 9f);
        }
        k.attentionForward(in[0], in[1], in[2], mask, SCALE, out, null);
        boolean[][] moved = new boolean[B][T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) moved[b][t] = at(before, b, t, 0, 0) != at(out, b, t, 0, 0);
        }
        return moved;
    }

    @Test
    void slidingWindowHidesKeysOlderThanTheWindow() {
        // Queries sit at positions 2, 3, 4 (S − T = 2). With window 2, position p sees keys p−1 and p.
        AttentionMask window = mask(null, true).withWindow(2);
        boolean[][] moved = movedByKey(window, 2);
        for (int b = 0; b < B; b++) {
            assertTrue(moved[b][0], "position 2 sees key 2");
            assertTrue(moved[b][1], "position 3 sees key 2 (3 − 2 < 2)");
            assertFalse(moved[b][2], "position 4 does not see key 2 (4 − 2 = 2, not < 2)");
        }
        boolean[][] full = movedByKey(mask(null, true), 0);
        for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) assertTrue(full[b][t], "no window: key 0 is seen by all");
        assertThrows(IllegalArgumentException.class, () -> mask(null, false).withWindow(2), "a window needs causality");
    }

    @Test
    void segmentsKeepPackedDocumentsApart() {
        // Batch 0: positions 0..2 are document 0, 3..4 document 1; batch 1: one document.
        AttentionMask packed = mask(null, true).withSegments(new int[] {0, 0, 0, 1, 1, 5, 5, 5, 5, 5});
        boolean[][] moved = movedByKey(packed, 1);
        assertTrue(moved[0][0], "position 2 is in key 1's document");
        assertFalse(moved[0][1], "position 3 starts document 1");
        assertFalse(moved[0][2], "position 4 is in document 1");
        for (int t = 0; t < T; t++) assertTrue(moved[1][t], "batch 1 is one document");
    }

    @Test
    void causalMaskHidesFutureKeysWithCacheOffset() {
        Tensor[] in = qkv(HKV);
        Tensor out = Tensor.zeros(B, T, HQ, D);
        k.attentionForward(in[0], in[1], in[2], mask(null, true), SCALE, out, null);
        Tensor before = out.copy();
        // Key S-1 is visible only to the last query (t = T-1); change it and only that query may move.
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HKV; h++) {
                for (int d = 0; d < D; d++) in[2].set(((long) b * S + S - 1) * HKV * D + h * D + d, 9f);
            }
        }
        k.attentionForward(in[0], in[1], in[2], mask(null, true), SCALE, out, null);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                for (int h = 0; h < HQ; h++) {
                    for (int d = 0; d < D; d++) {
                        if (t < T - 1) assertEquals(at(before, b, t, h, d), at(out, b, t, h, d));
                        else assertNotEquals(at(before, b, t, h, d), at(out, b, t, h, d));
                    }
                }
            }
        }
    }

    @Test
    void groupedQueryAttentionEqualsRepeatingKvHeads() {
        Tensor[] in = qkv(HKV);
        Tensor kRep = Tensor.zeros(B, S, HQ, D), vRep = Tensor.zeros(B, S, HQ, D);
        int group = HQ / HKV;
        for (int b = 0; b < B; b++) {
            for (int s = 0; s < S; s++) {
                for (int h = 0; h < HQ; h++) {
                    for (int d = 0; d < D; d++) {
                        long src = (((long) b * S + s) * HKV + h / group) * D + d;
                        long dst = (((long) b * S + s) * HQ + h) * D + d;
                        kRep.set(dst, in[1].get(src));
                        vRep.set(dst, in[2].get(src));
                    }
                }
            }
        }
        Tensor lse = lse(), out = Tensor.zeros(B, T, HQ, D);
        Tensor lseRep = lse(), outRep = Tensor.zeros(B, T, HQ, D);
        AttentionMask mask = mask(keyValid(), true);
        k.attentionForward(in[0], in[1], in[2], mask, SCALE, out, lse);
        k.attentionForward(in[0], kRep, vRep, mask, SCALE, outRep, lseRep);
        assertArrayEquals(outRep.toFloatArray(), out.toFloatArray());
        assertArrayEquals(lseRep.toFloatArray(), lse.toFloatArray());

        // The GQA dk is the sum of the repeated heads' dk over each group.
        Tensor dout = randn(random, 1f, B, T, HQ, D);
        Tensor dk = Tensor.zeros(B, S, HKV, D), dkRep = Tensor.zeros(B, S, HQ, D);
        k.attentionBackward(dout, in[0], in[1], in[2], mask, SCALE, out, lse, null, dk, null);
        k.attentionBackward(dout, in[0], kRep, vRep, mask, SCALE, outRep, lseRep, null, dkRep, null);
        for (long i = 0; i < dk.numel(); i++) {
            long b = i / (S * HKV * D), s = i / (HKV * D) % S, hk = i / D % HKV, d = i % D;
            double sum = 0;
            for (int g = 0; g < group; g++) sum += dkRep.get(((b * S + s) * HQ + hk * group + g) * D + d);
            assertEquals(sum, dk.get(i), 1e-5);
        }
    }

    @Test
    void backwardAccumulatesAndSkipsNullGradients() {
        Tensor[] in = qkv(HKV);
        Tensor lse = lse(), out = Tensor.zeros(B, T, HQ, D);
        AttentionMask mask = mask(keyValid(), true);
        k.attentionForward(in[0], in[1], in[2], mask, SCALE, out, lse);
        Tensor dout = randn(random, 1f, B, T, HQ, D);
        Tensor dq = zerosLike(in[0]), dk = zerosLike(in[1]), dv = zerosLike(in[2]);
        k.attentionBackward(dout, in[0], in[1], in[2], mask, SCALE, out, lse, dq, dk, dv);
        Tensor dv2 = dv.copy();
        k.attentionBackward(dout, in[0], in[1], in[2], mask, SCALE, out, lse, null, null, dv2);
        for (long i = 0; i < dv.numel(); i++) assertEquals(2 * dv.get(i), dv2.get(i), 1e-5);
        Tensor dqOnly = zerosLike(in[0]);
        k.attentionBackward(dout, in[0], in[1], in[2], mask, SCALE, out, lse, dqOnly, null, null);
        assertArrayEquals(dq.toFloatArray(), dqOnly.toFloatArray());
    }

    @Test
    void rejectsMismatchedHeads() {
        Tensor q = Tensor.zeros(1, 2, 3, 4), kv = Tensor.zeros(1, 2, 2, 4);
        var e = assertThrows(IllegalArgumentException.class,
                () -> k.attentionForward(q, kv, kv, AttentionMask.NONE, 1f, Tensor.zeros(1, 2, 3, 4), Tensor.zeros(1, 3, 2)));
        assertTrue(e.getMessage().contains("multiple"), e.getMessage());
    }

    private static float at(Tensor x, int b, int t, int h, int d) {
        return x.get((((long) b * x.dim(1) + t) * x.dim(2) + h) * x.dim(3) + d);
    }
}
