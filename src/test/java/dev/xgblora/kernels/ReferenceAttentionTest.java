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

    private void checkGradients(String what, Tensor keyValid, boolean causal, int hkv) {
        Tensor[] in = qkv(hkv);
        Tensor q = in[0], kk = in[1], v = in[2];
        Tensor probs = Tensor.zeros(B, HQ, T, S), out = Tensor.zeros(B, T, HQ, D);
        Tensor r = randn(random, 1f, B, T, HQ, D);
        Loss loss = weightedSum(() -> k.attentionForward(q, kk, v, keyValid, causal, SCALE, probs, out), out, r);
        loss.eval();
        Tensor dq = zerosLike(q), dk = zerosLike(kk), dv = zerosLike(v);
        k.attentionBackward(r, q, kk, v, probs, SCALE, dq, dk, dv);
        assertGradient(what + " dq", q, dq, loss);
        assertGradient(what + " dk", kk, dk, loss);
        assertGradient(what + " dv", v, dv, loss);
    }

    @Test
    void backwardMatchesFiniteDifferencesWithoutMasks() {
        checkGradients("plain MHA", null, false, HQ);
    }

    @Test
    void backwardMatchesFiniteDifferencesWithGqaCausalAndPadding() {
        checkGradients("GQA+causal+padding", keyValid(), true, HKV);
        checkGradients("GQA+padding", keyValid(), false, HKV);
        checkGradients("GQA+causal", null, true, HKV);
    }

    @Test
    void forwardEqualsSoftmaxOfScaledScoresTimesValues() {
        Tensor[] in = qkv(HQ);
        Tensor probs = Tensor.zeros(B, HQ, T, S), out = Tensor.zeros(B, T, HQ, D);
        out.fill(42f); // overwritten
        k.attentionForward(in[0], in[1], in[2], null, false, SCALE, probs, out);
        // Independent computation for every (b, h, t) through the softmax kernel.
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HQ; h++) {
                for (int t = 0; t < T; t++) {
                    Tensor scores = Tensor.zeros(1, S);
                    for (int s = 0; s < S; s++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += at(in[0], b, t, h, d) * at(in[1], b, s, h, d);
                        scores.set(s, (float) (dot * SCALE));
                    }
                    k.softmaxForward(scores, scores);
                    for (int d = 0; d < D; d++) {
                        double o = 0;
                        for (int s = 0; s < S; s++) o += scores.get(s) * at(in[2], b, s, h, d);
                        assertEquals(o, at(out, b, t, h, d), 1e-5, "out[" + b + "," + t + "," + h + "," + d + "]");
                    }
                    for (int s = 0; s < S; s++) {
                        assertEquals(scores.get(s), probs.get((((long) b * HQ + h) * T + t) * S + s), 1e-6);
                    }
                }
            }
        }
    }

    @Test
    void masksHideKeysAndVisibleProbabilitiesSumToOne() {
        Tensor[] in = qkv(HKV);
        Tensor valid = keyValid();
        Tensor probs = Tensor.zeros(B, HQ, T, S), out = Tensor.zeros(B, T, HQ, D);
        k.attentionForward(in[0], in[1], in[2], valid, true, SCALE, probs, out);
        Tensor out0 = out.copy();
        int zeroRows = 0;
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HQ; h++) {
                for (int t = 0; t < T; t++) {
                    double sum = 0;
                    boolean anyVisible = false;
                    for (int s = 0; s < S; s++) {
                        boolean visible = valid.get(b, s) != 0 && s <= t + (S - T);
                        float p = probs.get((((long) b * HQ + h) * T + t) * S + s);
                        if (!visible) assertEquals(0f, p, "masked key " + s + " of query " + t + " batch " + b);
                        anyVisible |= visible;
                        sum += p;
                    }
                    assertEquals(anyVisible ? 1.0 : 0.0, sum, 1e-6);
                    if (!anyVisible) {
                        zeroRows++;
                        for (int d = 0; d < D; d++) assertEquals(0f, at(out, b, t, h, d));
                    }
                }
            }
        }
        assertEquals(HQ, zeroRows, "batch 1 query 0 sees only padding under causality, in every head");

        // Changing masked keys and values must not change the output: padding of batch 1 (keys 0..2)
        // and the future key 4 of batch 0 query 1 is hidden only for that query, so only change padding.
        for (int s = 0; s < 3; s++) {
            for (int h = 0; h < HKV; h++) {
                for (int d = 0; d < D; d++) {
                    long i = ((1L * S + s) * HKV + h) * D + d;
                    in[1].set(i, 100f + d);
                    in[2].set(i, -50f);
                }
            }
        }
        k.attentionForward(in[0], in[1], in[2], valid, true, SCALE, probs, out);
        assertArrayEquals(out0.toFloatArray(), out.toFloatArray());
    }

    @Test
    void causalMaskHidesFutureKeysWithCacheOffset() {
        Tensor[] in = qkv(HKV);
        Tensor probs = Tensor.zeros(B, HQ, T, S), out = Tensor.zeros(B, T, HQ, D);
        k.attentionForward(in[0], in[1], in[2], null, true, SCALE, probs, out);
        Tensor before = out.copy();
        // Key S-1 is visible only to the last query (t = T-1); change it and only that query may move.
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < HKV; h++) {
                for (int d = 0; d < D; d++) in[2].set(((long) b * S + S - 1) * HKV * D + h * D + d, 9f);
            }
        }
        k.attentionForward(in[0], in[1], in[2], null, true, SCALE, probs, out);
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
        Tensor probs = Tensor.zeros(B, HQ, T, S), out = Tensor.zeros(B, T, HQ, D);
        Tensor probsRep = Tensor.zeros(B, HQ, T, S), outRep = Tensor.zeros(B, T, HQ, D);
        k.attentionForward(in[0], in[1], in[2], keyValid(), true, SCALE, probs, out);
        k.attentionForward(in[0], kRep, vRep, keyValid(), true, SCALE, probsRep, outRep);
        assertArrayEquals(outRep.toFloatArray(), out.toFloatArray());
        assertArrayEquals(probsRep.toFloatArray(), probs.toFloatArray());

        // The GQA dk is the sum of the repeated heads' dk over each group.
        Tensor dout = randn(random, 1f, B, T, HQ, D);
        Tensor dk = Tensor.zeros(B, S, HKV, D), dkRep = Tensor.zeros(B, S, HQ, D);
        k.attentionBackward(dout, in[0], in[1], in[2], probs, SCALE, null, dk, null);
        k.attentionBackward(dout, in[0], kRep, vRep, probsRep, SCALE, null, dkRep, null);
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
        Tensor probs = Tensor.zeros(B, HQ, T, S), out = Tensor.zeros(B, T, HQ, D);
        k.attentionForward(in[0], in[1], in[2], keyValid(), true, SCALE, probs, out);
        Tensor dout = randn(random, 1f, B, T, HQ, D);
        Tensor dq = zerosLike(in[0]), dk = zerosLike(in[1]), dv = zerosLike(in[2]);
        k.attentionBackward(dout, in[0], in[1], in[2], probs, SCALE, dq, dk, dv);
        Tensor dv2 = dv.copy();
        k.attentionBackward(dout, in[0], in[1], in[2], probs, SCALE, null, null, dv2);
        for (long i = 0; i < dv.numel(); i++) assertEquals(2 * dv.get(i), dv2.get(i), 1e-5);
        Tensor dqOnly = zerosLike(in[0]);
        k.attentionBackward(dout, in[0], in[1], in[2], probs, SCALE, dqOnly, null, null);
        assertArrayEquals(dq.toFloatArray(), dqOnly.toFloatArray());
    }

    @Test
    void rejectsMismatchedHeads() {
        Tensor q = Tensor.zeros(1, 2, 3, 4), kv = Tensor.zeros(1, 2, 2, 4);
        var e = assertThrows(IllegalArgumentException.class,
                () -> k.attentionForward(q, kv, kv, null, false, 1f, Tensor.zeros(1, 3, 2, 2), Tensor.zeros(1, 2, 3, 4)));
        assertTrue(e.getMessage().contains("multiple"), e.getMessage());
    }

    private static float at(Tensor x, int b, int t, int h, int d) {
        return x.get((((long) b * x.dim(1) + t) * x.dim(2) + h) * x.dim(3) + d);
    }
}
