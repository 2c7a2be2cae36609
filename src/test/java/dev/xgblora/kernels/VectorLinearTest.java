package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Vector linear and LoRA kernels against the reference, on sizes that are not multiples of the
 * vector length or block sizes (edge tiles, several K blocks, several column blocks), every
 * weight dtype, 1 and 2 threads. Gradients start non-zero so accumulation is checked too.
 */
class VectorLinearTest {
    static final VectorBackends K = new VectorBackends();
    static final Kernels REF = K.ref;
    static final VectorKernels ONE = K.one, TWO = K.two;

    @AfterAll
    static void close() {
        K.close();
    }

    static VectorKernels kernels(int threads) {
        return K.threads(threads);
    }

    /** (M, K, N): small-row path, GEMM edge tiles, K over one depth block, N over one column block. */
    static List<int[]> shapes() {
        List<int[]> s = new ArrayList<>();
        for (int m : new int[] {1, 7, 67}) {
            for (int[] kn : new int[][] {{1, 5}, {15, 33}, {17, 130}, {383, 33}}) s.add(new int[] {m, kn[0], kn[1]});
        }
        s.add(new int[] {150, 40, 70});   // several MC row blocks
        s.add(new int[] {16, 17, 2100});  // two NC column blocks
        s.add(new int[] {67, 1100, 33});  // three KC depth blocks (dX, forward)
        s.add(new int[] {1100, 40, 33});  // three KC depth blocks of dW (depth = rows)
        return s;
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (int[] s : shapes()) {
            for (DType dt : DType.values()) for (int threads : new int[] {1, 2}) out.add(Arguments.of(s[0], s[1], s[2], dt, threads));
        }
        return out.stream();
    }

    /** Float rounding of a length-K dot product of unit normals, with room to spare. */
    static double atol(int k) {
        return 2e-5 * Math.sqrt(k) + 1e-6;
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} {3} threads={4}")
    @MethodSource("cases")
    void linearForwardMatchesReference(int m, int k, int n, DType dt, int threads) {
        Random r = new Random(m * 31L + k * 7L + n);
        Tensor x = randn(r, 1f, m, k), w = randn(r, 1f, dt, n, k), b = randn(r, 1f, n);
        for (Tensor bias : new Tensor[] {null, b}) {
            Tensor expected = randn(r, 1f, m, n), actual = randn(r, 1f, m, n); // garbage: forward overwrites
            REF.linearForward(x, w, bias, expected);
            kernels(threads).linearForward(x, w, bias, actual);
            assertClose("linearForward bias=" + (bias != null), expected, actual, atol(k), 1e-5);
        }
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} {3} threads={4}")
    @MethodSource("cases")
    void linearBackwardInputAccumulates(int m, int k, int n, DType dt, int threads) {
        Random r = new Random(m * 37L + k * 11L + n);
        Tensor dy = randn(r, 1f, m, n), w = randn(r, 1f, dt, n, k), dx0 = randn(r, 1f, m, k);
        Tensor expected = dx0.copy(), actual = dx0.copy();
        REF.linearBackwardInput(dy, w, expected);
        kernels(threads).linearBackwardInput(dy, w, actual);
        assertClose("linearBackwardInput", expected, actual, atol(n), 1e-5);
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} {3} threads={4}")
    @MethodSource("cases")
    void linearBackwardWeightAndBiasAccumulate(int m, int k, int n, DType ignored, int threads) {
        Random r = new Random(m * 41L + k * 13L + n);
        Tensor dy = randn(r, 1f, m, n), x = randn(r, 1f, m, k), dw0 = randn(r, 1f, n, k), db0 = randn(r, 1f, n);
        Tensor expected = dw0.copy(), actual = dw0.copy();
        REF.linearBackwardWeight(dy, x, expected);
        kernels(threads).linearBackwardWeight(dy, x, actual);
        assertClose("linearBackwardWeight", expected, actual, atol(m), 1e-5);
        Tensor eb = db0.copy(), ab = db0.copy();
        REF.linearBackwardBias(dy, eb);
        kernels(threads).linearBackwardBias(dy, ab);
        assertClose("linearBackwardBias", eb, ab, atol(m), 1e-5);
    }

