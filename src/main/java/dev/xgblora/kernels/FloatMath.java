package dev.xgblora.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp, tanh and sigmoid in float, built only from IEEE add, mul, fma, min/max and exact integer
 * bit moves, so they give the same bits interpreted, in C1 and in C2, on any CPU, and a vector
 * lane the same bits as the scalar form. {@code lanewise(EXP)} and {@code lanewise(TANH)} do not
 * promise that: compiled code calls a native vector-math library (SVML on x86, SLEEF on AArch64)
 * while the Java fallback rounds {@code Math.exp} per lane, and the two may differ in the last bit.
 *
 * <p>exp: Cody-Waite reduction x = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two parts), the Cephes
 * degree-7 polynomial for e^r (relative error about 1e-7, within 2 ulp of the exact result), then
 * 2^n applied as two exact powers of two so that results down to the subnormals round only once.
 * tanh: the Cephes odd polynomial below |x| = 0.625, 1 − 2/(e^(2|x|) + 1) above.
 */
final class FloatMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Below: e^x rounds to 0 (after the clamp, 2^n stays a normal float in both halves). */
    private static final float EXP_LO = -110f;
    /** Above: e^x is +inf (ln of Float.MAX_VALUE is 88.72). */
    private static final float EXP_HI = 89f;
    private static final float LOG2E = 1.44269504088896341f;
    /** 1.5 · 2^23: adding and subtracting it rounds |z| < 2^22 to the nearest integer (ties to even). */
    private static final float ROUND = 12582912f;
    /** ln2 = LN2_HI + LN2_LO; LN2_HI has few bits, so n · LN2_HI is exact. */
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float E0 = 1.9875691500e-4f, E1 = 1.3981999507e-3f, E2 = 8.3334519073e-3f,
            E3 = 4.1665795894e-2f, E4 = 1.6666665459e-1f, E5 = 5.0000001201e-1f;
    /** Below this |x| tanh uses its own polynomial (1 − 2/(e^2x + 1) would cancel). */
    private static final float TANH_POLY_BELOW = 0.625f;
    private static final float T0 = -5.70498872745e-3f, T1 = 2.06390887954e-2f, T2 = -5.37397155531e-2f,
            T3 = 1.33314422036e-1f, T4 = -3.33332819422e-1f;

    private FloatMath() {
    }

    /** e^x for every lane. */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector kf = xc.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = kf.fma(FloatVector.broadcast(S, -LN2_HI), xc);
        r = kf.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(E0, E1).fma(r, FloatVector.broadcast(S, E2)).fma(r, FloatVector.broadcast(S, E3))
                .fma(r, FloatVector.broadcast(S, E4)).fma(r, FloatVector.broadcast(S, E5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        IntVector n = (IntVector) kf.convert(VectorOperators.F2I, 0);
        IntVector n1 = n.lanewise(VectorOperators.ASHR, 1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n.sub(n1).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /**
     * a[i] = e^(a[i] − shift) for i in [from, to): the vector form's operations written out in the
     * loop, so that hot loops can exponentiate a chunk with no vector crossing a call. (A call to
     * {@link #exp(FloatVector)} that C2 does not inline boxes its argument and result; whether it
     * inlines depends on whether exp was compiled on its own first: JIT luck.) Same bits as
     * {@link #exp(float)} of a[i] − shift. Returns the sum of the values written (whole vectors
     * added lane-wise in order and folded by {@link Lanes#sum}, then the tail in order), so a softmax
     * row needs no second vector loop of its own: one in the attention tile, inlined into a method
     * too large for C2, boxed its vectors (JFR: 80 % of a LoRA step's allocation).
     */
    static float expInPlace(float[] a, int from, int to, float shift) {
        int i = from;
        FloatVector sum = FloatVector.zero(S);
        for (; i + S.length() <= to; i += S.length()) {
            FloatVector xc = FloatVector.fromArray(S, a, i).sub(shift).max(EXP_LO).min(EXP_HI);
            FloatVector kf = xc.mul(LOG2E).add(ROUND).sub(ROUND);
            FloatVector r = kf.fma(FloatVector.broadcast(S, -LN2_HI), xc);
            r = kf.fma(FloatVector.broadcast(S, -LN2_LO), r);
            FloatVector p = r.fma(E0, E1).fma(r, FloatVector.broadcast(S, E2)).fma(r, FloatVector.broadcast(S, E3))
                    .fma(r, FloatVector.broadcast(S, E4)).fma(r, FloatVector.broadcast(S, E5));
            FloatVector y = p.fma(r.mul(r), r).add(1f);
            IntVector n = (IntVector) kf.convert(VectorOperators.F2I, 0);
            IntVector n1 = n.lanewise(VectorOperators.ASHR, 1);
            FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector s2 = n.sub(n1).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector e = y.mul(s1).mul(s2);
            e.intoArray(a, i);
            sum = sum.add(e);
        }
        float total = Lanes.sum(sum);
        for (; i < to; i++) {
            a[i] = exp(a[i] - shift);
            total += a[i];
        }
        return total;
    }

    /** e^x: the same operations as the vector form, so the same bits as any of its lanes. */
    static float exp(float x) {
        float xc = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float kf = (xc * LOG2E + ROUND) - ROUND;
        float r = Math.fma(kf, -LN2_HI, xc);
        r = Math.fma(kf, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, E0, E1), r, E2), r, E3), r, E4), r, E5);
        float y = Math.fma(p, r * r, r) + 1f;
        int n = (int) kf, n1 = n >> 1;
        return y * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n - n1 + 127) << 23);
    }

    /** tanh(x) for every lane. */
    static FloatVector tanh(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector z = x.mul(x);
        FloatVector small = z.fma(T0, T1).fma(z, FloatVector.broadcast(S, T2)).fma(z, FloatVector.broadcast(S, T3))
                .fma(z, FloatVector.broadcast(S, T4)).mul(z).fma(x, x);
        FloatVector big = FloatVector.broadcast(S, 2f).div(exp(ax.add(ax)).add(1f)).neg().add(1f);
        big = big.blend(big.neg(), x.compare(VectorOperators.LT, 0f));
        VectorMask<Float> usePoly = ax.compare(VectorOperators.LT, TANH_POLY_BELOW);
        return big.blend(small, usePoly);
    }

    /** tanh(x): the same operations as the vector form. */
    static float tanh(float x) {
        float ax = Math.abs(x);
        if (ax < TANH_POLY_BELOW) {
            float z = x * x;
            return Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(z, T0, T1), z, T2), z, T3), z, T4) * z, x, x);
        }
        float big = -(2f / (exp(ax + ax) + 1f)) + 1f;
        return x < 0 ? -big : big;
    }

    /** 1 / (1 + e^−x) for every lane. */
    static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
    }

    /** 1 / (1 + e^−x): the same operations as the vector form. */
    static float sigmoid(float x) {
        return 1f / (exp(-x) + 1f);
    }
}
