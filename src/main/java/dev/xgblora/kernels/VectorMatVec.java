package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Linear-layer products for few rows (decoding, tiny batches), where packing a whole weight
 * would cost more than the multiply: dot products and row updates straight from the weight,
 * widening BF16 in registers (sign-extend to int, shift left 16, reinterpret as float).
 */
final class VectorMatVec {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Shorts with as many lanes as S (half its bit size), for BF16 loads. */
    private static final VectorSpecies<Short> SH =
            VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Below this many rows the linear ops skip packing. */
    static final int SMALL_ROWS = 16;

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[L]);

    private VectorMatVec() {
    }

    /**
     * L weight values starting at element index {@code at}, widened to F32. Kept tiny so that C2
     * inlines it into every loop (a FloatVector returned from a call that is not inlined is boxed);
     * the widening paths live in {@link #loadWide}.
     */
    static FloatVector load(MemorySegment seg, DType dtype, long at) {
        return dtype == DType.F32 ? FloatVector.fromMemorySegment(S, seg, at * 4, LE) : loadWide(seg, dtype, at);
    }

    private static FloatVector loadWide(MemorySegment seg, DType dtype, long at) {
        return switch (dtype) {
            case F32 -> FloatVector.fromMemorySegment(S, seg, at * 4, LE);
            case BF16 -> ((IntVector) ShortVector.fromMemorySegment(SH, seg, at * 2, LE)
                    .convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            case F16 -> {
                float[] t = SCRATCH.get();
                for (int i = 0; i < L; i++) t[i] = Float.float16ToFloat(seg.getAtIndex(Operand.I16, at + i));
                yield FloatVector.fromArray(S, t, 0);
            }
        };
    }

    /**
     * Widens L BF16 values at element {@code at} of seg into dst[off..off+L). Returns nothing, so
     * no vector crosses the call if C2 does not inline it: {@link #load}'s widening path returned a
     * FloatVector from a call C2 left standalone in training runs, and every packed weight vector
     * went through the allocating Java fallback (22 GB of float[] in two 1B-decoder steps, JFR).
     */
    static void widenBf16(MemorySegment seg, long at, float[] dst, int off) {
        ((IntVector) ShortVector.fromMemorySegment(SH, seg, at * 2, LE).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off);
    }

    /**
     * y[i, j] = scale · x[i,:]·w[j,:] (+ bias[j]); w rows contiguous. Parallel over whichever of
     * rows and outputs is larger; each output is one dot product, so the split never changes it.
     */
    static void forward(KernelPool pool, Operand x, Operand w, Operand bias, float scale, MemorySegment y, long yOff,
                        long yRs) {
        int m = x.rows(), n = w.rows();
        if (n >= m) {
            pool.forRange(n, 4, (n0, n1) -> dots(x, w, bias, scale, y, yOff, yRs, 0, m, n0, n1));
        } else {
            pool.forRange(m, 1, (m0, m1) -> dots(x, w, bias, scale, y, yOff, yRs, m0, m1, 0, n));
        }
    }

    private static void dots(Operand x, Operand w, Operand bias, float scale, MemorySegment y, long yOff, long yRs,
                             int m0, int m1, int n0, int n1) {
        if (m1 - m0 > n1 - n0) {
            manyRows(x, w, bias, scale, y, yOff, yRs, m0, m1, n0, n1);
        } else {
            for (int j = n0; j < n1; j++) for (int i = m0; i < m1; i++) dot(x, w, bias, scale, y, yOff, yRs, i, j);
        }
    }

    private static final class Rows {
        float[] w = new float[0], x = new float[0];
    }

    private static final ThreadLocal<Rows> ROWS = ThreadLocal.withInitial(Rows::new);

    /**
     * Many rows of x against a few of w (LoRA's h = x·Aᵀ: 2048 rows against r): w's rows widened
     * into an array once, each x row copied into an array once and dotted with all of them, so x
     * streams once and no segment bounds check sits in the loop. The same sums as {@link #dot}.
     */
    private static void manyRows(Operand x, Operand w, Operand bias, float scale, MemorySegment y, long yOff, long yRs,
                                 int m0, int m1, int n0, int n1) {
        int k = x.cols(), n = n1 - n0;
        Rows s = ROWS.get();
        if (s.w.length < n * k) s.w = new float[n * k];
        if (s.x.length < k) s.x = new float[k];
        float[] wr = s.w, xr = s.x;
        for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) wr[j * k + p] = w.get(n0 + j, p);
        for (int i = m0; i < m1; i++) {
            MemorySegment.copy(x.seg(), Operand.F32, (x.offset() + (long) i * x.rs()) * 4, xr, 0, k);
            for (int j = 0; j < n; j++) {
                FloatVector acc = FloatVector.zero(S);
                int p = 0;
                for (; p + L <= k; p += L) {
                    acc = FloatVector.fromArray(S, wr, j * k + p).fma(FloatVector.fromArray(S, xr, p), acc);
                }
                float sum = Lanes.sum(acc);
                for (; p < k; p++) sum += wr[j * k + p] * xr[p];
                float b = bias == null ? 0f : bias.get(0, n0 + j);
                y.setAtIndex(Operand.F32, yOff + (long) i * yRs + n0 + j, scale * sum + b);
            }
        }
    }

    private static void dot(Operand x, Operand w, Operand bias, float scale, MemorySegment y, long yOff, long yRs, int i, int j) {
        int k = x.cols();
        long wRow = w.offset() + (long) j * w.rs(), xRow = x.offset() + (long) i * x.rs();
        FloatVector acc = FloatVector.zero(S);
        int p = 0;
        for (; p + L <= k; p += L) {
            acc = load(w.seg(), w.dtype(), wRow + p).fma(FloatVector.fromMemorySegment(S, x.seg(), (xRow + p) * 4, LE), acc);
        }
        float s = Lanes.sum(acc);
        for (; p < k; p++) s += w.get(j, p) * x.seg().getAtIndex(Operand.F32, xRow + p);
        float b = bias == null ? 0f : bias.get(0, j);
        y.setAtIndex(Operand.F32, yOff + (long) i * yRs + j, scale * s + b);
    }

    /** c[i, :] += scale · Σ_p a[i, p] · b[p, :] for every row i of a; b rows contiguous; a short. Parallel over columns. */
    static void rowUpdate(KernelPool pool, Operand a, Operand b, float scale, MemorySegment c, long cOff, long cRs) {
        int m = a.rows(), k = a.cols(), n = b.cols();
        pool.forRange(n, 4 * L, (n0, n1) -> {
            for (int i = 0; i < m; i++) {
                long cRow = cOff + (long) i * cRs;
                int j = n0;
                // Four vectors (a few cache lines) per pass over b's rows, then one, then scalars.
                for (; j + 4 * L <= n1; j += 4 * L) {
                    long cj = (cRow + j) * 4;
                    FloatVector acc0 = FloatVector.fromMemorySegment(S, c, cj, LE);
                    FloatVector acc1 = FloatVector.fromMemorySegment(S, c, cj + 4L * L, LE);
                    FloatVector acc2 = FloatVector.fromMemorySegment(S, c, cj + 8L * L, LE);
                    FloatVector acc3 = FloatVector.fromMemorySegment(S, c, cj + 12L * L, LE);
                    for (int p = 0; p < k; p++) {
                        FloatVector s = FloatVector.broadcast(S, scale * a.get(i, p));
                        long bo = b.offset() + (long) p * b.rs() + j;
                        acc0 = load(b.seg(), b.dtype(), bo).fma(s, acc0);
                        acc1 = load(b.seg(), b.dtype(), bo + L).fma(s, acc1);
                        acc2 = load(b.seg(), b.dtype(), bo + 2L * L).fma(s, acc2);
                        acc3 = load(b.seg(), b.dtype(), bo + 3L * L).fma(s, acc3);
                    }
                    acc0.intoMemorySegment(c, cj, LE);
                    acc1.intoMemorySegment(c, cj + 4L * L, LE);
                    acc2.intoMemorySegment(c, cj + 8L * L, LE);
                    acc3.intoMemorySegment(c, cj + 12L * L, LE);
                }
                for (; j + L <= n1; j += L) {
                    FloatVector acc = FloatVector.fromMemorySegment(S, c, (cRow + j) * 4, LE);
                    for (int p = 0; p < k; p++) {
                        acc = load(b.seg(), b.dtype(), b.offset() + (long) p * b.rs() + j).fma(FloatVector.broadcast(S, scale * a.get(i, p)), acc);
                    }
                    acc.intoMemorySegment(c, (cRow + j) * 4, LE);
                }
                for (; j < n1; j++) {
                    float acc = c.getAtIndex(Operand.F32, cRow + j);
                    for (int p = 0; p < k; p++) acc += scale * a.get(i, p) * b.get(p, j);
                    c.setAtIndex(Operand.F32, cRow + j, acc);
                }
            }
        });
    }
}
