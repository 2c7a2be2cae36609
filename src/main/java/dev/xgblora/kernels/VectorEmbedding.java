package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Embedding gather (forward) and scatter-add (backward) for {@link VectorKernels}. Forward copies
 * whole rows, widening BF16/F16 tables in registers; backward splits the table's columns between
 * threads and adds the rows of dout in id order, so repeated ids never race and the sum order
 * does not depend on the thread count.
 */
final class VectorEmbedding {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Rows gathered per part. */
    private static final int ROW_GRAIN = 8;

    private VectorEmbedding() {
    }

    /** out[m, :] = table[ids[m], :]. */
    static void forward(KernelPool pool, int[] ids, Tensor table, Tensor out) {
        String op = "embeddingForward";
        Operand t = matrix(table, op + " table"), o = Operand.of(out, op + " out");
        if (o.rows() != ids.length || o.cols() != t.cols()) {
            throw new IllegalArgumentException(op + ": out " + out.describe() + ", expected [" + ids.length + ", " + t.cols() + "]");
        }
        if (out.dtype() != DType.F32) throw new IllegalArgumentException(op + ": out " + out.describe() + " must be F32");
        for (int i = 0; i < ids.length; i++) ReferenceKernels.checkId(op, ids, i, t.rows());
        int c = t.cols();
        pool.forRange(ids.length, ROW_GRAIN, (m0, m1) -> {
            for (int m = m0; m < m1; m++) {
                long src = t.offset() + (long) ids[m] * t.rs(), dst = o.offset() + (long) m * o.rs();
                int j = 0;
                for (; j + L <= c; j += L) {
                    VectorMatVec.load(t.seg(), t.dtype(), src + j).intoMemorySegment(o.seg(), (dst + j) * 4, LE);
                }
                for (; j < c; j++) o.seg().setAtIndex(Operand.F32, dst + j, t.get(ids[m], j));
            }
        });
    }

    /** dtable[ids[m], :] += dout[m, :]; dtable F32. */
    static void backward(KernelPool pool, int[] ids, Tensor dout, Tensor dtable) {
        String op = "embeddingBackward";
        Operand t = matrix(dtable, op + " dtable"), d = Operand.of(dout, op + " dout");
        if (dtable.dtype() != DType.F32) throw new IllegalArgumentException(op + ": dtable " + dtable.describe() + " must be F32");
        if (d.rows() != ids.length || d.cols() != t.cols()) {
            throw new IllegalArgumentException(op + ": dout " + dout.describe() + ", expected [" + ids.length + ", " + t.cols() + "]");
        }
        for (int i = 0; i < ids.length; i++) ReferenceKernels.checkId(op, ids, i, t.rows());
        MemorySegment ts = t.seg(), ds = d.seg();
        pool.forRange(t.cols(), 4 * L, (c0, c1) -> {
            for (int m = 0; m < ids.length; m++) {
                long dst = t.offset() + (long) ids[m] * t.rs(), src = d.offset() + (long) m * d.rs();
                int j = c0;
                for (; j + L <= c1; j += L) {
                    FloatVector.fromMemorySegment(S, ts, (dst + j) * 4, LE)
                            .add(FloatVector.fromMemorySegment(S, ds, (src + j) * 4, LE))
                            .intoMemorySegment(ts, (dst + j) * 4, LE);
                }
                for (; j < c1; j++) {
                    ts.setAtIndex(Operand.F32, dst + j, ts.getAtIndex(Operand.F32, dst + j) + ds.getAtIndex(Operand.F32, src + j));
                }
            }
        });
    }

    private static Operand matrix(Tensor t, String what) {
        if (t == null) throw new IllegalArgumentException(what + " must not be null");
        if (t.rank() != 2) throw new IllegalArgumentException(what + " must be a matrix, got " + t.describe());
        return Operand.of(t, what);
    }
}
