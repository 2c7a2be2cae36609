package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The vector backend splits work by output rows or columns only, so 1, 2 and 3 threads give
 * bit-identical results for every op, those with exp and tanh included (FloatMath computes them
 * with the same operations in every code path): a stronger property than "within rounding", and
 * what makes runs reproducible across core counts.
 */
class VectorThreadInvarianceTest {
    static final VectorKernels[] K = {new VectorKernels(1), new VectorKernels(2), new VectorKernels(3)};

    @AfterAll
    static void close() {
        for (VectorKernels k : K) k.close();
    }

    /** Runs op with each thread count on a fresh copy of {@code init} and asserts equal bits. */
    static void assertSameBits(String what, Tensor init, java.util.function.BiConsumer<Kernels, Tensor> op) {
        float[] first = null;
        for (VectorKernels k : K) {
            Tensor out = init.copy();
            op.accept(k, out);
            float[] got = out.toFloatArray();
            if (first == null) first = got;
            else assertArrayEquals(first, got, 0f, what + " differs between 1 and " + k.threads() + " threads");
        }
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} {3}")
    @CsvSource({"7,383,130,BF16", "67,383,130,F32", "16,17,2100,F16", "300,260,70,BF16"})
    void linearIsThreadInvariant(int m, int k, int n, DType dt) {
        Random r = new Random(m + k + n);
        Tensor x = randn(r, 1f, m, k), w = randn(r, 1f, dt, n, k), b = randn(r, 1f, n), dy = randn(r, 1f, m, n);
        assertSameBits("linearForward", Tensor.zeros(m, n), (kk, y) -> kk.linearForward(x, w, b, y));
        assertSameBits("linearBackwardInput", randn(r, 1f, m, k), (kk, dx) -> kk.linearBackwardInput(dy, w, dx));
        assertSameBits("linearBackwardWeight", randn(r, 1f, n, k), (kk, dw) -> kk.linearBackwardWeight(dy, x, dw));
        assertSameBits("linearBackwardBias", randn(r, 1f, n), (kk, db) -> kk.linearBackwardBias(dy, db));
    }

    @Test
    void loraIsThreadInvariant() {
        Random r = new Random(3);
        int m = 67, k = 383, n = 130;
        Tensor x = randn(r, 1f, m, k), a = randn(r, 1f, 1, k), b = randn(r, 1f, n, 1), dy = randn(r, 1f, m, n);
        Tensor h = Tensor.zeros(m, 1);
        assertSameBits("loraForward", randn(r, 1f, m, n), (kk, y) -> kk.loraForward(x, a, b, 0.5f, h, y));
        Tensor dh = Tensor.zeros(m, 1);
        assertSameBits("lora dA", randn(r, 1f, 1, k), (kk, da) -> kk.loraBackward(dy, x, a, b, 0.5f, h, dh, da, null, null));
        assertSameBits("lora dB", randn(r, 1f, n, 1), (kk, db) -> kk.loraBackward(dy, x, a, b, 0.5f, h, dh, null, db, null));
        assertSameBits("lora dx", randn(r, 1f, m, k), (kk, dx) -> kk.loraBackward(dy, x, a, b, 0.5f, h, dh, null, null, dx));
        // The fused LoRA linear (adapter term in the GEMM's tile store), rank 3, K above one depth block.
        int kBig = 700, rank = 3;
        Tensor xb = randn(r, 1f, m, kBig), w = randn(r, 1f, DType.BF16, n, kBig), bias = randn(r, 1f, n);
        Tensor ab = randn(r, 1f, rank, kBig), bb = randn(r, 1f, n, rank), hb = Tensor.zeros(m, rank);
        assertSameBits("linearLoraForward", Tensor.zeros(m, n), (kk, y) -> kk.linearLoraForward(xb, w, bias, xb, ab, bb, 0.5f, hb, y));
        assertSameBits("lora rank 3 dB", randn(r, 1f, n, rank),
                (kk, db) -> kk.loraBackward(dy, xb, ab, bb, 0.5f, hb, Tensor.zeros(m, rank), null, db, null));
    }

