package dev.xgblora.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 16 × 16 float transpose in AVX-512 registers, for packing transposed weight panels. Four stages
 * of two-vector permutes (selectFrom); stage d swaps bit d of the row index with bit d of the lane
 * index, so after d = 8, 4, 2, 1 element (r, c) sits at (c, r). About 2.4× faster than element
 * copies on this machine (array to array, 512 × 64 panel: 0.19 against 0.45 ns per element); the
 * Vector API's scatter was slower than the copies here.
 */
final class Transpose16 {
    static final int N = 16;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    /** Per stage: lane indexes into (row r, row r + d) for the new row r (LOW) and row r + d (HIGH). */
    private static final float[] LOW8 = low(8), HIGH8 = high(8), LOW4 = low(4), HIGH4 = high(4);
    private static final float[] LOW2 = low(2), HIGH2 = high(2), LOW1 = low(1), HIGH1 = high(1);

    private Transpose16() {
    }

    private static float[] low(int d) {
        float[] idx = new float[N];
        for (int c = 0; c < N; c++) idx[c] = (c & d) == 0 ? c : N + c - d;
        return idx;
    }

    private static float[] high(int d) {
        float[] idx = new float[N];
        for (int c = 0; c < N; c++) idx[c] = (c & d) == 0 ? c + d : N + c;
        return idx;
    }

    /** dst[dOff + c·dStride + r] = src[r·16 + c] for r, c in [0, 16). */
    static void transpose(float[] src, float[] dst, int dOff, int dStride) {
        transpose(src, 0, 16, dst, dOff, dStride);
    }

    /** dst[dOff + c·dStride + r] = src[sOff + r·sStride + c] for r, c in [0, 16). */
    static void transpose(float[] src, int sOff, int sStride, float[] dst, int dOff, int dStride) {
        FloatVector r0 = FloatVector.fromArray(S, src, sOff), r1 = FloatVector.fromArray(S, src, sOff + sStride), r2 = FloatVector.fromArray(S, src, sOff + 2 * sStride), r3 = FloatVector.fromArray(S, src, sOff + 3 * sStride);
        FloatVector r4 = FloatVector.fromArray(S, src, sOff + 4 * sStride), r5 = FloatVector.fromArray(S, src, sOff + 5 * sStride), r6 = FloatVector.fromArray(S, src, sOff + 6 * sStride), r7 = FloatVector.fromArray(S, src, sOff + 7 * sStride);
        FloatVector r8 = FloatVector.fromArray(S, src, sOff + 8 * sStride), r9 = FloatVector.fromArray(S, src, sOff + 9 * sStride), r10 = FloatVector.fromArray(S, src, sOff + 10 * sStride), r11 = FloatVector.fromArray(S, src, sOff + 11 * sStride);
        FloatVector r12 = FloatVector.fromArray(S, src, sOff + 12 * sStride), r13 = FloatVector.fromArray(S, src, sOff + 13 * sStride), r14 = FloatVector.fromArray(S, src, sOff + 14 * sStride), r15 = FloatVector.fromArray(S, src, sOff + 15 * sStride);
        FloatVector lo = FloatVector.fromArray(S, LOW8, 0), hi = FloatVector.fromArray(S, HIGH8, 0);
        FloatVector t0 = lo.selectFrom(r0, r8), t8 = hi.selectFrom(r0, r8), t1 = lo.selectFrom(r1, r9), t9 = hi.selectFrom(r1, r9);
        FloatVector t2 = lo.selectFrom(r2, r10), t10 = hi.selectFrom(r2, r10), t3 = lo.selectFrom(r3, r11), t11 = hi.selectFrom(r3, r11);
        FloatVector t4 = lo.selectFrom(r4, r12), t12 = hi.selectFrom(r4, r12), t5 = lo.selectFrom(r5, r13), t13 = hi.selectFrom(r5, r13);
        FloatVector t6 = lo.selectFrom(r6, r14), t14 = hi.selectFrom(r6, r14), t7 = lo.selectFrom(r7, r15), t15 = hi.selectFrom(r7, r15);
        lo = FloatVector.fromArray(S, LOW4, 0);
        hi = FloatVector.fromArray(S, HIGH4, 0);
        r0 = lo.selectFrom(t0, t4); r4 = hi.selectFrom(t0, t4); r1 = lo.selectFrom(t1, t5); r5 = hi.selectFrom(t1, t5);
        r2 = lo.selectFrom(t2, t6); r6 = hi.selectFrom(t2, t6); r3 = lo.selectFrom(t3, t7); r7 = hi.selectFrom(t3, t7);
        r8 = lo.selectFrom(t8, t12); r12 = hi.selectFrom(t8, t12); r9 = lo.selectFrom(t9, t13); r13 = hi.selectFrom(t9, t13);
        r10 = lo.selectFrom(t10, t14); r14 = hi.selectFrom(t10, t14); r11 = lo.selectFrom(t11, t15); r15 = hi.selectFrom(t11, t15);
        lo = FloatVector.fromArray(S, LOW2, 0);
        hi = FloatVector.fromArray(S, HIGH2, 0);
        t0 = lo.selectFrom(r0, r2); t2 = hi.selectFrom(r0, r2); t1 = lo.selectFrom(r1, r3); t3 = hi.selectFrom(r1, r3);
        t4 = lo.selectFrom(r4, r6); t6 = hi.selectFrom(r4, r6); t5 = lo.selectFrom(r5, r7); t7 = hi.selectFrom(r5, r7);
        t8 = lo.selectFrom(r8, r10); t10 = hi.selectFrom(r8, r10); t9 = lo.selectFrom(r9, r11); t11 = hi.selectFrom(r9, r11);
        t12 = lo.selectFrom(r12, r14); t14 = hi.selectFrom(r12, r14); t13 = lo.selectFrom(r13, r15); t15 = hi.selectFrom(r13, r15);
        lo = FloatVector.fromArray(S, LOW1, 0);
        hi = FloatVector.fromArray(S, HIGH1, 0);
        lo.selectFrom(t0, t1).intoArray(dst, dOff);
        hi.selectFrom(t0, t1).intoArray(dst, dOff + dStride);
        lo.selectFrom(t2, t3).intoArray(dst, dOff + 2 * dStride);
        hi.selectFrom(t2, t3).intoArray(dst, dOff + 3 * dStride);
        lo.selectFrom(t4, t5).intoArray(dst, dOff + 4 * dStride);
        hi.selectFrom(t4, t5).intoArray(dst, dOff + 5 * dStride);
        lo.selectFrom(t6, t7).intoArray(dst, dOff + 6 * dStride);
        hi.selectFrom(t6, t7).intoArray(dst, dOff + 7 * dStride);
        lo.selectFrom(t8, t9).intoArray(dst, dOff + 8 * dStride);
        hi.selectFrom(t8, t9).intoArray(dst, dOff + 9 * dStride);
        lo.selectFrom(t10, t11).intoArray(dst, dOff + 10 * dStride);
        hi.selectFrom(t10, t11).intoArray(dst, dOff + 11 * dStride);
        lo.selectFrom(t12, t13).intoArray(dst, dOff + 12 * dStride);
        hi.selectFrom(t12, t13).intoArray(dst, dOff + 13 * dStride);
        lo.selectFrom(t14, t15).intoArray(dst, dOff + 14 * dStride);
        hi.selectFrom(t14, t15).intoArray(dst, dOff + 15 * dStride);
    }
}
