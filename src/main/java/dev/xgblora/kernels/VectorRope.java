package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Rotary embedding for {@link VectorKernels} (Hugging Face "rotate_half" layout, as
 * {@link ReferenceRope}): cos and sin of every (position, frequency) pair come from a {@link Table}
 * built once and reused while the positions and frequencies stay the same (q and k, forward and
 * backward, every layer of a step), and each head rotates L pairs per vector operation.
 */
final class VectorRope {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Heads per part: enough work per hand-off. */
    private static final int ROW_GRAIN = 16;

    private VectorRope() {
    }

    /**
     * cos and sin of positions[p] · invFreq[i] as float arrays [P, D/2], for the positions and
     * frequencies it was built from (kept as copies, compared by content).
     */
    static final class Table {
        final int[] positions;
        final float[] invFreq;
        final float[] cos, sin;

        private Table(int[] positions, float[] invFreq) {
            this.positions = positions.clone();
            this.invFreq = invFreq.clone();
            int half = invFreq.length;
            cos = new float[positions.length * half];
            sin = new float[positions.length * half];
            for (int p = 0; p < positions.length; p++) {
                for (int i = 0; i < half; i++) {
                    // The angle is rounded to float as Hugging Face computes it (inv_freq @ positions in F32).
                    float angle = positions[p] * invFreq[i];
                    cos[p * half + i] = (float) Math.cos(angle);
                    sin[p * half + i] = (float) Math.sin(angle);
                }
            }
        }

        /** This table when it was built from the same positions and frequencies, else a new one. */
        static Table reuseOrBuild(Table cached, int[] positions, float[] invFreq) {
            if (cached != null && Arrays.equals(cached.positions, positions) && Arrays.equals(cached.invFreq, invFreq)) {
                return cached;
            }
            return new Table(positions, invFreq);
        }
    }

    /** True when this path handles the call (F32 input and output); else the caller falls back. */
    static boolean supports(Tensor x, Tensor out) {
        return x != null && out != null && x.dtype() == DType.F32 && out.dtype() == DType.F32;
    }

    /**
     * Rotates each (i, i + D/2) pair of every head of x [B, T, H, D] by the table's angle for its
     * position, negated when {@code backward}. Forward overwrites out (out may be x); backward
     * accumulates into out. Parallel over heads; each pair is computed by the same operations
     * whatever the split.
     */
    static void rotate(KernelPool pool, String op, Table table, Tensor x, Tensor out, boolean backward) {
        ReferenceRope.checkArguments(op, x, table.positions, table.invFreq);
        int heads = Math.toIntExact(x.dim(2)), half = table.invFreq.length;
        Operand xo = Operand.of(x, op + " input");
        Operand oo = Operand.of(out, op + " output");
        if (oo.rows() != xo.rows() || oo.cols() != xo.cols()) {
            throw new IllegalArgumentException(op + ": output " + out.describe() + " does not match input " + x.describe());
        }
        pool.forRange(xo.rows(), ROW_GRAIN, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int tableRow = (r / heads) * half;
                long xRow = xo.offset() + (long) r * xo.rs(), oRow = oo.offset() + (long) r * oo.rs();
                if (backward) rotateBack(table, tableRow, half, xo.seg(), xRow, oo.seg(), oRow);
                else rotateForward(table, tableRow, half, xo.seg(), xRow, oo.seg(), oRow);
            }
        });
    }

    /** out1 = x1·cos − x2·sin, out2 = x2·cos + x1·sin (both read before either is written). */
    private static void rotateForward(Table t, int tr, int half, MemorySegment xs, long x, MemorySegment os, long o) {
        int i = 0;
        for (; i + L <= half; i += L) {
            FloatVector c = FloatVector.fromArray(S, t.cos, tr + i), s = FloatVector.fromArray(S, t.sin, tr + i);
            FloatVector x1 = FloatVector.fromMemorySegment(S, xs, (x + i) * 4, LE);
            FloatVector x2 = FloatVector.fromMemorySegment(S, xs, (x + i + half) * 4, LE);
            x1.mul(c).sub(x2.mul(s)).intoMemorySegment(os, (o + i) * 4, LE);
            x2.mul(c).add(x1.mul(s)).intoMemorySegment(os, (o + i + half) * 4, LE);
        }
        for (; i < half; i++) {
            float c = t.cos[tr + i], s = t.sin[tr + i];
            float x1 = xs.getAtIndex(Operand.F32, x + i), x2 = xs.getAtIndex(Operand.F32, x + i + half);
            os.setAtIndex(Operand.F32, o + i, x1 * c - x2 * s);
            os.setAtIndex(Operand.F32, o + i + half, x2 * c + x1 * s);
        }
    }

    /** Rotation by the negative angle, accumulated: out1 += d1·cos + d2·sin, out2 += d2·cos − d1·sin. */
    private static void rotateBack(Table t, int tr, int half, MemorySegment ds, long d, MemorySegment os, long o) {
        int i = 0;
        for (; i + L <= half; i += L) {
            FloatVector c = FloatVector.fromArray(S, t.cos, tr + i), s = FloatVector.fromArray(S, t.sin, tr + i);
            FloatVector d1 = FloatVector.fromMemorySegment(S, ds, (d + i) * 4, LE);
            FloatVector d2 = FloatVector.fromMemorySegment(S, ds, (d + i + half) * 4, LE);
            FloatVector o1 = FloatVector.fromMemorySegment(S, os, (o + i) * 4, LE);
            FloatVector o2 = FloatVector.fromMemorySegment(S, os, (o + i + half) * 4, LE);
            o1.add(d1.mul(c).add(d2.mul(s))).intoMemorySegment(os, (o + i) * 4, LE);
            o2.add(d2.mul(c).sub(d1.mul(s))).intoMemorySegment(os, (o + i + half) * 4, LE);
        }
        for (; i < half; i++) {
            float c = t.cos[tr + i], s = t.sin[tr + i];
            float d1 = ds.getAtIndex(Operand.F32, d + i), d2 = ds.getAtIndex(Operand.F32, d + i + half);
            os.setAtIndex(Operand.F32, o + i, os.getAtIndex(Operand.F32, o + i) + (d1 * c + d2 * s));
            os.setAtIndex(Operand.F32, o + i + half, os.getAtIndex(Operand.F32, o + i + half) + (d2 * c - d1 * s));
        }
    }
}
