package dev.xgblora.device.opencl;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.assertLseClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static dev.xgblora.kernels.KernelTestSupport.randomInts;
import static dev.xgblora.kernels.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** OpenCL row-wise, element-wise, position, loss, optimizer and attention kernels against the reference. */
class OpenClOpsTest {
    static final Kernels REF = new ReferenceKernels();

    static Kernels cl() {
        return OpenClTestSupport.kernels();
    }

    @ParameterizedTest(name = "rows={0} cols={1}")
    @CsvSource({"1,1", "7,5", "7,33", "67,130", "3,383"})
    void softmaxMatchesReference(int m, int n) {
        Random r = new Random(m + 100L * n);
        Tensor x = randn(r, 3f, m, n), dy = randn(r, 1f, m, n), dx0 = randn(r, 1f, m, n);
        Tensor ye = Tensor.zeros(m, n), ya = Tensor.zeros(m, n);
        REF.softmaxForward(x, ye);
        cl().softmaxForward(x, ya);
        assertClose("softmax", ye, ya, 1e-6, 1e-5);
        Tensor dxe = dx0.copy(), dxa = dx0.copy();
        REF.softmaxBackward(dy, ye, dxe);
        cl().softmaxBackward(dy, ye, dxa);
        assertClose("softmax backward", dxe, dxa, 1e-6, 1e-5);
    }

    @ParameterizedTest(name = "rows={0} cols={1} gamma {2}")
    @CsvSource({"1,1,F32", "7,5,F32", "7,33,BF16", "67,130,F32", "3,383,F16"})
    void layerNormMatchesReference(int m, int c, DType gdt) {
        Random r = new Random(m + 10L * c);
        Tensor x = randn(r, 2f, m, c), g = randn(r, 1f, gdt, c), b = randn(r, 1f, gdt, c);
        Tensor ye = Tensor.zeros(m, c), ya = Tensor.zeros(m, c);
        Tensor me = Tensor.zeros(m), ma = Tensor.zeros(m), re = Tensor.zeros(m), ra = Tensor.zeros(m);
        REF.layerNormForward(x, g, b, 1e-5f, ye, me, re);
        cl().layerNormForward(x, g, b, 1e-5f, ya, ma, ra);
        assertClose("layernorm y", ye, ya, 2e-5, 1e-5);
        assertClose("layernorm mean", me, ma, 1e-6, 1e-5);
        assertClose("layernorm rstd", re, ra, 1e-6, 1e-4);
        Tensor dy = randn(r, 1f, m, c), dx0 = randn(r, 1f, m, c), dg0 = randn(r, 1f, c), db0 = randn(r, 1f, c);
        Tensor dxe = dx0.copy(), dxa = dx0.copy(), dge = dg0.copy(), dga = dg0.copy(), dbe = db0.copy(), dba = db0.copy();
        REF.layerNormBackward(dy, x, g, me, re, dxe, dge, dbe);
        cl().layerNormBackward(dy, x, g, me, re, dxa, dga, dba);
        assertClose("layernorm dx", dxe, dxa, 1e-4, 1e-4);
        assertClose("layernorm dgamma", dge, dga, 1e-4 * Math.sqrt(m), 1e-5);
        assertClose("layernorm dbeta", dbe, dba, 1e-5 * Math.sqrt(m), 1e-5);
    }

