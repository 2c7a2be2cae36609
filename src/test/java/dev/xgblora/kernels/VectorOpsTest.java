package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static dev.xgblora.kernels.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Vector row-wise, elementwise, loss and optimizer ops against the reference (1 and 2 threads). */
class VectorOpsTest {
    static final VectorBackends K = new VectorBackends();
    static final Kernels REF = K.ref;
    static final VectorKernels ONE = K.one, TWO = K.two;

    @AfterAll
    static void close() {
        K.close();
    }

    static Kernels vk(int threads) {
        return K.threads(threads);
    }

    @ParameterizedTest(name = "rows={0} cols={1} threads={2}")
    @CsvSource({"1,1,1", "7,5,2", "7,33,1", "67,130,2", "3,383,2"})
    void softmaxMatchesReference(int m, int n, int threads) {
        Random r = new Random(m + 100L * n);
        Tensor x = randn(r, 3f, m, n), dy = randn(r, 1f, m, n), dx0 = randn(r, 1f, m, n);
        Tensor ye = Tensor.zeros(m, n), ya = Tensor.zeros(m, n);
        REF.softmaxForward(x, ye);
        vk(threads).softmaxForward(x, ya);
        assertClose("softmax", ye, ya, 1e-6, 1e-5);
        Tensor dxe = dx0.copy(), dxa = dx0.copy();
        REF.softmaxBackward(dy, ye, dxe);
        vk(threads).softmaxBackward(dy, ye, dxa);
        assertClose("softmax backward", dxe, dxa, 1e-6, 1e-5);
    }

    @ParameterizedTest(name = "rows={0} cols={1} threads={2}")
    @CsvSource({"1,1,1", "7,5,2", "7,33,1", "67,130,2", "3,383,2"})
    void layerNormMatchesReference(int m, int c, int threads) {
        Random r = new Random(m + 10L * c);
        Tensor x = randn(r, 2f, m, c).reshape(m, c), g = randn(r, 1f, c), b = randn(r, 1f, c);
        Tensor ye = Tensor.zeros(m, c), ya = Tensor.zeros(m, c);
        Tensor me = Tensor.zeros(m), ma = Tensor.zeros(m), re = Tensor.zeros(m), ra = Tensor.zeros(m);
        REF.layerNormForward(x, g, b, 1e-5f, ye, me, re);
        vk(threads).layerNormForward(x, g, b, 1e-5f, ya, ma, ra);
        assertClose("layernorm y", ye, ya, 2e-5, 1e-5);
        assertClose("layernorm mean", me, ma, 1e-6, 1e-5);
        assertClose("layernorm rstd", re, ra, 1e-6, 1e-4);

        Tensor dy = randn(r, 1f, m, c), dx0 = randn(r, 1f, m, c), dg0 = randn(r, 1f, c), db0 = randn(r, 1f, c);
        Tensor dxe = dx0.copy(), dxa = dx0.copy(), dge = dg0.copy(), dga = dg0.copy(), dbe = db0.copy(), dba = db0.copy();
        REF.layerNormBackward(dy, x, g, me, re, dxe, dge, dbe);
        vk(threads).layerNormBackward(dy, x, g, me, re, dxa, dga, dba);
        assertClose("layernorm dx", dxe, dxa, 1e-4, 1e-4);
        assertClose("layernorm dgamma", dge, dga, 1e-4 * Math.sqrt(m), 1e-5);
        assertClose("layernorm dbeta", dbe, dba, 1e-5 * Math.sqrt(m), 1e-5);
    }

