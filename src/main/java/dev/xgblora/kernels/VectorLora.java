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
 * <p>Backward: dh = scale·dy·B, dB += scale·dyᵀ·h, dA += dhᵀ·x and dx += dh·A, each a register-blocked
 * pass (see {@link #backward}); the result does not depend on the thread count.
 */
final class VectorLora {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Rows per block of the column-strip passes: the block's rows stay in L2 while the strips go across them. */
    private static final int ROW_BLOCK = 64;

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
        float[] bt = new float[0], g = new float[0], hs = new float[0], aw = new float[0], acc = new float[0];
        final float[] lanes = new float[16 * L];
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
     *
     * <p>Each product is its own register-blocked pass, so the sums stay in registers instead of being
     * loaded and stored per row: dh row blocks in parallel, dB, dA and dx column strips in parallel.
     * Every output element is summed by one thread in a fixed order, so the bits do not depend on
     * the thread count (dh: vector lanes over the row, then the lanes in a fixed fold and the tail;
     * dB, dA over rows in order; dx over ranks in order).
     */
    static void backward(KernelPool pool, Operand dy, Operand x, Operand a, Operand b, float scale, Operand h,
                         Operand dh, Operand da, Operand db, Operand dx) {
        int m = dy.rows(), n = dy.cols(), r = a.rows(), k = x.cols(), nStride = stride(n), kStride = stride(k);
        Scratch s = SCRATCH.get();
        float[] bt = packTransposed(b, 1f, nStride);
        float[] g = s.g = grow(s.g, Math.multiplyExact(m, r));
        pool.forRange(m, 4, (i0, i1) -> dhRows(dy, bt, nStride, r, scale, g, i0, i1));
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < r; j++) dh.seg().setAtIndex(Operand.F32, dh.offset() + (long) i * dh.rs() + j, g[i * r + j]);
        }
        if (db != null) {
            float[] hs = s.hs = grow(s.hs, Math.multiplyExact(m, r));
            for (int i = 0; i < m; i++) for (int j = 0; j < r; j++) hs[i * r + j] = scale * h.get(i, j);
            float[] acc = s.acc = grow(s.acc, Math.multiplyExact(r, nStride));
            java.util.Arrays.fill(acc, 0, r * nStride, 0f);
            pool.forRange(n, 4 * L, (c0, c1) -> rowSums(dy, hs, r, acc, nStride, c0, c1));
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < r; j++) {
                    long at = db.offset() + (long) i * db.rs() + (long) j * db.cs();
                    db.seg().setAtIndex(Operand.F32, at, db.seg().getAtIndex(Operand.F32, at) + acc[j * nStride + i]);
                }
            }
        }
        if (da == null && dx == null) return;
        float[] acc = s.acc = grow(s.acc, Math.multiplyExact(r, kStride)), aw = s.aw = grow(s.aw, Math.multiplyExact(r, kStride));
        for (int j = 0; j < r; j++) {
            for (int c = 0; c < k; c++) {
                aw[j * kStride + c] = a.get(j, c);
                if (da != null) acc[j * kStride + c] = da.seg().getAtIndex(Operand.F32, da.offset() + (long) j * da.rs() + c);
            }
        }
        pool.forRange(k, 4 * L, (c0, c1) -> {
            if (da != null) rowSums(x, g, r, acc, kStride, c0, c1);
            if (dx != null) addRankTerms(dx, g, r, aw, kStride, c0, c1);
        });
        if (da == null) return;
        for (int j = 0; j < r; j++) {
            for (int c = 0; c < k; c++) da.seg().setAtIndex(Operand.F32, da.offset() + (long) j * da.rs() + c, acc[j * kStride + c]);
        }
    }

    private static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[n];
    }

    // ---- dh = scale·dy·B: rows [i0, i1), four rows × four ranks at a time --------------------------

    private static void dhRows(Operand dy, float[] bt, int stride, int r, float scale, float[] g, int i0, int i1) {
        Scratch s = SCRATCH.get();
        int i = i0;
        for (; i + 4 <= i1; i += 4) {
            int j = 0;
            for (; j + 4 <= r; j += 4) dhBlock(dy, bt, stride, r, scale, g, i, j, 4, s);
            for (; j < r; j++) dhBlock(dy, bt, stride, r, scale, g, i, j, 1, s);
        }
        for (; i < i1; i++) for (int j = 0; j < r; j++) dhOne(dy, bt, stride, r, scale, g, i, j);
    }

    /**
     * dh for rows i..i+3 and ranks j..j+ranks-1 (ranks 4 or 1): the vector sums over the whole row
     * staged to lanes, then each lane sum plus the row's scalar tail.
     */
    private static void dhBlock(Operand dy, float[] bt, int stride, int r, float scale, float[] g, int i, int j,
                                int ranks, Scratch s) {
        MemorySegment ds = dy.seg();
        int n = dy.cols(), vEnd = n / L * L;
        long row0 = dy.offset() + (long) i * dy.rs(), rs = dy.rs();
        float[] lanes = s.lanes;
        if (ranks == 4) dots4x4(ds, row0, rs, bt, j * stride, stride, vEnd, lanes);
        else dots4x1(ds, row0, rs, bt, j * stride, vEnd, lanes);
        for (int q = 0; q < 4; q++) {
            for (int jj = 0; jj < ranks; jj++) {
                float sum = tailDot(ds, row0 + q * rs, bt, (j + jj) * stride, vEnd, n, Lanes.sum(lanes, (q * ranks + jj) * L));
                g[(i + q) * r + j + jj] = scale * sum;
            }
        }
    }

    /** Four dy rows against four of B's columns over whole vectors: sixteen sums staged to lanes (row-major). */
    private static void dots4x4(MemorySegment ds, long row0, long rs, float[] bt, int bRow, int stride, int vEnd,
                                float[] lanes) {
        FloatVector s00 = FloatVector.zero(S), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
        FloatVector s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
        for (int k = 0; k < vEnd; k += L) {
            FloatVector b0 = FloatVector.fromArray(S, bt, bRow + k), b1 = FloatVector.fromArray(S, bt, bRow + stride + k);
            FloatVector b2 = FloatVector.fromArray(S, bt, bRow + 2 * stride + k), b3 = FloatVector.fromArray(S, bt, bRow + 3 * stride + k);
            FloatVector d = FloatVector.fromMemorySegment(S, ds, (row0 + k) * 4, LE);
            s00 = d.fma(b0, s00); s01 = d.fma(b1, s01); s02 = d.fma(b2, s02); s03 = d.fma(b3, s03);
            d = FloatVector.fromMemorySegment(S, ds, (row0 + rs + k) * 4, LE);
            s10 = d.fma(b0, s10); s11 = d.fma(b1, s11); s12 = d.fma(b2, s12); s13 = d.fma(b3, s13);
            d = FloatVector.fromMemorySegment(S, ds, (row0 + 2 * rs + k) * 4, LE);
            s20 = d.fma(b0, s20); s21 = d.fma(b1, s21); s22 = d.fma(b2, s22); s23 = d.fma(b3, s23);
            d = FloatVector.fromMemorySegment(S, ds, (row0 + 3 * rs + k) * 4, LE);
            s30 = d.fma(b0, s30); s31 = d.fma(b1, s31); s32 = d.fma(b2, s32); s33 = d.fma(b3, s33);
        }
        s00.intoArray(lanes, 0); s01.intoArray(lanes, L); s02.intoArray(lanes, 2 * L); s03.intoArray(lanes, 3 * L);
        s10.intoArray(lanes, 4 * L); s11.intoArray(lanes, 5 * L); s12.intoArray(lanes, 6 * L); s13.intoArray(lanes, 7 * L);
        s20.intoArray(lanes, 8 * L); s21.intoArray(lanes, 9 * L); s22.intoArray(lanes, 10 * L); s23.intoArray(lanes, 11 * L);
        s30.intoArray(lanes, 12 * L); s31.intoArray(lanes, 13 * L); s32.intoArray(lanes, 14 * L); s33.intoArray(lanes, 15 * L);
    }

    /** Four dy rows against one of B's columns over whole vectors, staged to lanes (four L-lane vectors). */
    private static void dots4x1(MemorySegment ds, long row0, long rs, float[] bt, int bRow, int vEnd, float[] lanes) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < vEnd; k += L) {
            FloatVector bv = FloatVector.fromArray(S, bt, bRow + k);
            a0 = FloatVector.fromMemorySegment(S, ds, (row0 + k) * 4, LE).fma(bv, a0);
            a1 = FloatVector.fromMemorySegment(S, ds, (row0 + rs + k) * 4, LE).fma(bv, a1);
            a2 = FloatVector.fromMemorySegment(S, ds, (row0 + 2 * rs + k) * 4, LE).fma(bv, a2);
            a3 = FloatVector.fromMemorySegment(S, ds, (row0 + 3 * rs + k) * 4, LE).fma(bv, a3);
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, L); a2.intoArray(lanes, 2 * L); a3.intoArray(lanes, 3 * L);
    }

    /** One row and rank (the rows past the last block of four), in {@link #dhBlock}'s order. */
    private static void dhOne(Operand dy, float[] bt, int stride, int r, float scale, float[] g, int i, int j) {
        MemorySegment ds = dy.seg();
        int n = dy.cols(), bRow = j * stride, vEnd = n / L * L;
        long row = dy.offset() + (long) i * dy.rs();
        FloatVector acc = FloatVector.zero(S);
        for (int k = 0; k < vEnd; k += L) {
            acc = FloatVector.fromMemorySegment(S, ds, (row + k) * 4, LE).fma(FloatVector.fromArray(S, bt, bRow + k), acc);
        }
        g[i * r + j] = scale * tailDot(ds, row, bt, bRow, vEnd, n, Lanes.sum(acc));
    }

    /** sum + Σ dy[row, k]·bt[bRow + k] over the columns [k0, n1) past the whole vectors. */
    private static float tailDot(MemorySegment ds, long row, float[] bt, int bRow, int k0, int n1, float sum) {
        for (int k = k0; k < n1; k++) sum = Math.fma(ds.getAtIndex(Operand.F32, row + k), bt[bRow + k], sum);
        return sum;
    }

    // ---- out[j, c] += Σ_i g[i·r + j]·X[i, c] (dBᵀ and dA), columns [c0, c1) ---------------------------

    /**
     * Blocks of rows, then strips of four vectors, four ranks at a time: sixteen sums held in registers
     * over the block's rows, each row's X strip loaded once per block of ranks. Rows in order, so the bits are those of a
     * row-by-row update; columns past the last strip element by element in the same order.
     */
    private static void rowSums(Operand xo, float[] g, int r, float[] out, int os, int c0, int c1) {
        MemorySegment xs = xo.seg();
        int m = xo.rows(), vEnd = c0 + (c1 - c0) / (4 * L) * (4 * L);
        long x0 = xo.offset(), xRs = xo.rs();
        for (int i0 = 0; i0 < m; i0 += ROW_BLOCK) {
            int i1 = Math.min(m, i0 + ROW_BLOCK);
            for (int c = c0; c < vEnd; c += 4 * L) {
                int j = 0;
                for (; j + 4 <= r; j += 4) rowSums4x4(xs, x0, xRs, i0, i1, g, r, j, out, os, c);
                for (; j < r; j++) rowSums1x4(xs, x0, xRs, i0, i1, g, r, j, out, os, c);
            }
        }
        for (int c = vEnd; c < c1; c++) {
            for (int j = 0; j < r; j++) {
                float t = out[j * os + c];
                for (int i = 0; i < m; i++) t = Math.fma(xs.getAtIndex(Operand.F32, x0 + i * xRs + c), g[i * r + j], t);
                out[j * os + c] = t;
            }
        }
    }

    private static void rowSums4x4(MemorySegment xs, long x0, long xRs, int i0, int i1, float[] g, int r, int j, float[] out,
                                   int os, int c) {
        int o0 = j * os + c, o1 = o0 + os, o2 = o1 + os, o3 = o2 + os;
        FloatVector t00 = FloatVector.fromArray(S, out, o0), t01 = FloatVector.fromArray(S, out, o0 + L);
        FloatVector t02 = FloatVector.fromArray(S, out, o0 + 2 * L), t03 = FloatVector.fromArray(S, out, o0 + 3 * L);
        FloatVector t10 = FloatVector.fromArray(S, out, o1), t11 = FloatVector.fromArray(S, out, o1 + L);
        FloatVector t12 = FloatVector.fromArray(S, out, o1 + 2 * L), t13 = FloatVector.fromArray(S, out, o1 + 3 * L);
        FloatVector t20 = FloatVector.fromArray(S, out, o2), t21 = FloatVector.fromArray(S, out, o2 + L);
        FloatVector t22 = FloatVector.fromArray(S, out, o2 + 2 * L), t23 = FloatVector.fromArray(S, out, o2 + 3 * L);
        FloatVector t30 = FloatVector.fromArray(S, out, o3), t31 = FloatVector.fromArray(S, out, o3 + L);
        FloatVector t32 = FloatVector.fromArray(S, out, o3 + 2 * L), t33 = FloatVector.fromArray(S, out, o3 + 3 * L);
        for (int i = i0; i < i1; i++) {
            long row = (x0 + i * xRs + c) * 4;
            FloatVector x0v = FloatVector.fromMemorySegment(S, xs, row, LE), x1v = FloatVector.fromMemorySegment(S, xs, row + 4L * L, LE);
            FloatVector x2v = FloatVector.fromMemorySegment(S, xs, row + 8L * L, LE), x3v = FloatVector.fromMemorySegment(S, xs, row + 12L * L, LE);
            int gi = i * r + j;
            FloatVector g0 = FloatVector.broadcast(S, g[gi]), g1 = FloatVector.broadcast(S, g[gi + 1]);
            FloatVector g2 = FloatVector.broadcast(S, g[gi + 2]), g3 = FloatVector.broadcast(S, g[gi + 3]);
            t00 = x0v.fma(g0, t00); t01 = x1v.fma(g0, t01); t02 = x2v.fma(g0, t02); t03 = x3v.fma(g0, t03);
            t10 = x0v.fma(g1, t10); t11 = x1v.fma(g1, t11); t12 = x2v.fma(g1, t12); t13 = x3v.fma(g1, t13);
            t20 = x0v.fma(g2, t20); t21 = x1v.fma(g2, t21); t22 = x2v.fma(g2, t22); t23 = x3v.fma(g2, t23);
            t30 = x0v.fma(g3, t30); t31 = x1v.fma(g3, t31); t32 = x2v.fma(g3, t32); t33 = x3v.fma(g3, t33);
        }
        t00.intoArray(out, o0); t01.intoArray(out, o0 + L); t02.intoArray(out, o0 + 2 * L); t03.intoArray(out, o0 + 3 * L);
        t10.intoArray(out, o1); t11.intoArray(out, o1 + L); t12.intoArray(out, o1 + 2 * L); t13.intoArray(out, o1 + 3 * L);
        t20.intoArray(out, o2); t21.intoArray(out, o2 + L); t22.intoArray(out, o2 + 2 * L); t23.intoArray(out, o2 + 3 * L);
        t30.intoArray(out, o3); t31.intoArray(out, o3 + L); t32.intoArray(out, o3 + 2 * L); t33.intoArray(out, o3 + 3 * L);
    }

    private static void rowSums1x4(MemorySegment xs, long x0, long xRs, int i0, int i1, float[] g, int r, int j, float[] out,
                                   int os, int c) {
        int o = j * os + c;
        FloatVector t0 = FloatVector.fromArray(S, out, o), t1 = FloatVector.fromArray(S, out, o + L);
        FloatVector t2 = FloatVector.fromArray(S, out, o + 2 * L), t3 = FloatVector.fromArray(S, out, o + 3 * L);
        for (int i = i0; i < i1; i++) {
            long row = (x0 + i * xRs + c) * 4;
            FloatVector gv = FloatVector.broadcast(S, g[i * r + j]);
            t0 = FloatVector.fromMemorySegment(S, xs, row, LE).fma(gv, t0);
            t1 = FloatVector.fromMemorySegment(S, xs, row + 4L * L, LE).fma(gv, t1);
            t2 = FloatVector.fromMemorySegment(S, xs, row + 8L * L, LE).fma(gv, t2);
            t3 = FloatVector.fromMemorySegment(S, xs, row + 12L * L, LE).fma(gv, t3);
        }
        t0.intoArray(out, o); t1.intoArray(out, o + L); t2.intoArray(out, o + 2 * L); t3.intoArray(out, o + 3 * L);
    }

    // ---- dx[i, c] += Σ_j g[i·r + j]·A[j, c], columns [c0, c1) ----------------------------------------

    /**
     * Strips of four vectors, four ranks at a time: A's sixteen vectors held in registers while the
     * rows stream past; ranks in order per element (the bits of a rank-by-rank update).
     */
    private static void addRankTerms(Operand dx, float[] g, int r, float[] aw, int os, int c0, int c1) {
        MemorySegment ds = dx.seg();
        int m = dx.rows(), vEnd = c0 + (c1 - c0) / (4 * L) * (4 * L);
        long d0 = dx.offset(), dRs = dx.rs();
        for (int i0 = 0; i0 < m; i0 += ROW_BLOCK) {
            int i1 = Math.min(m, i0 + ROW_BLOCK);
            for (int c = c0; c < vEnd; c += 4 * L) {
                int j = 0;
                for (; j + 4 <= r; j += 4) rankTerms4x4(ds, d0, dRs, i0, i1, g, r, j, aw, os, c);
                for (; j < r; j++) rankTerms1x4(ds, d0, dRs, i0, i1, g, r, j, aw, os, c);
            }
        }
        for (int c = vEnd; c < c1; c++) { // columns past the last strip, element by element
            for (int i = 0; i < m; i++) {
                long at = d0 + i * dRs + c;
                float acc = ds.getAtIndex(Operand.F32, at);
                for (int j = 0; j < r; j++) acc = Math.fma(aw[j * os + c], g[i * r + j], acc);
                ds.setAtIndex(Operand.F32, at, acc);
            }
        }
    }

    private static void rankTerms4x4(MemorySegment ds, long d0, long dRs, int i0, int i1, float[] g, int r, int j, float[] aw,
                                     int os, int c) {
        int o0 = j * os + c, o1 = o0 + os, o2 = o1 + os, o3 = o2 + os;
        FloatVector a00 = FloatVector.fromArray(S, aw, o0), a01 = FloatVector.fromArray(S, aw, o0 + L);
        FloatVector a02 = FloatVector.fromArray(S, aw, o0 + 2 * L), a03 = FloatVector.fromArray(S, aw, o0 + 3 * L);
        FloatVector a10 = FloatVector.fromArray(S, aw, o1), a11 = FloatVector.fromArray(S, aw, o1 + L);
        FloatVector a12 = FloatVector.fromArray(S, aw, o1 + 2 * L), a13 = FloatVector.fromArray(S, aw, o1 + 3 * L);
        FloatVector a20 = FloatVector.fromArray(S, aw, o2), a21 = FloatVector.fromArray(S, aw, o2 + L);
        FloatVector a22 = FloatVector.fromArray(S, aw, o2 + 2 * L), a23 = FloatVector.fromArray(S, aw, o2 + 3 * L);
        FloatVector a30 = FloatVector.fromArray(S, aw, o3), a31 = FloatVector.fromArray(S, aw, o3 + L);
        FloatVector a32 = FloatVector.fromArray(S, aw, o3 + 2 * L), a33 = FloatVector.fromArray(S, aw, o3 + 3 * L);
        for (int i = i0; i < i1; i++) {
            long row = (d0 + i * dRs + c) * 4;
            int gi = i * r + j;
            FloatVector g0 = FloatVector.broadcast(S, g[gi]), g1 = FloatVector.broadcast(S, g[gi + 1]);
            FloatVector g2 = FloatVector.broadcast(S, g[gi + 2]), g3 = FloatVector.broadcast(S, g[gi + 3]);
            FloatVector v0 = FloatVector.fromMemorySegment(S, ds, row, LE);
            v0 = a30.fma(g3, a20.fma(g2, a10.fma(g1, a00.fma(g0, v0))));
            v0.intoMemorySegment(ds, row, LE);
            FloatVector v1 = FloatVector.fromMemorySegment(S, ds, row + 4L * L, LE);
            v1 = a31.fma(g3, a21.fma(g2, a11.fma(g1, a01.fma(g0, v1))));
            v1.intoMemorySegment(ds, row + 4L * L, LE);
            FloatVector v2 = FloatVector.fromMemorySegment(S, ds, row + 8L * L, LE);
            v2 = a32.fma(g3, a22.fma(g2, a12.fma(g1, a02.fma(g0, v2))));
            v2.intoMemorySegment(ds, row + 8L * L, LE);
            FloatVector v3 = FloatVector.fromMemorySegment(S, ds, row + 12L * L, LE);
            v3 = a33.fma(g3, a23.fma(g2, a13.fma(g1, a03.fma(g0, v3))));
            v3.intoMemorySegment(ds, row + 12L * L, LE);
        }
    }

    private static void rankTerms1x4(MemorySegment ds, long d0, long dRs, int i0, int i1, float[] g, int r, int j, float[] aw,
                                     int os, int c) {
        int o = j * os + c;
        FloatVector a0 = FloatVector.fromArray(S, aw, o), a1 = FloatVector.fromArray(S, aw, o + L);
        FloatVector a2 = FloatVector.fromArray(S, aw, o + 2 * L), a3 = FloatVector.fromArray(S, aw, o + 3 * L);
        for (int i = i0; i < i1; i++) {
            long row = (d0 + i * dRs + c) * 4;
            FloatVector gv = FloatVector.broadcast(S, g[i * r + j]);
            a0.fma(gv, FloatVector.fromMemorySegment(S, ds, row, LE)).intoMemorySegment(ds, row, LE);
            a1.fma(gv, FloatVector.fromMemorySegment(S, ds, row + 4L * L, LE)).intoMemorySegment(ds, row + 4L * L, LE);
            a2.fma(gv, FloatVector.fromMemorySegment(S, ds, row + 8L * L, LE)).intoMemorySegment(ds, row + 8L * L, LE);
            a3.fma(gv, FloatVector.fromMemorySegment(S, ds, row + 12L * L, LE)).intoMemorySegment(ds, row + 12L * L, LE);
        }
    }

    /** True when the fused paths apply: F32 activations (weights of any dtype). */
    static boolean supports(Operand... activations) {
        for (Operand o : activations) if (o != null && o.dtype() != DType.F32) return false;
        return true;
    }
}