    @ParameterizedTest(name = "rows={0} cols={1} gamma {2}")
    @CsvSource({"1,1,F32", "7,5,BF16", "7,33,F32", "67,130,F32", "3,383,BF16"})
    void rmsNormMatchesReference(int m, int c, DType gdt) {
        Random r = new Random(m + 13L * c);
        Tensor x = randn(r, 2f, m, c), g = randn(r, 1f, gdt, c);
        Tensor ye = Tensor.zeros(m, c), ya = Tensor.zeros(m, c), re = Tensor.zeros(m), ra = Tensor.zeros(m);
        REF.rmsNormForward(x, g, 1e-6f, ye, re);
        cl().rmsNormForward(x, g, 1e-6f, ya, ra);
        assertClose("rmsnorm y", ye, ya, 2e-5, 1e-5);
        assertClose("rmsnorm rstd", re, ra, 1e-6, 1e-5);
        Tensor dy = randn(r, 1f, m, c), dx0 = randn(r, 1f, m, c), dg0 = randn(r, 1f, c);
        Tensor dxe = dx0.copy(), dxa = dx0.copy(), dge = dg0.copy(), dga = dg0.copy();
        REF.rmsNormBackward(dy, x, g, re, dxe, dge);
        cl().rmsNormBackward(dy, x, g, re, dxa, dga);
        assertClose("rmsnorm dx", dxe, dxa, 1e-4, 1e-4);
        assertClose("rmsnorm dgamma", dge, dga, 1e-4 * Math.sqrt(m), 1e-5);
    }

    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "37", "1031"})
    void activationsMatchReference(int n) {
        Random r = new Random(n);
        Tensor x = randn(r, 3f, n), up = randn(r, 1f, n), dy = randn(r, 1f, n), d0 = randn(r, 1f, n);
        for (boolean tanh : new boolean[]{false, true}) {
            Tensor ye = Tensor.zeros(n), ya = Tensor.zeros(n), dxe = d0.copy(), dxa = d0.copy();
            REF.geluForward(x, tanh, ye);
            cl().geluForward(x, tanh, ya);
            assertClose("gelu tanh=" + tanh, ye, ya, 1e-6, 1e-5);
            REF.geluBackward(dy, x, tanh, dxe);
            cl().geluBackward(dy, x, tanh, dxa);
            assertClose("gelu backward tanh=" + tanh, dxe, dxa, 1e-5, 1e-5);
        }
        Tensor ye = Tensor.zeros(n), ya = Tensor.zeros(n), dxe = d0.copy(), dxa = d0.copy();
        REF.siluForward(x, ye);
        cl().siluForward(x, ya);
        assertClose("silu", ye, ya, 1e-6, 1e-5);
        REF.siluBackward(dy, x, dxe);
        cl().siluBackward(dy, x, dxa);
        assertClose("silu backward", dxe, dxa, 1e-6, 1e-5);
        REF.swigluForward(x, up, ye);
        cl().swigluForward(x, up, ya);
        assertClose("swiglu", ye, ya, 1e-6, 1e-5);
        Tensor dge = d0.copy(), dga = d0.copy(), due = d0.copy(), dua = d0.copy();
        REF.swigluBackward(dy, x, up, dge, due);
        cl().swigluBackward(dy, x, up, dga, dua);
        assertClose("swiglu dgate", dge, dga, 1e-6, 1e-5);
        assertClose("swiglu dup", due, dua, 1e-6, 1e-5);
    }

    @Test
    void elementwiseAndDropoutMatchReference() {
        Random r = new Random(3);
        Tensor a = randn(r, 1f, 7, 33), b = randn(r, 1f, 7, 33), d0 = randn(r, 1f, 7, 33);
        Tensor oe = Tensor.zeros(7, 33), oa = Tensor.zeros(7, 33);
        REF.add(a, b, oe);
        cl().add(a, b, oa);
        assertClose("add", oe, oa, 0, 0);
        Tensor de = d0.copy(), da = d0.copy();
        REF.accumulate(a, -0.3f, de);
        cl().accumulate(a, -0.3f, da);
        assertClose("accumulate", de, da, 1e-7, 1e-6);
        REF.scale(de, 1.7f);
        cl().scale(da, 1.7f);
        assertClose("scale", de, da, 1e-7, 1e-6);
        Tensor me = Tensor.zeros(7, 33), ma = Tensor.zeros(7, 33);
        REF.dropoutForward(a, 0.3f, 42, me, oe);
        cl().dropoutForward(a, 0.3f, 42, ma, oa);
        assertClose("dropout mask", me, ma, 0, 0);
        assertClose("dropout y", oe, oa, 0, 0);
        de = d0.copy();
        da = d0.copy();
        REF.dropoutBackward(b, me, de);
        cl().dropoutBackward(b, me, da);
        assertClose("dropout backward", de, da, 1e-6, 1e-6);
    }

    @ParameterizedTest(name = "B={0} T={1} H={2} D={3}")
    @CsvSource({"1,1,1,2", "2,5,3,8", "1,9,2,64"})
    void ropeMatchesReference(int b, int t, int h, int d) {
        Random r = new Random(b + t + h + d);
        Tensor x = randn(r, 1f, b, t, h, d), dout = randn(r, 1f, b, t, h, d), dx0 = randn(r, 1f, b, t, h, d);
        int[] pos = randomInts(r, b * t, 500);
        float[] inv = new float[d / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = (float) Math.pow(10000, -2.0 * i / d);
        Tensor ye = Tensor.zeros(b, t, h, d), ya = Tensor.zeros(b, t, h, d);
        REF.ropeForward(x, pos, inv, ye);
        cl().ropeForward(x, pos, inv, ya);
        assertClose("rope", ye, ya, 2e-5, 1e-4);
        Tensor dxe = dx0.copy(), dxa = dx0.copy();
        REF.ropeBackward(dout, pos, inv, dxe);
        cl().ropeBackward(dout, pos, inv, dxa);
        assertClose("rope backward", dxe, dxa, 2e-5, 1e-4);
    }

    @ParameterizedTest(name = "table {0}")
    @CsvSource({"F32", "BF16", "F16"})
    void embeddingMatchesReference(DType dt) {
        Random r = new Random(dt.ordinal());
        Tensor table = randn(r, 1f, dt, 50, 37);
        int[] ids = {3, 49, 0, 3, 3, 17, 49}; // repeated ids: the scatter-add must sum them
        Tensor oe = Tensor.zeros(ids.length, 37), oa = Tensor.zeros(ids.length, 37);
        REF.embeddingForward(ids, table, oe);
        cl().embeddingForward(ids, table, oa);
        assertClose("embedding", oe, oa, 0, 0);
        Tensor dout = randn(r, 1f, ids.length, 37), dt0 = randn(r, 1f, 50, 37);
        Tensor de = dt0.copy(), da = dt0.copy();
        REF.embeddingBackward(ids, dout, de);
        cl().embeddingBackward(ids, dout, da);
        assertClose("embedding backward", de, da, 1e-6, 1e-6);
        assertThrows(IllegalArgumentException.class, () -> cl().embeddingForward(new int[]{50}, table, Tensor.zeros(1, 37)));
    }

    @ParameterizedTest(name = "rows={0} classes={1}")
    @CsvSource({"1,2", "9,5", "33,1000"})
    void crossEntropyMatchesReference(int m, int v) {
        Random r = new Random(m * 7L + v);
        Tensor logits = randn(r, 3f, m, v);
        int[] targets = randomInts(r, m, v);
        if (m > 2) targets[1] = -100;
        Tensor le = Tensor.zeros(m), la = Tensor.zeros(m);
        double e = REF.crossEntropyForward(logits, targets, -100, le);
        double a = cl().crossEntropyForward(logits, targets, -100, la);
        assertEquals(e, a, 1e-5 * Math.max(1, Math.abs(e)), "mean loss");
        assertClose("row losses", le, la, 1e-5, 1e-5);
        Tensor d0 = randn(r, 1f, m, v), de = d0.copy(), da = d0.copy();
        REF.crossEntropyBackward(logits, targets, -100, 0.5f, de);
        cl().crossEntropyBackward(logits, targets, -100, 0.5f, da);
        assertClose("dlogits", de, da, 1e-6, 1e-5);
    }

    @Test
    void adamwAndSumOfSquaresMatchReference() {
        Random r = new Random(8);
        Tensor p0 = randn(r, 1f, 13, 71), g = randn(r, 1f, 13, 71), m0 = randn(r, 0.1f, 13, 71);
        Tensor v0 = uniform(r, 0f, 0.1f, 13, 71);
        Tensor pe = p0.copy(), pa = p0.copy(), me = m0.copy(), ma = m0.copy(), ve = v0.copy(), va = v0.copy();
        for (long step = 1; step <= 3; step++) {
            REF.adamwStep(pe, g, me, ve, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            cl().adamwStep(pa, g, ma, va, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
        }
        assertClose("adamw param", pe, pa, 1e-6, 1e-5);
        assertClose("adamw m", me, ma, 1e-7, 1e-5);
        assertClose("adamw v", ve, va, 1e-7, 1e-5);
        Tensor big = randn(r, 1f, 100_003);
        assertEquals(REF.sumOfSquares(big), cl().sumOfSquares(big), 1e-5 * REF.sumOfSquares(big), "sum of squares");
    }

    /**
     * A mask for the attention test: padding hides about a third of the keys at random, key 0 of
     * batch 0 (with causality query 0 there sees nothing) and every key of the last batch row (all
     * its queries see nothing); segments are random ids in {0, 1, 2}, so documents interleave.
     */
    static AttentionMask attentionMask(Random r, int b, int s, boolean causal, boolean padding, int window, boolean segments) {
        Tensor valid = null;
        if (padding) {
            valid = Tensor.zeros(b, s);
            for (int bi = 0; bi < b; bi++) for (int si = 0; si < s; si++) valid.set(bi, si, r.nextInt(3) > 0 ? 1f : 0f);
            valid.set(0, 0, 0f);
            if (b > 1) for (int si = 0; si < s; si++) valid.set(b - 1, si, 0f);
        }
        int[] seg = null;
        if (segments) {
            seg = new int[b * s];
            for (int i = 0; i < seg.length; i++) seg[i] = r.nextInt(3);
        }
        return new AttentionMask(valid, causal, window, seg);
    }

    @ParameterizedTest(name = "B={0} T={1} S={2} Hq={3} Hkv={4} D={5} causal={6} padding={7} window={8} segments={9}")
    @CsvSource({"1,1,1,1,1,1,false,false,0,false",
                "2,5,5,4,2,8,true,false,0,false",
                "2,7,10,4,1,17,true,true,0,false",   // 3 cached keys before the queries
                "3,6,6,3,3,32,false,true,0,false",   // batch 2 fully padded
                "1,1,40,4,2,16,true,false,0,false",  // one new token against a 40-key cache
                "2,1,40,2,1,16,true,true,8,true",    // the same with window, segments and padding
                "2,13,13,2,1,8,true,false,4,false",  // window < T
                "2,3,21,2,1,9,true,false,6,false",   // window with a cache offset
                "2,12,12,4,2,8,true,true,0,true",    // interleaved documents and padding
                "2,9,9,2,2,8,false,false,0,true"})   // bidirectional documents
    void attentionMatchesReference(int b, int t, int s, int hq, int hkv, int d, boolean causal, boolean padding,
                                   int window, boolean segments) {
        Random r = new Random(b + 3L * t + 7L * s + hq + d + 11L * window);
        AttentionMask m = attentionMask(r, b, s, causal, padding, window, segments);
        Tensor q = randn(r, 1f, b, t, hq, d), k = randn(r, 1f, b, s, hkv, d), v = randn(r, 1f, b, s, hkv, d);
        float scale = (float) (1 / Math.sqrt(d));
        Tensor oe = Tensor.zeros(b, t, hq, d), le = Tensor.zeros(b, hq, t);
        Tensor oa = randn(r, 1f, b, t, hq, d), la = randn(r, 1f, b, hq, t); // overwritten
        REF.attentionForward(q, k, v, m, scale, oe, le);
        cl().attentionForward(q, k, v, m, scale, oa, la);
        assertClose("out", oe, oa, 2e-5, 1e-5);
        assertLseClose(le, la);
        Tensor noLse = randn(r, 1f, b, t, hq, d);
        cl().attentionForward(q, k, v, m, scale, noLse, null);
        assertClose("out without lse", oa, noLse, 0, 0);

        // backward from the device's own out and lse (the reference recomputes everything from q and k)
        Tensor dout = randn(r, 1f, b, t, hq, d);
        Tensor dq0 = randn(r, 1f, b, t, hq, d), dk0 = randn(r, 1f, b, s, hkv, d), dv0 = randn(r, 1f, b, s, hkv, d);
        Tensor dqe = dq0.copy(), dqa = dq0.copy(), dke = dk0.copy(), dka = dk0.copy(), dve = dv0.copy(), dva = dv0.copy();
        REF.attentionBackward(dout, q, k, v, m, scale, oe, le, dqe, dke, dve);
        cl().attentionBackward(dout, q, k, v, m, scale, oa, la, dqa, dka, dva);
        assertClose("dq", dqe, dqa, 3e-5, 1e-4);
        assertClose("dk", dke, dka, 3e-5, 1e-4);
        assertClose("dv", dve, dva, 3e-5, 1e-4);
        Tensor dvOnly = dv0.copy();
        cl().attentionBackward(dout, q, k, v, m, scale, oa, la, null, null, dvOnly);
        assertClose("dv alone", dva, dvOnly, 0, 0);
    }

    @Test
    void attentionRejectsAMaskOrLseThatDoesNotFit() {
        Tensor q = Tensor.zeros(1, 4, 2, 8), kv = Tensor.zeros(1, 4, 2, 8), out = Tensor.zeros(1, 4, 2, 8);
        var lse = assertThrows(IllegalArgumentException.class,
                () -> cl().attentionForward(q, kv, kv, AttentionMask.NONE, 1f, out, Tensor.zeros(1, 4, 2)));
        assertTrue(lse.getMessage().contains("lse"), lse.getMessage());
        var seg = assertThrows(IllegalArgumentException.class,
                () -> cl().attentionForward(q, kv, kv, AttentionMask.NONE.withSegments(new int[3]), 1f, out, null));
        assertTrue(seg.getMessage().contains("segments"), seg.getMessage());
        var fewKeys = assertThrows(IllegalArgumentException.class, () -> cl().attentionForward(q, Tensor.zeros(1, 2, 2, 8),
                Tensor.zeros(1, 2, 2, 8), AttentionMask.NONE, 1f, out, null));
        assertTrue(fewKeys.getMessage().contains("S >= T"), fewKeys.getMessage());
    }

    @Test
    void stridedViewsAreReadAndWrittenThroughTheirStrides() {
        Random r = new Random(4);
        Tensor x = randn(r, 1f, 9, 6).transposeLast2(); // [6, 9] strided view
        Tensor w = randn(r, 1f, 5, 9);
        Tensor backing = Tensor.zeros(5, 6), ya = backing.transposeLast2(); // strided output [6, 5]
        Tensor ye = Tensor.zeros(6, 5);
        REF.linearForward(x, w, null, ye);
        cl().linearForward(x, w, null, ya);
        assertClose("linear on strided views", ye, ya, 1e-5, 1e-5);
    }
}