    @ParameterizedTest(name = "rows={0} cols={1} threads={2}")
    @CsvSource({"1,1,1", "7,5,2", "7,33,1", "67,130,2", "3,383,2"})
    void rmsNormMatchesReference(int m, int c, int threads) {
        Random r = new Random(m + 13L * c);
        Tensor x = randn(r, 2f, m, c), g = randn(r, 1f, c);
        Tensor ye = Tensor.zeros(m, c), ya = Tensor.zeros(m, c), re = Tensor.zeros(m), ra = Tensor.zeros(m);
        REF.rmsNormForward(x, g, 1e-6f, ye, re);
        vk(threads).rmsNormForward(x, g, 1e-6f, ya, ra);
        assertClose("rmsnorm y", ye, ya, 2e-5, 1e-5);
        assertClose("rmsnorm rstd", re, ra, 1e-6, 1e-5);
        Tensor dy = randn(r, 1f, m, c), dx0 = randn(r, 1f, m, c), dg0 = randn(r, 1f, c);
        Tensor dxe = dx0.copy(), dxa = dx0.copy(), dge = dg0.copy(), dga = dg0.copy();
        REF.rmsNormBackward(dy, x, g, re, dxe, dge);
        vk(threads).rmsNormBackward(dy, x, g, re, dxa, dga);
        assertClose("rmsnorm dx", dxe, dxa, 1e-4, 1e-4);
        assertClose("rmsnorm dgamma", dge, dga, 1e-4 * Math.sqrt(m), 1e-5);
    }

    @ParameterizedTest(name = "n={0} threads={1}")
    @CsvSource({"1,1", "15,2", "33,1", "40000,2"})
    void siluAndSwigluMatchReference(int n, int threads) {
        Random r = new Random(n + 5);
        Tensor x = randn(r, 3f, n), up = randn(r, 1f, n), dy = randn(r, 1f, n), d0 = randn(r, 1f, n), u0 = randn(r, 1f, n);
        Tensor ye = Tensor.zeros(n), ya = Tensor.zeros(n);
        REF.siluForward(x, ye);
        vk(threads).siluForward(x, ya);
        assertClose("silu", ye, ya, 1e-6, 1e-5);
        Tensor dxe = d0.copy(), dxa = d0.copy();
        REF.siluBackward(dy, x, dxe);
        vk(threads).siluBackward(dy, x, dxa);
        assertClose("silu backward", dxe, dxa, 1e-6, 1e-5);
        REF.swigluForward(x, up, ye);
        vk(threads).swigluForward(x, up, ya);
        assertClose("swiglu", ye, ya, 1e-6, 1e-5);
        Tensor dge = d0.copy(), dga = d0.copy(), due = u0.copy(), dua = u0.copy();
        REF.swigluBackward(dy, x, up, dge, due);
        vk(threads).swigluBackward(dy, x, up, dga, dua);
        assertClose("swiglu dgate", dge, dga, 1e-6, 1e-5);
        assertClose("swiglu dup", due, dua, 1e-6, 1e-5);
        Tensor dua2 = u0.copy();
        vk(threads).swigluBackward(dy, x, up, null, dua2);
        assertClose("swiglu dup without dgate", due, dua2, 1e-6, 1e-5);
    }

    @ParameterizedTest(name = "n={0} threads={1}")
    @CsvSource({"1,1", "15,2", "33,1", "40000,2"})
    void geluBothFormsMatchReference(int n, int threads) {
        Random r = new Random(n);
        Tensor x = randn(r, 3f, n), dy = randn(r, 1f, n), dx0 = randn(r, 1f, n);
        for (boolean tanh : new boolean[] {false, true}) {
            Tensor ye = Tensor.zeros(n), ya = Tensor.zeros(n);
            REF.geluForward(x, tanh, ye);
            vk(threads).geluForward(x, tanh, ya);
            assertClose("gelu tanh=" + tanh, ye, ya, 2e-6, 1e-5);
            Tensor dxe = dx0.copy(), dxa = dx0.copy();
            REF.geluBackward(dy, x, tanh, dxe);
            vk(threads).geluBackward(dy, x, tanh, dxa);
            assertClose("gelu backward tanh=" + tanh, dxe, dxa, 5e-6, 1e-5);
        }
    }

