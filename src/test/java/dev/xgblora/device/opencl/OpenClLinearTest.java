package dev.xgblora.device.opencl;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * OpenCL GEMM paths (linear forward / dX / dW / db, the rank-r adapter, the merge) against the
 * reference kernels on ragged shapes (edge tiles of the 16×16 tiling, K over several tiles), every
 * weight dtype. Gradients start non-zero so accumulation is checked too.
 */
class OpenClLinearTest {
    static final Kernels REF = new ReferenceKernels();

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int[][] shapes = {{1, 1, 5}, {7, 15, 33}, {17, 130, 17}, {67, 383, 33}, {33, 40, 70}};
        for (int[] s : shapes) for (DType dt : DType.values()) out.add(Arguments.of(s[0], s[1], s[2], dt));
        return out.stream();
    }

    static double atol(int k) {
        return 2e-5 * Math.sqrt(k) + 1e-6;
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} {3}")
    @MethodSource("cases")
    void linearMatchesReference(int m, int k, int n, DType dt) {
        Kernels cl = OpenClTestSupport.kernels();
        Random r = new Random(m * 31L + k * 7L + n + dt.ordinal());
        Tensor x = randn(r, 1f, m, k), w = randn(r, 1f, dt, n, k), b = randn(r, 1f, n);
        Tensor ye = Tensor.zeros(m, n), ya = Tensor.zeros(m, n);
        REF.linearForward(x, w, b, ye);
        cl.linearForward(x, w, b, ya);
        assertClose("forward", ye, ya, atol(k), 1e-5);
        REF.linearForward(x, w, null, ye);
        cl.linearForward(x, w, null, ya);
        assertClose("forward without bias", ye, ya, atol(k), 1e-5);

        Tensor dy = randn(r, 1f, m, n), dx0 = randn(r, 1f, m, k), dw0 = randn(r, 1f, n, k), db0 = randn(r, 1f, n);
        Tensor dxe = dx0.copy(), dxa = dx0.copy(), dwe = dw0.copy(), dwa = dw0.copy(), dbe = db0.copy(), dba = db0.copy();
        REF.linearBackwardInput(dy, w, dxe);
        cl.linearBackwardInput(dy, w, dxa);
        assertClose("dX", dxe, dxa, atol(n), 1e-5);
        REF.linearBackwardWeight(dy, x, dwe);
        cl.linearBackwardWeight(dy, x, dwa);
        assertClose("dW", dwe, dwa, atol(m), 1e-5);
        REF.linearBackwardBias(dy, dbe);
        cl.linearBackwardBias(dy, dba);
        assertClose("db", dbe, dba, atol(m), 1e-5);
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} r={3}")
    @org.junit.jupiter.params.provider.CsvSource({"1,5,3,1", "7,33,17,1", "67,130,40,4", "20,17,383,2"})
    void loraMatchesReference(int m, int k, int n, int rank) {
        Kernels cl = OpenClTestSupport.kernels();
        Random r = new Random(m + 3L * k + 11L * n + rank);
        Tensor x = randn(r, 1f, m, k), a = randn(r, 1f, rank, k), b = randn(r, 1f, n, rank);
        Tensor y0 = randn(r, 1f, m, n), ye = y0.copy(), ya = y0.copy();
        Tensor he = Tensor.zeros(m, rank), ha = Tensor.zeros(m, rank);
        REF.loraForward(x, a, b, 0.7f, he, ye);
        cl.loraForward(x, a, b, 0.7f, ha, ya);
        assertClose("lora h", he, ha, atol(k), 1e-5);
        assertClose("lora y", ye, ya, atol(k), 1e-5);

        Tensor dy = randn(r, 1f, m, n);
        Tensor da0 = randn(r, 1f, rank, k), db0 = randn(r, 1f, n, rank), dx0 = randn(r, 1f, m, k);
        Tensor dae = da0.copy(), daa = da0.copy(), dbe = db0.copy(), dba = db0.copy(), dxe = dx0.copy(), dxa = dx0.copy();
        Tensor dhe = Tensor.zeros(m, rank), dha = Tensor.zeros(m, rank);
        REF.loraBackward(dy, x, a, b, 0.7f, he, dhe, dae, dbe, dxe);
        cl.loraBackward(dy, x, a, b, 0.7f, he, dha, daa, dba, dxa);
        assertClose("lora dh", dhe, dha, atol(n), 1e-5);
        assertClose("lora dA", dae, daa, atol(m * n), 1e-5);
        assertClose("lora dB", dbe, dba, atol(m), 1e-5);
        assertClose("lora dx", dxe, dxa, atol(n), 1e-5);
    }

    @Test
    void mergeAddsScaledProductOfFactors() {
        OpenClKernels cl = OpenClTestSupport.kernels();
        Random r = new Random(5);
        int n = 37, k = 70, rank = 3;
        Tensor w = randn(r, 1f, n, k), a = randn(r, 1f, rank, k), b = randn(r, 1f, n, rank);
        Tensor expected = w.copy();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                double s = 0;
                for (int q = 0; q < rank; q++) s += (double) b.get(i, q) * a.get(q, j);
                expected.set(i, j, (float) (expected.get(i, j) + 0.25 * s));
            }
        }
        cl.mergeInto(w, a, b, 0.25f);
        assertClose("merge", expected, w, 1e-5, 1e-5);
    }

    @Test
    void residentWeightIsReuploadedWhenTheHostCopyChanges() {
        Kernels cl = OpenClTestSupport.kernels();
        Random r = new Random(9);
        Tensor x = randn(r, 1f, 5, 20), w = randn(r, 1f, DType.BF16, 12, 20);
        Tensor ye = Tensor.zeros(5, 12), ya = Tensor.zeros(5, 12);
        cl.linearForward(x, w, null, ya);
        w.set(3, 4, w.get(3, 4) + 2f); // a host-side change (as a merge or optimizer step makes)
        REF.linearForward(x, w, null, ye);
        cl.linearForward(x, w, null, ya);
        assertClose("forward after the weight changed", ye, ya, atol(20), 1e-5);
    }
}