    @Test
    void ropeEmbeddingAndDropoutAreThreadInvariant() {
        Random r = new Random(6);
        int b = 3, t = 11, h = 5, d = 34, vocab = 20, c = 130;
        int[] pos = new int[b * t];
        for (int i = 0; i < pos.length; i++) pos[i] = 7 + i % t;
        float[] inv = new float[d / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = (float) Math.pow(10000, -2.0 * i / d);
        Tensor x = randn(r, 1f, b, t, h, d), dy = randn(r, 1f, b, t, h, d);
        assertSameBits("ropeForward", Tensor.zeros(b, t, h, d), (kk, y) -> kk.ropeForward(x, pos, inv, y));
        assertSameBits("ropeBackward", randn(r, 1f, b, t, h, d), (kk, dx) -> kk.ropeBackward(dy, pos, inv, dx));
        int[] ids = new int[b * t];
        for (int i = 0; i < ids.length; i++) ids[i] = (i * 7) % 5; // repeated ids
        Tensor table = randn(r, 1f, DType.BF16, vocab, c), dout = randn(r, 1f, b * t, c);
        assertSameBits("embeddingForward", Tensor.zeros(b * t, c), (kk, y) -> kk.embeddingForward(ids, table, y));
        assertSameBits("embeddingBackward", randn(r, 1f, vocab, c), (kk, dt) -> kk.embeddingBackward(ids, dout, dt));
        int n = 40_000;
        Tensor xd = randn(r, 1f, n), dyd = randn(r, 1f, n), mask = Tensor.zeros(n);
        K[0].dropoutForward(xd, 0.25f, 42L, mask, Tensor.zeros(n));
        assertSameBits("dropoutForward", Tensor.zeros(n), (kk, y) -> kk.dropoutForward(xd, 0.25f, 42L, Tensor.zeros(n), y));
        assertSameBits("dropoutBackward", randn(r, 1f, n), (kk, dx) -> kk.dropoutBackward(dyd, mask, dx));
    }

    @Test
    void attentionAndRowOpsAreThreadInvariant() {
        Random r = new Random(4);
        int b = 3, t = 9, hq = 4, hkv = 2, d = 17;
        Tensor q = randn(r, 1f, b, t, hq, d), k = randn(r, 1f, b, t, hkv, d), v = randn(r, 1f, b, t, hkv, d);
        AttentionMask causal = AttentionMask.causal(null);
        Tensor out = Tensor.zeros(b, t, hq, d), lse = Tensor.zeros(b, hq, t);
        K[0].attentionForward(q, k, v, causal, 0.25f, out, lse);
        // The fused attention uses a deterministic exp: same bits, not just within rounding.
        assertSameBits("attention out", Tensor.zeros(b, t, hq, d),
                (kk, o) -> kk.attentionForward(q, k, v, causal, 0.25f, o, null));
        Tensor dout = randn(r, 1f, b, t, hq, d);
        assertSameBits("attention dk", randn(r, 1f, b, t, hkv, d),
                (kk, dk) -> kk.attentionBackward(dout, q, k, v, causal, 0.25f, out, lse, null, dk, null));
        assertSameBits("attention dq", randn(r, 1f, b, t, hq, d),
                (kk, dq) -> kk.attentionBackward(dout, q, k, v, causal, 0.25f, out, lse, dq, null, null));

        Tensor x = randn(r, 1f, 40, 130), g = randn(r, 1f, 130), be = randn(r, 1f, 130), dy = randn(r, 1f, 40, 130);
        Tensor mean = Tensor.zeros(40), rstd = Tensor.zeros(40);
        assertSameBits("layernorm y", Tensor.zeros(40, 130), (kk, y) -> kk.layerNormForward(x, g, be, 1e-5f, y, mean, rstd));
        assertSameBits("layernorm dgamma", randn(r, 1f, 130),
                (kk, dg) -> kk.layerNormBackward(dy, x, g, mean, rstd, null, dg, null));

        Tensor big = randn(r, 1f, 100_003);
        double s1 = K[0].sumOfSquares(big);
        for (VectorKernels kk : K) assertEquals(s1, kk.sumOfSquares(big), 0.0, "sumOfSquares, " + kk.threads() + " threads");
        int[] targets = KernelTestSupport.randomInts(r, 40, 130);
        double l1 = K[0].crossEntropyForward(x, targets, -1, null);
        for (VectorKernels kk : K) assertEquals(l1, kk.crossEntropyForward(x, targets, -1, null), 0.0, "cross-entropy");
        assertSameBits("cross-entropy backward", randn(r, 1f, 40, 130),
                (kk, dl) -> kk.crossEntropyBackward(x, targets, -1, 0.5f, dl));
        assertSameBits("softmax", Tensor.zeros(40, 130), (kk, y) -> kk.softmaxForward(x, y));
    }

    /** Flat element-wise ops long enough to be split between threads (several FLAT_GRAIN parts). */
    @Test
    void activationsAreThreadInvariant() {
        Random r = new Random(6);
        int n = 100_003;
        Tensor x = randn(r, 3f, n), up = randn(r, 1f, n), dy = randn(r, 1f, n);
        for (boolean tanh : new boolean[] {false, true}) {
            assertSameBits("gelu tanh=" + tanh, Tensor.zeros(n), (kk, y) -> kk.geluForward(x, tanh, y));
            assertSameBits("gelu backward tanh=" + tanh, randn(r, 1f, n), (kk, dx) -> kk.geluBackward(dy, x, tanh, dx));
        }
        assertSameBits("silu", Tensor.zeros(n), (kk, y) -> kk.siluForward(x, y));
        assertSameBits("silu backward", randn(r, 1f, n), (kk, dx) -> kk.siluBackward(dy, x, dx));
        assertSameBits("swiglu", Tensor.zeros(n), (kk, y) -> kk.swigluForward(x, up, y));
    }
}
