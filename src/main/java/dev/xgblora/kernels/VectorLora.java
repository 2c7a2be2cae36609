package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Fused rank-r adapter paths for {@link VectorKernels}.
 *
 * <p>Forward: h = x_a·Aᵀ once, then the base GEMM adds scale·h·Bᵀ to each tile in its first write
 * ({@link Term}, read by VectorGemm's tile store), so y is written once instead of being re-read
 * and re-written by a separate rank-r update.
 *
 * <p>Backward: one pass over dy gives both dh = scale·dy·B and dB += scale·dyᵀ·h (each dy row is
 * loaded once for both), and one pass over x gives both dA += dhᵀ·x and dx += dh·A. Passes are
 * split into fixed column chunks, dh's per-chunk partial sums are added in chunk order, so the
 * result does not depend on the thread count.
 */
final class VectorLora {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Columns of dy per part of the dy pass: a fixed size, so dh's partial sums never depend on threads. */
    static final int CHUNK = 256;

    private VectorLora() {
    }

    /**
     * The adapter term of a tile store: C[i, n] += Σ_j h[i, j] · bt[j·stride + n]; bt = scale·Bᵀ,
     * rows zero-padded to {@code stride} (a multiple of the vector length).
     */
    record Term(MemorySegment h, long hOff, long hRs, int rank, float[] bt, int stride) {
    }

    /** Per-caller-thread buffers, grown when a larger shape comes and reused after. */
    private static final class Scratch {
        float[] bt = new float[0], dbt = new float[0], partial = new float[0], g = new float[0], aw = new float[0], dacc = new float[0];
        final float[] lanes = new float[4 * L];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static int stride(int n) {
        return (n + L - 1) / L * L;
    }

    /** scale·Bᵀ as [r, stride] F32 rows (B is [N, r] of any dtype), zero-padded, in the caller's scratch. */
    private static float[] packTransposed(Operand b, float scale, int stride) {
        Scratch s = SCRATCH.get();
        int r = b.cols(), n = b.rows();
        if (s.bt.length < r * stride) s.bt = new float[r * stride];
        float[] bt = s.bt;
        for (int j = 0; j < r; j++) {
            for (int i = 0; i < n; i++) bt[j * stride + i] = scale * b.get(i, j);
            java.util.Arrays.fill(bt, j * stride + n, (j + 1) * stride, 0f);
        }
        return bt;
    }

    /** y = x·wᵀ + bias + scale·h·bᵀ with h = xa·aᵀ (written to h). Shapes checked by the caller. */
    static void forward(KernelPool pool, Operand x, Operand w, Operand bias, Operand xa, Operand a, Operand b,
                        float scale, Operand h, Operand y) {
        VectorMatVec.forward(pool, xa, a, null, 1f, h.seg(), h.offset(), h.rs());
        int stride = stride(b.rows());
        Term term = new Term(h.seg(), h.offset(), h.rs(), a.rows(), packTransposed(b, scale, stride), stride);
        VectorGemm.multiply(pool, x, w.transposed(), bias, term, y.seg(), y.offset(), y.rs(), false);
    }

    /**
     * dh = scale·dy·b (overwritten), db += scale·dyᵀ·h, da += dhᵀ·x, dx += dh·a; da, db, dx may be
     * null. dy, x, h, dh and the gradients are F32; a and b of any dtype.
     */
    static void backward(KernelPool pool, Operand dy, Operand x, Operand a, Operand b, float scale, Operand h,
                         Operand dh, Operand da, Operand db, Operand dx) {
        int m = dy.rows(), n = dy.cols(), r = a.rows(), stride = stride(n), chunks = (n + CHUNK - 1) / CHUNK;
        Scratch s = SCRATCH.get();
        float[] bt = packTransposed(b, 1f, stride);
        if (s.partial.length < m * chunks * r) s.partial = new float[m * chunks * r];
        float[] partial = s.partial;
        float[] dbt = null;
        if (db != null) {
            if (s.dbt.length < r * stride) s.dbt = new float[r * stride];
            dbt = s.dbt;
            java.util.Arrays.fill(dbt, 0, r * stride, 0f);
        }
        float[] dbtFinal = dbt;
        pool.forRange(chunks, 1, (c0, c1) -> {
            for (int c = c0; c < c1; c++) dyChunk(dy, h, scale, bt, stride, dbtFinal, partial, chunks, c, r);
        });
        // dh[i, j] = scale · Σ_chunks partial, in chunk order.
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < r; j++) {
                float sum = 0f;
                for (int c = 0; c < chunks; c++) sum += partial[(i * chunks + c) * r + j];
                dh.seg().setAtIndex(Operand.F32, dh.offset() + (long) i * dh.rs() + j, scale * sum);
            }
        }
        if (db != null) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < r; j++) {
                    long at = db.offset() + (long) i * db.rs() + (long) j * db.cs();
                    db.seg().setAtIndex(Operand.F32, at, db.seg().getAtIndex(Operand.F32, at) + dbt[j * stride + i]);
                }
            }
        }
        if (da == null && dx == null) return;
        pool.forRange(x.cols(), 4 * L, (k0, k1) -> xChunk(x, a, dh, da, dx, k0, k1));
    }

    /**
     * Columns [c·CHUNK, …) of dy: dh partial dots against B's columns, and dBᵀ += scale·h[i, j]·dy[i, :].
     * Rows go four at a time, so each dBᵀ vector is loaded and stored once per four rows (its sums
     * still run row by row in order: the same bits as one row at a time).
     */
    private static void dyChunk(Operand dy, Operand h, float scale, float[] bt, int stride, float[] dbt,
                                float[] partial, int chunks, int c, int r) {
        int m = dy.rows(), i = 0;
        float[] lanes = SCRATCH.get().lanes;
        for (; i + 4 <= m; i += 4) dyRows4(dy, h, scale, bt, stride, dbt, partial, chunks, c, r, i, lanes);
        for (; i < m; i++) dyRow(dy, h, scale, bt, stride, dbt, partial, chunks, c, r, i);
    }

    private static void dyRows4(Operand dy, Operand h, float scale, float[] bt, int stride, float[] dbt,
                                float[] partial, int chunks, int c, int r, int i, float[] lanes) {
        int n0 = c * CHUNK, n1 = Math.min(dy.cols(), n0 + CHUNK), vEnd = n0 + (n1 - n0) / L * L;
        MemorySegment ds = dy.seg(), hs = h.seg();
        long row0 = dy.offset() + (long) i * dy.rs(), rs = dy.rs(), h0 = h.offset() + (long) i * h.rs(), hRs = h.rs();
        for (int j = 0; j < r; j++) {
            float s0 = scale * hs.getAtIndex(Operand.F32, h0 + j), s1 = scale * hs.getAtIndex(Operand.F32, h0 + hRs + j);
            float s2 = scale * hs.getAtIndex(Operand.F32, h0 + 2 * hRs + j), s3 = scale * hs.getAtIndex(Operand.F32, h0 + 3 * hRs + j);
            int bRow = j * stride;
            dyDots4(ds, row0, rs, bt, bRow, n0, vEnd, lanes);
            if (dbt != null) dbUpdate4(ds, row0, rs, dbt, bRow, n0, vEnd, s0, s1, s2, s3);
            int at = (i * chunks + c) * r + j, next = chunks * r;
            partial[at] = dyTail(ds, row0, bt, bRow, dbt, s0, vEnd, n1, Lanes.sum(lanes, 0));
            partial[at + next] = dyTail(ds, row0 + rs, bt, bRow, dbt, s1, vEnd, n1, Lanes.sum(lanes, L));
            partial[at + 2 * next] = dyTail(ds, row0 + 2 * rs, bt, bRow, dbt, s2, vEnd, n1, Lanes.sum(lanes, 2 * L));
            partial[at + 3 * next] = dyTail(ds, row0 + 3 * rs, bt, bRow, dbt, s3, vEnd, n1, Lanes.sum(lanes, 3 * L));
        }
    }

    /**
     * The four rows' dots with B's column over whole vectors, staged to lanes (four L-lane vectors):
     * passing vectors to a lane sum boxed them. Kept apart from the dBᵀ update so each stays small
     * enough for C2 to compile whole inside the pool's lambda (together they ran the Vector API's
     * allocating fallback on the worker threads).
     */
    private static void dyDots4(MemorySegment ds, long row0, long rs, float[] bt, int bRow, int n0, int vEnd, float[] lanes) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (int k = n0; k < vEnd; k += L) {
            FloatVector bv = FloatVector.fromArray(S, bt, bRow + k);
            a0 = FloatVector.fromMemorySegment(S, ds, (row0 + k) * 4, LE).fma(bv, a0);
            a1 = FloatVector.fromMemorySegment(S, ds, (row0 + rs + k) * 4, LE).fma(bv, a1);
            a2 = FloatVector.fromMemorySegment(S, ds, (row0 + 2 * rs + k) * 4, LE).fma(bv, a2);
            a3 = FloatVector.fromMemorySegment(S, ds, (row0 + 3 * rs + k) * 4, LE).fma(bv, a3);
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, L); a2.intoArray(lanes, 2 * L); a3.intoArray(lanes, 3 * L);
    }

    /** dBᵀ[bRow + k] += Σ_q s_q · dy[q, k] over four rows in row order, whole vectors (dy is in L1 from the dots). */
    private static void dbUpdate4(MemorySegment ds, long row0, long rs, float[] dbt, int bRow, int n0, int vEnd,
                                  float s0, float s1, float s2, float s3) {
        FloatVector v0 = FloatVector.broadcast(S, s0), v1 = FloatVector.broadcast(S, s1);
        FloatVector v2 = FloatVector.broadcast(S, s2), v3 = FloatVector.broadcast(S, s3);
        for (int k = n0; k < vEnd; k += L) {
            FloatVector t = FloatVector.fromArray(S, dbt, bRow + k);
            t = FloatVector.fromMemorySegment(S, ds, (row0 + k) * 4, LE).fma(v0, t);
            t = FloatVector.fromMemorySegment(S, ds, (row0 + rs + k) * 4, LE).fma(v1, t);
            t = FloatVector.fromMemorySegment(S, ds, (row0 + 2 * rs + k) * 4, LE).fma(v2, t);
            t = FloatVector.fromMemorySegment(S, ds, (row0 + 3 * rs + k) * 4, LE).fma(v3, t);
            t.intoArray(dbt, bRow + k);
        }
    }

    /** The columns [k0, n1) of one dy row past the whole vectors: returns sum + its dot with B's column. */
    private static float dyTail(MemorySegment ds, long dyRow, float[] bt, int bRow, float[] dbt, float hs, int k0,
                                int n1, float sum) {
        for (int k = k0; k < n1; k++) {
            float d = ds.getAtIndex(Operand.F32, dyRow + k);
            sum = Math.fma(d, bt[bRow + k], sum);
            if (dbt != null) dbt[bRow + k] = Math.fma(d, hs, dbt[bRow + k]);
        }
        return sum;
    }

    private static void dyRow(Operand dy, Operand h, float scale, float[] bt, int stride, float[] dbt,
                              float[] partial, int chunks, int c, int r, int i) {
        int n0 = c * CHUNK, n1 = Math.min(dy.cols(), n0 + CHUNK);
        MemorySegment ds = dy.seg();
        long dyRow = dy.offset() + (long) i * dy.rs();
        for (int j = 0; j < r; j++) {
            float hs = scale * h.seg().getAtIndex(Operand.F32, h.offset() + (long) i * h.rs() + j);
            FloatVector acc = FloatVector.zero(S), hv = FloatVector.broadcast(S, hs);
            int bRow = j * stride, k = n0;
            for (; k + L <= n1; k += L) {
                FloatVector d = FloatVector.fromMemorySegment(S, ds, (dyRow + k) * 4, LE);
                acc = d.fma(FloatVector.fromArray(S, bt, bRow + k), acc);
                if (dbt != null) d.fma(hv, FloatVector.fromArray(S, dbt, bRow + k)).intoArray(dbt, bRow + k);
            }
            float sum = dyTail(ds, dyRow, bt, bRow, dbt, hs, k, n1, Lanes.sum(acc));
            partial[(i * chunks + c) * r + j] = sum;
        }
    }

    /**
     * Columns [k0, k1) of x: dA[j, :] += dh[i, j]·x[i, :] and dx[i, :] += Σ_j dh[i, j]·A[j, :]. A's
     * and dA's columns are copied into the thread's scratch arrays first and dA written back once:
     * array accesses keep their bounds checks out of the loop, segment accesses did not (JFR: 11 % of
     * a LoRA step in checkBounds). dA's sums run in the same order as in place, so the bits are the same.
     */
    private static void xChunk(Operand x, Operand a, Operand dh, Operand da, Operand dx, int k0, int k1) {
        // column blocks small enough that A's and dA's slices stay in L1 (x is still read once)
        for (int b0 = k0; b0 < k1; b0 += CHUNK) xBlock(x, a, dh, da, dx, b0, Math.min(k1, b0 + CHUNK));
    }

    private static void xBlock(Operand x, Operand a, Operand dh, Operand da, Operand dx, int k0, int k1) {
        int r = a.rows(), w = k1 - k0;
        Scratch s = SCRATCH.get();
        if (s.g.length < 4 * r) s.g = new float[4 * r];
        if (s.aw.length < r * w) s.aw = new float[r * w];
        if (s.dacc.length < r * w) s.dacc = new float[r * w];
        float[] g = s.g, aw = s.aw, dacc = s.dacc;
        for (int j = 0; j < r; j++) {
            for (int c = 0; c < w; c++) {
                aw[j * w + c] = a.get(j, k0 + c);
                if (da != null) dacc[j * w + c] = da.seg().getAtIndex(Operand.F32, da.offset() + (long) j * da.rs() + k0 + c);
            }
        }
        int m = x.rows(), i = 0;
        for (; i + 4 <= m; i += 4) {
            for (int q = 0; q < 4; q++) {
                long dhRow = dh.offset() + (long) (i + q) * dh.rs();
                for (int j = 0; j < r; j++) g[q * r + j] = dh.seg().getAtIndex(Operand.F32, dhRow + j);
            }
            xRows4(x, dx, da != null, g, aw, dacc, r, w, k0, i);
        }
        for (; i < m; i++) {
            long dhRow = dh.offset() + (long) i * dh.rs();
            for (int j = 0; j < r; j++) g[j] = dh.seg().getAtIndex(Operand.F32, dhRow + j);
            xRow(x, dx, da != null, g, aw, dacc, r, w, k0, i);
        }
        if (da == null) return;
        for (int j = 0; j < r; j++) {
            for (int c = 0; c < w; c++) da.seg().setAtIndex(Operand.F32, da.offset() + (long) j * da.rs() + k0 + c, dacc[j * w + c]);
        }
    }

    /**
     * Rows i..i+3 of {@link #xBlock} (g holds their dh rows, r apart): each dA vector is loaded and
     * stored once per four rows, its sums still row by row in order (the same bits as {@link #xRow}).
     * dA and dx are separate loops in separate small methods: as one method, C2 sometimes left it in
     * the Vector API's allocating fallback (55 MiB/step in one two-thread LoRA run, 0.7 in the next).
     */
    private static void xRows4(Operand x, Operand dx, boolean hasDa, float[] g, float[] aw, float[] dacc, int r, int w,
                               int k0, int i) {
        MemorySegment xs = x.seg();
        long x0 = x.offset() + (long) i * x.rs() + k0, xRs = x.rs();
        long d0 = dx == null ? 0 : dx.offset() + (long) i * dx.rs() + k0, dRs = dx == null ? 0 : dx.rs();
        int vEnd = w / L * L;
        if (hasDa) daRows4(xs, x0, xRs, g, dacc, r, w, vEnd);
        if (dx != null) dxRows4(dx.seg(), d0, dRs, g, aw, r, w, vEnd);
        for (int q = 0; q < 4; q++) {
            xTail(xs, x0 + q * xRs, dx, d0 + q * dRs, hasDa, g, q * r, aw, dacc, r, w, vEnd);
        }
    }

    /** dA[j, c] += Σ_q g[q·r + j] · x[q, c] over four rows, in row order, for whole vectors c < vEnd. */
    private static void daRows4(MemorySegment xs, long x0, long xRs, float[] g, float[] dacc, int r, int w, int vEnd) {
        for (int c = 0; c < vEnd; c += L) {
            FloatVector xv0 = FloatVector.fromMemorySegment(S, xs, (x0 + c) * 4, LE);
            FloatVector xv1 = FloatVector.fromMemorySegment(S, xs, (x0 + xRs + c) * 4, LE);
            FloatVector xv2 = FloatVector.fromMemorySegment(S, xs, (x0 + 2 * xRs + c) * 4, LE);
            FloatVector xv3 = FloatVector.fromMemorySegment(S, xs, (x0 + 3 * xRs + c) * 4, LE);
            for (int j = 0; j < r; j++) {
                FloatVector t = FloatVector.fromArray(S, dacc, j * w + c);
                t = xv0.fma(FloatVector.broadcast(S, g[j]), t);
                t = xv1.fma(FloatVector.broadcast(S, g[r + j]), t);
                t = xv2.fma(FloatVector.broadcast(S, g[2 * r + j]), t);
                t = xv3.fma(FloatVector.broadcast(S, g[3 * r + j]), t);
                t.intoArray(dacc, j * w + c);
            }
        }
    }

    /** dx[q, c] += Σ_j g[q·r + j] · A[j, c] for four rows, whole vectors c < vEnd. */
    private static void dxRows4(MemorySegment ds, long d0, long dRs, float[] g, float[] aw, int r, int w, int vEnd) {
        for (int c = 0; c < vEnd; c += L) {
            FloatVector a0 = FloatVector.fromMemorySegment(S, ds, (d0 + c) * 4, LE);
            FloatVector a1 = FloatVector.fromMemorySegment(S, ds, (d0 + dRs + c) * 4, LE);
            FloatVector a2 = FloatVector.fromMemorySegment(S, ds, (d0 + 2 * dRs + c) * 4, LE);
            FloatVector a3 = FloatVector.fromMemorySegment(S, ds, (d0 + 3 * dRs + c) * 4, LE);
            for (int j = 0; j < r; j++) {
                FloatVector av = FloatVector.fromArray(S, aw, j * w + c);
                a0 = av.fma(FloatVector.broadcast(S, g[j]), a0);
                a1 = av.fma(FloatVector.broadcast(S, g[r + j]), a1);
                a2 = av.fma(FloatVector.broadcast(S, g[2 * r + j]), a2);
                a3 = av.fma(FloatVector.broadcast(S, g[3 * r + j]), a3);
            }
            a0.intoMemorySegment(ds, (d0 + c) * 4, LE);
            a1.intoMemorySegment(ds, (d0 + dRs + c) * 4, LE);
            a2.intoMemorySegment(ds, (d0 + 2 * dRs + c) * 4, LE);
            a3.intoMemorySegment(ds, (d0 + 3 * dRs + c) * 4, LE);
        }
    }

    /** One row i of {@link #xBlock}: dA += g ⊗ x[i, :], dx[i, :] += Σ_j g[j]·A[j, :]. */
    private static void xRow(Operand x, Operand dx, boolean hasDa, float[] g, float[] aw, float[] dacc, int r, int w,
                             int k0, int i) {
        MemorySegment xs = x.seg();
        long xRow = x.offset() + (long) i * x.rs() + k0;
        long dxRow = dx == null ? 0 : dx.offset() + (long) i * dx.rs() + k0;
        int c = 0;
        for (; c + L <= w; c += L) {
            if (hasDa) {
                FloatVector xv = FloatVector.fromMemorySegment(S, xs, (xRow + c) * 4, LE);
                for (int j = 0; j < r; j++) {
                    xv.fma(FloatVector.broadcast(S, g[j]), FloatVector.fromArray(S, dacc, j * w + c)).intoArray(dacc, j * w + c);
                }
            }
            if (dx != null) {
                FloatVector acc = FloatVector.fromMemorySegment(S, dx.seg(), (dxRow + c) * 4, LE);
                for (int j = 0; j < r; j++) acc = FloatVector.fromArray(S, aw, j * w + c).fma(FloatVector.broadcast(S, g[j]), acc);
                acc.intoMemorySegment(dx.seg(), (dxRow + c) * 4, LE);
            }
        }
        xTail(xs, xRow, dx, dxRow, hasDa, g, 0, aw, dacc, r, w, c);
    }

    /** Columns [c0, w) of one row, element by element; its dh values are g[g0 .. g0 + r). */
    private static void xTail(MemorySegment xs, long xRow, Operand dx, long dxRow, boolean hasDa, float[] g, int g0,
                              float[] aw, float[] dacc, int r, int w, int c0) {
        for (int c = c0; c < w; c++) {
            float xv = xs.getAtIndex(Operand.F32, xRow + c);
            float acc = dx == null ? 0f : dx.seg().getAtIndex(Operand.F32, dxRow + c);
            for (int j = 0; j < r; j++) {
                if (hasDa) dacc[j * w + c] = Math.fma(xv, g[g0 + j], dacc[j * w + c]);
                acc = Math.fma(aw[j * w + c], g[g0 + j], acc);
            }
            if (dx != null) dx.seg().setAtIndex(Operand.F32, dxRow + c, acc);
        }
    }

    /** True when the fused paths apply: F32 activations (weights of any dtype). */
    static boolean supports(Operand... activations) {
        for (Operand o : activations) if (o != null && o.dtype() != DType.F32) return false;
        return true;
    }
}
