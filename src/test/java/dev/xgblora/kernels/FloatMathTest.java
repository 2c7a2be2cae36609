package dev.xgblora.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * FloatMath against double-precision StrictMath (accuracy) and against itself (every vector lane
 * equals the scalar form bit for bit). That the bits do not change with the JIT is shown by
 * ReproducibleTrainingTest, which runs C1-only and C2 JVMs.
 */
class FloatMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** Every float in [lo, hi] at a step of about (hi − lo) / n, plus the given specials. */
    private static float[] grid(float lo, float hi, int n, float... specials) {
        float[] x = new float[n + specials.length];
        for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * i / (n - 1);
        System.arraycopy(specials, 0, x, n, specials.length);
        return x;
    }

    private static float ulp(double exact) {
        return Math.ulp((float) exact);
    }

    /** Vector lanes = scalar bits, and the scalar within maxUlp ulps (or absTol) of the exact value. */
    private static void check(String name, float[] xs, UnaryOperator<FloatVector> vec, FloatUnary scalar,
                              DoubleUnaryOperator exact, double maxUlp, double absTol) {
        int l = S.length();
        float[] padded = java.util.Arrays.copyOf(xs, (xs.length + l - 1) / l * l);
        float[] v = new float[padded.length];
        for (int i = 0; i < padded.length; i += l) vec.apply(FloatVector.fromArray(S, padded, i)).intoArray(v, i);
        double worst = 0;
        for (int i = 0; i < xs.length; i++) {
            float s = scalar.apply(xs[i]);
            assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(v[i]),
                    name + "(" + xs[i] + "): vector lane " + v[i] + " vs scalar " + s);
            double e = exact.applyAsDouble(xs[i]);
            if (Float.isNaN((float) e) || Float.isInfinite((float) e)) { // beyond float range: the rounded value exactly
                assertEquals((float) e, s, name + "(" + xs[i] + ")");
                continue;
            }
            double err = Math.abs(s - e);
            if (err <= absTol) continue;
            double ulps = err / ulp(e);
            worst = Math.max(worst, ulps);
            assertTrue(ulps <= maxUlp, name + "(" + xs[i] + ") = " + s + ", exact " + e + ": " + ulps + " ulp");
        }
        assertTrue(worst <= maxUlp);
    }

    @FunctionalInterface
    interface FloatUnary {
        float apply(float x);
    }

    @Test
    void expIsWithinTwoUlpAndEveryLaneMatchesTheScalarForm() {
        float[] x = grid(-104f, 88.72f, 400_003, 0f, -0f, 1f, -1f, 88.7228f, 88.73f, 89f, 1000f, -87.3f, -100f, -103.9f,
                -110f, -1000f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, Float.MIN_VALUE, -Float.MIN_VALUE);
        // Results below the smallest normal float lose relative precision by definition: absolute 1 ulp of MIN_VALUE there.
        check("exp", x, FloatMath::exp, FloatMath::exp, StrictMath::exp, 2, Float.MIN_VALUE);
        assertEquals(0f, FloatMath.exp(Float.NEGATIVE_INFINITY), "softmax masks with -inf and needs exact zeros");
        assertEquals(1f, FloatMath.exp(0f));
        assertEquals(Float.POSITIVE_INFINITY, FloatMath.exp(89f));
        assertTrue(Float.isNaN(FloatMath.exp(Float.NaN)));
    }

    /** The chunk form (used where no vector may cross a call) gives the scalar form's bits, tail included. */
    @Test
    void expInPlaceEqualsTheScalarFormBitForBit() {
        float[] x = grid(-104f, 88.72f, 100_003, 0f, -0f, 1f, -1f, 88.73f, -110f, Float.NEGATIVE_INFINITY,
                Float.POSITIVE_INFINITY, Float.NaN, Float.MIN_VALUE);
        for (float shift : new float[] {0f, 3.5f, -2.25f}) {
            float[] a = x.clone();
            FloatMath.expInPlace(a, 3, a.length - 1, shift); // ragged start and end: vector body and scalar tail
            for (int i = 0; i < x.length; i++) {
                float want = i < 3 || i == x.length - 1 ? x[i] : FloatMath.exp(x[i] - shift);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(a[i]),
                        "expInPlace(" + x[i] + " - " + shift + ") at " + i);
            }
        }
    }

    /** The returned sum is the written values' sum, whole vectors added lane-wise in order, folded, then the tail. */
    @Test
    void expInPlaceReturnsTheSumOfWhatItWrote() {
        java.util.Random rnd = new java.util.Random(5);
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        int lanes = species.length();
        for (int n : new int[] {lanes * 4, lanes * 3 + 5, 3}) {
            float[] a = new float[n + 2];
            for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 4;
            float total = FloatMath.expInPlace(a, 2, n + 2, 1.5f);
            FloatVector acc = FloatVector.zero(species);
            int i = 2;
            for (; i + lanes <= n + 2; i += lanes) {
                acc = acc.add(FloatVector.fromArray(species, a, i));
            }
            float want = Lanes.sum(acc);
            for (; i < n + 2; i++) want += a[i];
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(total), "sum of " + n + " exponentials");
        }
    }

    @Test
    void tanhIsAccurateAndEveryLaneMatchesTheScalarForm() {
        float[] x = grid(-12f, 12f, 200_001, 0.625f, -0.625f, 0.62499994f, 1e-20f, 50f, -50f,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN);
        check("tanh", x, FloatMath::tanh, FloatMath::tanh, StrictMath::tanh, 3, 1e-30);
        assertEquals(1f, FloatMath.tanh(50f));
        assertEquals(-1f, FloatMath.tanh(Float.NEGATIVE_INFINITY));
    }

    @Test
    void sigmoidIsAccurateAndEveryLaneMatchesTheScalarForm() {
        float[] x = grid(-100f, 100f, 200_001, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
        check("sigmoid", x, FloatMath::sigmoid, FloatMath::sigmoid, v -> 1 / (1 + StrictMath.exp(-v)), 3, 1e-30);
    }
}