    /** Every shape, one dtype/thread combination: enough for views (the other combinations run above on whole tensors). */
    static Stream<Arguments> viewCases() {
        return shapes().stream().map(s -> Arguments.of(s[0], s[1], s[2], DType.BF16, 2));
    }

    @ParameterizedTest(name = "views M={0} K={1} N={2}")
    @MethodSource("viewCases")
    void linearWorksOnSlicedViews(int m, int k, int n, DType dt, int threads) {
        Random r = new Random(5);
        Tensor xAll = randn(r, 1f, m + 3, k), x = xAll.slice(2, m);
        Tensor w = randn(r, 1f, dt, n, k), yAll = Tensor.zeros(m + 2, n), y = yAll.slice(1, m);
        Tensor expected = Tensor.zeros(m, n);
        REF.linearForward(x, w, null, expected);
        kernels(threads).linearForward(x, w, null, y);
        assertClose("linearForward on views", expected, y, atol(k), 1e-5);
        for (int j = 0; j < n; j++) {
            if (yAll.get(0, j) != 0f || yAll.get(m + 1, j) != 0f) throw new AssertionError("wrote outside the view");
        }
    }

    static Stream<Arguments> loraCases() {
        List<Arguments> out = new ArrayList<>();
        for (int m : new int[] {1, 7, 67}) {
            for (int[] kn : new int[][] {{17, 33}, {383, 130}}) {
                for (int rank : new int[] {1, 3}) {
                    for (int threads : new int[] {1, 2}) out.add(Arguments.of(m, kn[0], kn[1], rank, threads));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} r={3} threads={4}")
    @MethodSource("loraCases")
    void loraForwardAndBackwardMatchReference(int m, int k, int n, int rank, int threads) {
        Random r = new Random(m * 43L + k * 17L + n + rank);
        float scale = 0.75f;
        Tensor x = randn(r, 1f, m, k), a = randn(r, 0.5f, rank, k), b = randn(r, 0.5f, n, rank), y0 = randn(r, 1f, m, n);
        Tensor he = Tensor.zeros(m, rank), ha = Tensor.zeros(m, rank), ye = y0.copy(), ya = y0.copy();
        REF.loraForward(x, a, b, scale, he, ye);
        kernels(threads).loraForward(x, a, b, scale, ha, ya);
        assertClose("lora h", he, ha, atol(k), 1e-5);
        assertClose("lora y (accumulated)", ye, ya, atol(k), 1e-5);

        Tensor dy = randn(r, 1f, m, n), da0 = randn(r, 1f, rank, k), db0 = randn(r, 1f, n, rank), dx0 = randn(r, 1f, m, k);
        Tensor dhe = Tensor.zeros(m, rank), dha = Tensor.zeros(m, rank);
        Tensor dae = da0.copy(), daa = da0.copy(), dbe = db0.copy(), dba = db0.copy(), dxe = dx0.copy(), dxa = dx0.copy();
        REF.loraBackward(dy, x, a, b, scale, he, dhe, dae, dbe, dxe);
        kernels(threads).loraBackward(dy, x, a, b, scale, he, dha, daa, dba, dxa);
        assertClose("lora dh", dhe, dha, atol(n), 1e-5);
        assertClose("lora dA", dae, daa, atol(m * n), 1e-5);
        assertClose("lora dB", dbe, dba, atol(m * k), 1e-5);
        assertClose("lora dx", dxe, dxa, atol(n), 1e-5);

        // Null gradients are skipped, dh is still produced.
        Tensor dh2 = Tensor.zeros(m, rank);
        kernels(threads).loraBackward(dy, x, a, b, scale, he, dh2, null, null, null);
        assertClose("lora dh without gradients", dhe, dh2, atol(n), 1e-5);
        Tensor dxn = dx0.copy(); // dh scratch may be null, as the reference tolerates
        kernels(threads).loraBackward(dy, x, a, b, scale, he, null, null, null, dxn);
        assertClose("lora dx with null dh", dxe, dxn, atol(n), 1e-5);
    }
}
