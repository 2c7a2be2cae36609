package dev.xgblora.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

/**
 * Shared test helpers for kernel (and model) tests: seeded random tensors in every dtype,
 * differences between tensors, and a central finite-difference gradient checker.
 *
 * <p>Gradient check: the test defines a scalar loss (usually {@link #weightedSum}: L = Σ out ⊙ R
 * for a fixed random R, so the upstream gradient of out is exactly R), runs backward with
 * dout = R into zeroed gradients, and {@link #assertGradient} compares every element of the
 * analytic gradient with (L(x+h) − L(x−h)) / (2h) evaluated in double.
 */
public final class KernelTestSupport {
    private KernelTestSupport() {
    }

    // ---- Random tensors -------------------------------------------------------------------------

    /** F32 tensor with standard normal entries times {@code std}. */
    public static Tensor randn(Random random, float std, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.count(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (random.nextGaussian() * std);
        return Tensor.fromArray(v, shape);
    }

    /** F32 tensor with entries uniform in [lo, hi). */
    public static Tensor uniform(Random random, float lo, float hi, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.count(shape))];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * random.nextFloat();
        return Tensor.fromArray(v, shape);
    }

    /** A vector of n ones (LayerNorm gains). */
    public static Tensor ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return Tensor.fromArray(v, n);
    }

    /** Normal entries times {@code std}, stored in {@code dtype} (rounded once). Auto-freed memory. */
    public static Tensor randn(Random random, float std, DType dtype, long... shape) {
        Tensor f32 = randn(random, std, shape);
        return dtype == DType.F32 ? f32 : f32.toDType(dtype, Arena.ofAuto());
    }

    /** A copy of {@code t} in {@code dtype} (F32 copies land on the heap). */
    public static Tensor convert(Tensor t, DType dtype) {
        return t.toDType(dtype, dtype == DType.F32 ? null : Arena.ofAuto());
    }

    /** A zeroed F32 tensor; convenience for gradients. */
    public static Tensor zerosLike(Tensor t) {
        return Tensor.zeros(t.shape());
    }

    /** Random integers in [0, bound). */
    public static int[] randomInts(Random random, int n, int bound) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = random.nextInt(bound);
        return ids;
    }

    // ---- Differences ----------------------------------------------------------------------------

    public static double maxAbsDiff(Tensor a, Tensor b) {
        requireSameCount(a, b);
        double max = 0;
        for (long i = 0; i < a.numel(); i++) max = Math.max(max, Math.abs((double) a.get(i) - b.get(i)));
        return max;
    }

    public static double maxAbs(Tensor a) {
        double max = 0;
        for (long i = 0; i < a.numel(); i++) max = Math.max(max, Math.abs(a.get(i)));
        return max;
    }

    /** max |a − b| / max(max |b|, tiny): the error relative to the scale of the expected values. */
    public static double maxRelDiff(Tensor actual, Tensor expected) {
        return maxAbsDiff(actual, expected) / Math.max(maxAbs(expected), 1e-30);
    }

    /**
     * Asserts |actual − expected| <= atol + rtol·|expected| element-wise, reporting the worst
     * element, its index and both values.
     */
    /** −inf (a query that sees no key) in the same places, the finite values close. */
    public static void assertLseClose(Tensor expected, Tensor actual) {
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

    public static void assertClose(String what, Tensor expected, Tensor actual, double atol, double rtol) {
        requireSameCount(expected, actual);
        double worst = 0;
        long worstAt = -1;
        for (long i = 0; i < expected.numel(); i++) {
            double e = expected.get(i), a = actual.get(i);
            double excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
            if (!(excess <= 0) && (worstAt < 0 || excess > worst || Double.isNaN(excess))) {
                worst = excess;
                worstAt = i;
            }
        }
        if (worstAt >= 0) {
            fail(what + ": element " + worstAt + " is " + actual.get(worstAt) + ", expected " + expected.get(worstAt)
                    + " (atol " + atol + ", rtol " + rtol + "; max abs diff " + maxAbsDiff(expected, actual) + ")");
        }
    }

    private static void requireSameCount(Tensor a, Tensor b) {
        if (a.numel() != b.numel()) {
            throw new IllegalArgumentException("different sizes: " + a.describe() + " vs " + b.describe());
        }
    }

    // ---- Finite differences ---------------------------------------------------------------------

    /** A scalar function of the current contents of the input tensors (it re-runs the forward). */
    @FunctionalInterface
    public interface Loss {
        double eval();
    }

    /** L = Σ out ⊙ r in double, after running {@code forward} (which must overwrite out). */
    public static Loss weightedSum(Runnable forward, Tensor out, Tensor r) {
        return () -> {
            forward.run();
            return dot(out, r);
        };
    }

    public static double dot(Tensor a, Tensor b) {
        requireSameCount(a, b);
        double s = 0;
        for (long i = 0; i < a.numel(); i++) s += (double) a.get(i) * b.get(i);
        return s;
    }

    /**
     * The central-difference gradient dL/d input, element by element. The input is perturbed in
     * place and restored; the step actually stored (after rounding to its dtype) is the divisor.
     */
    public static Tensor numericGradient(Tensor input, Loss loss, double h) {
        Tensor grad = Tensor.zeros(input.shape());
        for (long i = 0; i < input.numel(); i++) {
            float orig = input.get(i);
            input.set(i, (float) (orig + h));
            float up = input.get(i); // the value actually stored (rounded to the input's dtype)
            double lp = loss.eval();
            input.set(i, (float) (orig - h));
            float down = input.get(i);
            double lm = loss.eval();
            input.set(i, orig);
            grad.set(i, (float) ((lp - lm) / ((double) up - down)));
        }
        loss.eval(); // leave the outputs as they were for the unperturbed input
        return grad;
    }

    /**
     * Asserts the analytic gradient matches finite differences: every element within
     * atol + rtol·max|numeric| (a tolerance on the gradient's scale, so a wrong factor fails).
     * Also asserts the gradient is not trivially zero, so the check cannot pass vacuously.
     */
    public static void assertGradient(String what, Tensor input, Tensor analytic, Loss loss, double h,
                                      double atol, double rtol) {
        Tensor numeric = numericGradient(input, loss, h);
        double scale = maxAbs(numeric);
        assertTrue(scale > 1e-6,
                what + ": gradient is zero everywhere, the check would be vacuous");
        double tol = atol + rtol * scale;
        double err = maxAbsDiff(numeric, analytic);
        if (!(err <= tol)) {
            fail(what + ": analytic gradient differs from finite differences by " + err + " (tolerance " + tol
                    + ")\n numeric  " + preview(numeric) + "\n analytic " + preview(analytic));
        }
    }

    /** Default settings for F32 kernels: h = 1e-2, tolerance 1e-4 + 2e-3·max|grad|. */
    public static void assertGradient(String what, Tensor input, Tensor analytic, Loss loss) {
        assertGradient(what, input, analytic, loss, 1e-2, 1e-4, 2e-3);
    }

    private static String preview(Tensor t) {
        float[] v = t.toFloatArray();
        return Arrays.toString(Arrays.copyOf(v, Math.min(v.length, 8))) + (v.length > 8 ? "..." : "");
    }

    /**
     * Rows × vocabulary in tiles of {@code tile}: chunked cross-entropy state, logsumexps, loss and each
     * tile's gradient of {@code k} against {@code ref} (every fourth row ignored, targets in any tile).
     */
    public static void checkChunkedCrossEntropy(Kernels ref, Kernels k, int m, int v, int tile) {
        Random r = new Random(m * 1000L + v + tile);
        int ignore = -100;
        int[] targets = new int[m];
        for (int i = 0; i < m; i++) targets[i] = i % 4 == 1 ? ignore : r.nextInt(v);
        java.util.List<Tensor> tiles = new java.util.ArrayList<>();
        for (int v0 = 0; v0 < v; v0 += tile) tiles.add(randn(r, 3f, m, Math.min(tile, v - v0)));
        Tensor se = Tensor.zeros(m, 3), sa = Tensor.zeros(m, 3), le = Tensor.zeros(m), la = Tensor.zeros(m);
        for (int i = 0; i < tiles.size(); i++) {
            ref.chunkedCrossEntropyForward(tiles.get(i), targets, (long) i * tile, i == 0, se);
            k.chunkedCrossEntropyForward(tiles.get(i), targets, (long) i * tile, i == 0, sa);
            assertClose("state after tile " + i, se, sa, 1e-5, 1e-5);
        }
        double want = ref.chunkedCrossEntropyLoss(se, targets, ignore, le);
        double got = k.chunkedCrossEntropyLoss(se, targets, ignore, la);
        assertEquals(want, got, 1e-5 * (1 + Math.abs(want)), "loss sum");
        assertClose("logsumexp", le, la, 1e-5, 1e-6);
        for (int i = 0; i < tiles.size(); i++) {
            Tensor ge = tiles.get(i).copy(), ga = tiles.get(i).copy();
            ref.chunkedCrossEntropyBackward(ge, targets, (long) i * tile, ignore, le, 0.7f);
            k.chunkedCrossEntropyBackward(ga, targets, (long) i * tile, ignore, le, 0.7f);
            assertClose("gradient of tile " + i, ge, ga, 1e-6, 1e-5);
        }
    }
}
