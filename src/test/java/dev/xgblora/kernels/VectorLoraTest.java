package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.assertGradient;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static dev.xgblora.kernels.KernelTestSupport.weightedSum;
import static dev.xgblora.kernels.KernelTestSupport.zerosLike;

import dev.xgblora.kernels.KernelTestSupport.Loss;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fused LoRA paths of the vector backend ({@link VectorLora}: the adapter term folded into the
 * base GEMM's tile store; dh, dB, dA and dx as register-blocked passes) against the
 * reference kernels' unfused composition, and the LoRA linear's backward against finite differences.
 */
class VectorLoraTest {
    static final VectorBackends K = new VectorBackends();
    static final Kernels REF = K.ref;
    static final VectorKernels ONE = K.one, TWO = K.two;

    @AfterAll
    static void close() {
        K.close();
    }

    /**
     * Ragged M (edge tiles), K above the GEMM's depth block (the term must be added once, not per
     * block), N and K across several column strips with a ragged rest, ranks 1, 2, 8 and 6 (blocks of four ranks plus a rest), BF16 base weights, with and without bias,
     * and M below the small-rows cut-off (the unfused path).
     */
    @ParameterizedTest(name = "M={0} K={1} N={2} r={3} {4} bias={5} threads={6}")
    @CsvSource({"17,9,7,1,F32,true,1", "67,383,130,1,BF16,true,2", "64,600,530,2,F32,false,2",
            "33,40,300,8,F16,true,1", "130,77,257,8,BF16,false,2", "5,31,19,2,F32,true,2", "16,1,1,1,F32,false,2",
            "70,45,271,6,F32,true,1"})
    void matchesTheUnfusedReference(int m, int k, int n, int r, DType dt, boolean withBias, int threads) {
        Random rnd = new Random(m * 7919L + k * 31L + n + r);
        VectorKernels vk = K.threads(threads);
        Tensor x = randn(rnd, 1f, m, k), w = randn(rnd, 0.5f, dt, n, k), bias = withBias ? randn(rnd, 1f, n) : null;
        Tensor a = randn(rnd, 0.5f, r, k), b = randn(rnd, 0.5f, n, r);
        float scale = 16f / r;
        Tensor ye = Tensor.zeros(m, n), he = Tensor.zeros(m, r);
        REF.linearForward(x, w, bias, ye);
        REF.loraForward(x, a, b, scale, he, ye);
        Tensor ya = randn(rnd, 1f, m, n), ha = Tensor.zeros(m, r); // y is overwritten, not accumulated
        vk.linearLoraForward(x, w, bias, x, a, b, scale, ha, ya);
        double tol = 2e-5 * Math.sqrt(k) * 4;
        assertClose("fused forward y", ye, ya, tol, 1e-4);
        assertClose("fused forward h", he, ha, tol, 1e-4);

        Tensor dy = randn(rnd, 1f, m, n);
        Tensor da0 = randn(rnd, 1f, r, k), db0 = randn(rnd, 1f, n, r), dx0 = randn(rnd, 1f, m, k);
        Tensor dae = da0.copy(), dbe = db0.copy(), dxe = dx0.copy(), dhe = Tensor.zeros(m, r);
        Tensor daa = da0.copy(), dba = db0.copy(), dxa = dx0.copy(), dha = Tensor.zeros(m, r);
        REF.loraBackward(dy, x, a, b, scale, he, dhe, dae, dbe, dxe);
        vk.loraBackward(dy, x, a, b, scale, ha, dha, daa, dba, dxa);
        assertClose("dh", dhe, dha, 2e-5 * Math.sqrt(n) * scale, 1e-4);
        assertClose("dA", dae, daa, 2e-5 * Math.sqrt(m * n) * scale, 1e-4);
        assertClose("dB", dbe, dba, 2e-5 * Math.sqrt(m * k) * scale, 1e-4);
        assertClose("dx", dxe, dxa, 2e-5 * Math.sqrt(n) * scale, 1e-4);

        // Null gradients are skipped, the others still accumulate.
        Tensor onlyDb = db0.copy(), dbe2 = db0.copy();
        REF.loraBackward(dy, x, a, b, scale, he, Tensor.zeros(m, r), null, dbe2, null);
        vk.loraBackward(dy, x, a, b, scale, ha, Tensor.zeros(m, r), null, onlyDb, null);
        assertClose("dB alone", dbe2, onlyDb, 2e-5 * Math.sqrt(m * k) * scale, 1e-4);
    }

    /** The LoRA linear y = x·Wᵀ + b + s·x·Aᵀ·Bᵀ through the fused kernels, against finite differences. */
    @Test
    void loraLinearBackwardMatchesFiniteDifferences() {
        for (int r : new int[] {1, 2, 8}) {
            Random rnd = new Random(r);
            int m = 19, k = 11, n = 9;
            Tensor x = randn(rnd, 1f, m, k), w = randn(rnd, 0.5f, n, k), bias = randn(rnd, 1f, n);
            Tensor a = randn(rnd, 0.5f, r, k), b = randn(rnd, 0.5f, n, r), h = Tensor.zeros(m, r);
            Tensor y = Tensor.zeros(m, n), probe = randn(rnd, 1f, m, n);
            float scale = 2f / r;
            Loss loss = weightedSum(() -> TWO.linearLoraForward(x, w, bias, x, a, b, scale, h, y), y, probe);
            loss.eval();
            Tensor da = zerosLike(a), db = zerosLike(b), dx = zerosLike(x);
            TWO.linearBackwardInput(probe, w, dx);
            TWO.loraBackward(probe, x, a, b, scale, h, Tensor.zeros(m, r), da, db, dx);
            assertGradient("lora linear dA rank " + r, a, da, loss);
            assertGradient("lora linear dB rank " + r, b, db, loss);
            assertGradient("lora linear dx rank " + r, x, dx, loss);
        }
    }
}