    @ParameterizedTest(name = "rows={0} vocab={1} threads={2}")
    @CsvSource({"1,5,1", "7,33,2", "67,130,1", "5,1000,2"})
    void crossEntropyMatchesReference(int m, int v, int threads) {
        Random r = new Random(m * 7L + v);
        Tensor logits = randn(r, 4f, m, v), d0 = randn(r, 1f, m, v);
        int[] targets = KernelTestSupport.randomInts(r, m, v);
        if (m > 2) targets[1] = -100;
        Tensor le = Tensor.zeros(m), la = Tensor.zeros(m);
        double expected = REF.crossEntropyForward(logits, targets, -100, le);
        double actual = vk(threads).crossEntropyForward(logits, targets, -100, la);
        assertEquals(expected, actual, 1e-5 * Math.max(1, Math.abs(expected)));
        assertClose("per-row losses", le, la, 1e-5, 1e-5);
        Tensor de = d0.copy(), da = d0.copy();
        REF.crossEntropyBackward(logits, targets, -100, 0.3f, de);
        vk(threads).crossEntropyBackward(logits, targets, -100, 0.3f, da);
        assertClose("cross-entropy backward", de, da, 1e-6, 1e-5);
    }

    @ParameterizedTest(name = "bad target threads={0}")
    @ValueSource(ints = {1, 2})
    void crossEntropyRejectsOutOfRangeTarget(int threads) {
        Tensor logits = Tensor.zeros(2, 4);
        var e = assertThrows(IllegalArgumentException.class,
                () -> vk(threads).crossEntropyForward(logits, new int[] {1, 4}, -100, null));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("row 1"), e.getMessage());
    }

    @ParameterizedTest(name = "n={0} threads={1}")
    @CsvSource({"1,1", "17,2", "383,1", "50001,2"})
    void flatOpsMatchReference(int n, int threads) {
        Random r = new Random(n * 3L);
        Tensor a = randn(r, 1f, n), b = randn(r, 1f, n);
        Tensor oe = Tensor.zeros(n), oa = Tensor.zeros(n);
        REF.add(a, b, oe);
        vk(threads).add(a, b, oa);
        assertClose("add", oe, oa, 0, 0);
        Tensor ae = b.copy(), aa = b.copy();
        REF.accumulate(a, -0.7f, ae);
        vk(threads).accumulate(a, -0.7f, aa);
        assertClose("accumulate", ae, aa, 1e-6, 1e-6);
        REF.scale(ae, 1.3f);
        vk(threads).scale(aa, 1.3f);
        assertClose("scale", ae, aa, 1e-6, 1e-6);
        double se = REF.sumOfSquares(a), sa = vk(threads).sumOfSquares(a);
        assertEquals(se, sa, 1e-5 * se);

        Tensor p0 = randn(r, 1f, n), g = randn(r, 1f, n), m0 = randn(r, 0.1f, n), v0 = uniform(r, 0f, 0.1f, n);
        Tensor pe = p0.copy(), pa = p0.copy(), me = m0.copy(), ma = m0.copy(), ve = v0.copy(), va = v0.copy();
        REF.adamwStep(pe, g, me, ve, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 7);
        vk(threads).adamwStep(pa, g, ma, va, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 7);
        assertClose("adamw m", me, ma, 1e-7, 1e-6);
        assertClose("adamw v", ve, va, 1e-7, 1e-6);
        assertClose("adamw param", pe, pa, 1e-6, 1e-6);
    }

    @org.junit.jupiter.api.Test
    void elementwiseOpsAcceptStridedViews() {
        Random r = new Random(9);
        Tensor a = randn(r, 1f, 5, 7).transposeLast2(), b = randn(r, 1f, 7, 5);
        Tensor oe = Tensor.zeros(7, 5), oa = Tensor.zeros(7, 5);
        REF.add(a, b, oe);
        TWO.add(a, b, oa);
        assertClose("add of a transposed view", oe, oa, 0, 0);
        Tensor ge = Tensor.zeros(7, 5), ga = Tensor.zeros(7, 5);
        REF.geluForward(a, false, ge);
        TWO.geluForward(a, false, ga);
        assertClose("gelu of a transposed view", ge, ga, 2e-6, 1e-5);
    }
}
