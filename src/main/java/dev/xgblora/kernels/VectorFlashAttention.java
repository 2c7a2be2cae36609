package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Fused, tiled attention (the FlashAttention-2 algorithm on CPU vectors). Forward walks key tiles
 * of BK keys for each tile of BQ queries with an online softmax (running max m and sum l per
 * query, the output accumulator rescaled when m grows) and writes only the output and one
 * log-sum-exp per query; backward recomputes each score tile from q, k and that log-sum-exp.
 * Key tiles that causality, the sliding window or segment ids hide from a whole query tile are
 * never touched.
 *
 * <p>One task per (batch, kv head): the query heads that share K and V run in the same task, so
 * K and V are packed once per task (padded rows, and transposed per key tile for the score
 * products), dK and dV sum over the group in one place, and no two tasks write the same element.
 * Every sum runs in a fixed order and exp is {@link FloatMath}, so results are the same bits for
 * any thread count and JIT state.
 */
final class VectorFlashAttention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Queries per tile. */
    static final int BQ = 64;
    /** Keys per tile: a multiple of the vector length, so score rows need no tail loops. */
    static final int BK = Math.max(64, L);

    /** A [B, T, H, D] F32 tensor with a contiguous last dimension: (b,t,h,d) at off + b·sb + t·st + h·sh + d. */
    private record Heads(Tensor t, MemorySegment seg, long off, long sb, long st, long sh, int b, int len, int h, int d) {
        static Heads of(Tensor t, String what) {
            if (t == null) return null;
            if (t.rank() != 4) throw new IllegalArgumentException(what + " " + t.describe() + " must be [B, T, H, D]");
            if (t.dtype() != DType.F32) throw new IllegalArgumentException(what + " " + t.describe() + " must be F32");
            if (t.stride(3) != 1 && t.dim(3) > 1) {
                throw new IllegalArgumentException(what + " " + t.describe() + ": head dimension must be contiguous");
            }
            return new Heads(t, t.data(), t.offset(), t.stride(0), t.stride(1), t.stride(2),
                    (int) t.dim(0), (int) t.dim(1), (int) t.dim(2), (int) t.dim(3));
        }

        long at(int bi, int ti, int hi) {
            return off + bi * sb + ti * st + hi * sh;
        }
    }

    /** The checked shapes of one call. */
    private record Shape(int b, int t, int s, int hq, int hkv, int d, int dp, int keyTiles) {
        int group() {
            return hq / hkv;
        }

        /** Position of query t on the key axis (the first S − T keys are cached earlier positions). */
        int pos(int ti) {
            return ti + (s - t);
        }
    }

    /** Per-thread buffers, grown to the largest call seen. */
    private static final class Workspace {
        float[] kp = new float[0], kt = new float[0], vp = new float[0], vt = new float[0];
        float[] dkAcc = new float[0], dvAcc = new float[0];
        final float[] m = new float[BQ], l = new float[BQ], rowTerm = new float[BQ];
        float[] q = new float[0], dO = new float[0], acc = new float[0], dqAcc = new float[0];
        final float[] sc = new float[BQ * BK], dp = new float[BQ * BK];
        boolean[] valid = new boolean[0];
        /** Smallest and largest segment id per key tile of the current batch row. */
        int[] segLo = new int[0], segHi = new int[0];

        void ensure(Shape n) {
            int kv = n.keyTiles * BK * n.dp;
            if (kp.length < kv) {
                kp = new float[kv];
                kt = new float[kv];
                vp = new float[kv];
                vt = new float[kv];
                dkAcc = new float[kv];
                dvAcc = new float[kv];
            }
            if (q.length < BQ * n.dp) {
                q = new float[BQ * n.dp];
                dO = new float[BQ * n.dp];
                acc = new float[BQ * n.dp];
                dqAcc = new float[BQ * n.dp];
            }
            if (valid.length < n.s) valid = new boolean[n.s];
            if (segLo.length < n.keyTiles) {
                segLo = new int[n.keyTiles];
                segHi = new int[n.keyTiles];
            }
        }
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    private VectorFlashAttention() {
    }

    // ---- forward ------------------------------------------------------------------------------------

    static void forward(KernelPool pool, Tensor qT, Tensor kT, Tensor vT, AttentionMask mask, float scale,
                        Tensor outT, Tensor lse) {
        String op = "attentionForward";
        Heads q = Heads.of(qT, op + " q"), k = Heads.of(kT, op + " k"), v = Heads.of(vT, op + " v");
        Heads out = Heads.of(outT, op + " out");
        Shape n = shape(op, q, k, v, mask);
        requireLike(out, q, op + " out");
        requireLse(op, lse, n);
        pool.forRange(n.b * n.hkv, 1, (t0, t1) -> {
            Workspace w = WORKSPACE.get();
            w.ensure(n);
            for (int task = t0; task < t1; task++) {
                int b = task / n.hkv, g = task % n.hkv;
                packKeys(n, k, v, b, g, w, false);
                validKeys(mask, b, n, w);
                for (int h = g * n.group(); h < (g + 1) * n.group(); h++) {
                    for (int q0 = 0; q0 < n.t; q0 += BQ) forwardTile(n, q, out, lse, mask, scale, b, h, q0, w);
                }
            }
        });
    }

    /** Queries q0.. of head h: online softmax over the visible key tiles, then out and lse. */
    private static void forwardTile(Shape n, Heads q, Heads out, Tensor lse, AttentionMask mask, float scale,
                                    int b, int h, int q0, Workspace w) {
        int rows = Math.min(BQ, n.t - q0), dp = n.dp;
        packRows(q, b, h, q0, rows, n.d, dp, scale, w.q);
        Arrays.fill(w.acc, 0, rows * dp, 0f);
        Arrays.fill(w.m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(w.l, 0, rows, 0f);
        int[] tiles = keyTiles(n, mask, q0, rows);
        int[] querySegs = querySegments(n, mask, b, q0, rows);
        for (int j = tiles[0]; j < tiles[1]; j++) {
            if (querySegs != null && (w.segHi[j] < querySegs[0] || w.segLo[j] > querySegs[1])) continue;
            int c0 = j * BK, keys = Math.min(BK, n.s - c0);
            scores(n, w, j, rows, mask, b, q0);
            for (int r = 0; r < rows; r++) {
                int at = r * BK;
                float tileMax = rowMax(w.sc, at);
                if (tileMax == Float.NEGATIVE_INFINITY) { // nothing visible in this tile for this query
                    Arrays.fill(w.sc, at, at + BK, 0f);
                    continue;
                }
                float mNew = Math.max(w.m[r], tileMax);
                float alpha = FloatMath.exp(w.m[r] - mNew); // 0 on the first visible tile (m = −inf)
                float sum = expShift(w.sc, at, mNew);
                w.l[r] = w.l[r] * alpha + sum;
                w.m[r] = mNew;
                if (alpha != 1f) scaleRow(w.acc, r * dp, dp, alpha);
            }
            // acc[rows, D] += P[rows, keys] · V[keys, D]
            multiply(w.sc, 0, BK, 1, w.vp, c0 * dp, dp, keys, w.acc, 0, dp, rows, dp, true);
        }
        for (int r = 0; r < rows; r++) {
            boolean none = w.l[r] == 0f;
            float inv = none ? 0f : 1f / w.l[r];
            storeRow(w.acc, r * dp, inv, out, out.at(b, q0 + r, h), n.d);
            if (lse != null) {
                float value = none ? Float.NEGATIVE_INFINITY : (float) (w.m[r] + StrictMath.log(w.l[r]));
                lse.data().setAtIndex(Operand.F32, lse.offset() + ((long) b * n.hq + h) * n.t + q0 + r, value);
            }
        }
    }

    // ---- backward -----------------------------------------------------------------------------------

    static void backward(KernelPool pool, Tensor doutT, Tensor qT, Tensor kT, Tensor vT, AttentionMask mask,
                         float scale, Tensor outT, Tensor lse, Tensor dqT, Tensor dkT, Tensor dvT) {
        String op = "attentionBackward";
        Heads q = Heads.of(qT, op + " q"), k = Heads.of(kT, op + " k"), v = Heads.of(vT, op + " v");
        Heads dout = Heads.of(doutT, op + " dout"), out = Heads.of(outT, op + " out");
        Heads dq = Heads.of(dqT, op + " dq"), dk = Heads.of(dkT, op + " dk"), dv = Heads.of(dvT, op + " dv");
        Shape n = shape(op, q, k, v, mask);
        requireLike(dout, q, op + " dout");
        requireLike(out, q, op + " out");
        requireLike(dq, q, op + " dq");
        requireLike(dk, k, op + " dk");
        requireLike(dv, v, op + " dv");
        if (lse == null) throw new IllegalArgumentException(op + ": lse from the forward is required");
        requireLse(op, lse, n);
        if (dq == null && dk == null && dv == null) return;
        pool.forRange(n.b * n.hkv, 1, (t0, t1) -> {
            Workspace w = WORKSPACE.get();
            w.ensure(n);
            for (int task = t0; task < t1; task++) {
                int b = task / n.hkv, g = task % n.hkv;
                packKeys(n, k, v, b, g, w, true);
                validKeys(mask, b, n, w);
                int kvFloats = n.keyTiles * BK * n.dp;
                if (dk != null) Arrays.fill(w.dkAcc, 0, kvFloats, 0f);
                if (dv != null) Arrays.fill(w.dvAcc, 0, kvFloats, 0f);
                for (int h = g * n.group(); h < (g + 1) * n.group(); h++) {
                    for (int q0 = 0; q0 < n.t; q0 += BQ) {
                        backwardTile(n, q, dout, out, lse, mask, scale, dq, dk != null, dv != null, b, h, q0, w);
                    }
                }
                for (int s = 0; s < n.s; s++) {
                    if (dk != null) addRow(w.dkAcc, s * n.dp, 1f, dk, dk.at(b, s, g), n.d);
                    if (dv != null) addRow(w.dvAcc, s * n.dp, 1f, dv, dv.at(b, s, g), n.d);
                }
            }
        });
    }

    /**
     * Queries q0.. of head h: per visible key tile, P = exp(S − lse), dV += Pᵀ·dO, dP = dO·Vᵀ,
     * dS = P ⊙ (dP − rowsum(dO ⊙ O)), dK += dSᵀ·(scale·Q), dQ += scale · dS·K.
     */
    private static void backwardTile(Shape n, Heads q, Heads dout, Heads out, Tensor lse, AttentionMask mask,
                                     float scale, Heads dq, boolean wantDk, boolean wantDv, int b, int h, int q0,
                                     Workspace w) {
        int rows = Math.min(BQ, n.t - q0), dp = n.dp;
        packRows(q, b, h, q0, rows, n.d, dp, scale, w.q);
        packRows(dout, b, h, q0, rows, n.d, dp, 1f, w.dO);
        boolean wantScoreGrad = dq != null || wantDk;
        for (int r = 0; r < rows; r++) {
            // rowTerm = Σ_d dO·O = Σ_s P·dP, the softmax backward's row constant (fixed order)
            long o = out.at(b, q0 + r, h);
            float dot = 0f;
            for (int d = 0; d < n.d; d++) dot = Math.fma(w.dO[r * dp + d], out.seg.getAtIndex(Operand.F32, o + d), dot);
            w.rowTerm[r] = dot;
            w.m[r] = lse.data().getAtIndex(Operand.F32, lse.offset() + ((long) b * n.hq + h) * n.t + q0 + r);
        }
        if (dq != null) Arrays.fill(w.dqAcc, 0, rows * dp, 0f);
        int[] tiles = keyTiles(n, mask, q0, rows);
        int[] querySegs = querySegments(n, mask, b, q0, rows);
        for (int j = tiles[0]; j < tiles[1]; j++) {
            if (querySegs != null && (w.segHi[j] < querySegs[0] || w.segLo[j] > querySegs[1])) continue;
            int c0 = j * BK, keys = Math.min(BK, n.s - c0);
            scores(n, w, j, rows, mask, b, q0);
            for (int r = 0; r < rows; r++) {
                int at = r * BK;
                if (w.m[r] == Float.NEGATIVE_INFINITY) Arrays.fill(w.sc, at, at + BK, 0f); // sees no key at all
                else expShift(w.sc, at, w.m[r]);
            }
            if (wantDv) { // dV[keys, D] += Pᵀ · dO
                multiply(w.sc, 0, 1, BK, w.dO, 0, dp, rows, w.dvAcc, c0 * dp, dp, keys, dp, true);
            }
            if (!wantScoreGrad) continue;
            // dP[rows, BK] = dO · Vᵀ, then dS = P ⊙ (dP − rowTerm) into dp
            multiply(w.dO, 0, dp, 1, w.vt, j * BK * dp, BK, n.d, w.dp, 0, BK, rows, BK, false);
            for (int r = 0; r < rows; r++) softmaxGradRow(w.sc, w.dp, r * BK, w.rowTerm[r]);
            if (wantDk) { // dK[keys, D] += dSᵀ · (scale·Q)
                multiply(w.dp, 0, 1, BK, w.q, 0, dp, rows, w.dkAcc, c0 * dp, dp, keys, dp, true);
            }
            if (dq != null) { // dQ[rows, D] += dS · K (scale applied when added to dq)
                multiply(w.dp, 0, BK, 1, w.kp, c0 * dp, dp, keys, w.dqAcc, 0, dp, rows, dp, true);
            }
        }
        if (dq != null) {
            for (int r = 0; r < rows; r++) addRow(w.dqAcc, r * dp, scale, dq, dq.at(b, q0 + r, h), n.d);
        }
    }

    // ---- tiles --------------------------------------------------------------------------------------

    /** [first, end) key tiles that some query of q0..q0+rows may see (causality and window only). */
    private static int[] keyTiles(Shape n, AttentionMask mask, int q0, int rows) {
        int lo = mask.firstKey(n.pos(q0)), hi = mask.endKey(n.pos(q0 + rows - 1), n.s);
        if (hi <= lo) return new int[] {0, 0};
        return new int[] {lo / BK, (hi - 1) / BK + 1};
    }

    /** sc[rows, BK] = (scale·Q) · K_jᵀ, hidden keys (and the columns past S) set to −inf. */
    private static void scores(Shape n, Workspace w, int j, int rows, AttentionMask mask, int b, int q0) {
        multiply(w.q, 0, n.dp, 1, w.kt, j * BK * n.dp, BK, n.d, w.sc, 0, BK, rows, BK, false);
        int c0 = j * BK;
        boolean perKey = mask.keyValid() != null || mask.segments() != null;
        int[] seg = mask.segments();
        for (int r = 0; r < rows; r++) {
            int p = n.pos(q0 + r), at = r * BK;
            int a = clamp(mask.firstKey(p) - c0), z = clamp(Math.min(mask.endKey(p, n.s), n.s) - c0);
            if (z < a) z = a;
            Arrays.fill(w.sc, at, at + a, Float.NEGATIVE_INFINITY);
            Arrays.fill(w.sc, at + z, at + BK, Float.NEGATIVE_INFINITY);
            if (!perKey) continue;
            int own = seg == null ? 0 : seg[b * n.s + p];
            for (int c = a; c < z; c++) {
                int key = c0 + c;
                if (!w.valid[key] || (seg != null && seg[b * n.s + key] != own)) w.sc[at + c] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    private static int clamp(int c) {
        return Math.max(0, Math.min(BK, c));
    }

    /** K and V of (batch b, kv head g): rows padded to dp (kp, vp) and, per key tile, transposed [dp, BK]. */
    private static void packKeys(Shape n, Heads k, Heads v, int b, int g, Workspace w, boolean transposeV) {
        int dp = n.dp, kvFloats = n.keyTiles * BK * dp;
        for (int s = 0; s < n.s; s++) {
            loadRow(k, k.at(b, s, g), n.d, dp, 1f, w.kp, s * dp);
            loadRow(v, v.at(b, s, g), n.d, dp, 1f, w.vp, s * dp);
        }
        // rows past S in the last tile are zero, so their transposed columns are too
        Arrays.fill(w.kp, n.s * dp, kvFloats, 0f);
        Arrays.fill(w.vp, n.s * dp, kvFloats, 0f);
        transposeTiles(w.kp, w.kt, n.keyTiles, dp);
        if (transposeV) transposeTiles(w.vp, w.vt, n.keyTiles, dp);
    }

    /** dst[tile j][d][col] = src[(j·BK + col)·dp + d]: each key tile of rows [BK, dp] transposed to [dp, BK]. */
    private static void transposeTiles(float[] src, float[] dst, int keyTiles, int dp) {
        if (L == Transpose16.N) { // BK and dp are multiples of 16: whole register blocks
            for (int j = 0; j < keyTiles; j++) {
                int tile = j * BK * dp;
                for (int s0 = 0; s0 < BK; s0 += L) {
                    for (int d0 = 0; d0 < dp; d0 += L) Transpose16.transpose(src, tile + s0 * dp + d0, dp, dst, tile + d0 * BK + s0, BK);
                }
            }
            return;
        }
        for (int j = 0; j < keyTiles; j++) {
            int tile = j * BK * dp;
            for (int col = 0; col < BK; col++) {
                for (int d = 0; d < dp; d++) dst[tile + d * BK + col] = src[tile + col * dp + d];
            }
        }
    }

    /** rows × D of head h from query q0, times mul, into dst [rows, dp] (pad columns 0). */
    private static void packRows(Heads x, int b, int h, int q0, int rows, int d, int dp, float mul, float[] dst) {
        for (int r = 0; r < rows; r++) loadRow(x, x.at(b, q0 + r, h), d, dp, mul, dst, r * dp);
    }

    /** dst[off..off+d) = mul · x[o..o+d) (one rounding, as the scalar product), dst[off+d..off+dp) = 0. */
    private static void loadRow(Heads x, long o, int d, int dp, float mul, float[] dst, int off) {
        int c = 0;
        for (; c + L <= d; c += L) FloatVector.fromMemorySegment(S, x.seg, (o + c) * 4, LE).mul(mul).intoArray(dst, off + c);
        for (; c < d; c++) dst[off + c] = x.seg.getAtIndex(Operand.F32, o + c) * mul;
        for (; c < dp; c++) dst[off + c] = 0f;
    }

    /** dst[row at o, 0..d) = mul · src[at..at+d). */
    private static void storeRow(float[] src, int at, float mul, Heads dst, long o, int d) {
        int c = 0;
        for (; c + L <= d; c += L) FloatVector.fromArray(S, src, at + c).mul(mul).intoMemorySegment(dst.seg, (o + c) * 4, LE);
        for (; c < d; c++) dst.seg.setAtIndex(Operand.F32, o + c, src[at + c] * mul);
    }

    /** dst[row at o, 0..d) += mul · src[at..at+d) (product rounded, then the sum: as the scalar form). */
    private static void addRow(float[] src, int at, float mul, Heads dst, long o, int d) {
        int c = 0;
        for (; c + L <= d; c += L) {
            long byteAt = (o + c) * 4;
            FloatVector.fromArray(S, src, at + c).mul(mul).add(FloatVector.fromMemorySegment(S, dst.seg, byteAt, LE))
                    .intoMemorySegment(dst.seg, byteAt, LE);
        }
        for (; c < d; c++) {
            dst.seg.setAtIndex(Operand.F32, o + c, dst.seg.getAtIndex(Operand.F32, o + c) + mul * src[at + c]);
        }
    }

    /** Which keys of batch row b are real, and each key tile's segment id range. */
    private static void validKeys(AttentionMask mask, int b, Shape n, Workspace w) {
        Tensor kv = mask.keyValid();
        for (int j = 0; j < n.s; j++) w.valid[j] = kv == null || kv.get(b, j) != 0f;
        int[] seg = mask.segments();
        if (seg == null) return;
        for (int j = 0; j < n.keyTiles; j++) {
            int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
            for (int c = j * BK; c < Math.min(n.s, (j + 1) * BK); c++) {
                lo = Math.min(lo, seg[b * n.s + c]);
                hi = Math.max(hi, seg[b * n.s + c]);
            }
            w.segLo[j] = lo;
            w.segHi[j] = hi;
        }
    }

    /**
     * {min, max} segment id of queries q0..q0+rows (null without segments): a key tile whose ids
     * all lie outside that range holds no key any of these queries may see, and is skipped.
     */
    private static int[] querySegments(Shape n, AttentionMask mask, int b, int q0, int rows) {
        int[] seg = mask.segments();
        if (seg == null) return null;
        int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
        for (int r = 0; r < rows; r++) {
            int id = seg[b * n.s + n.pos(q0 + r)];
            lo = Math.min(lo, id);
            hi = Math.max(hi, id);
        }
        return new int[] {lo, hi};
    }

    // ---- vector pieces --------------------------------------------------------------------------------

    /**
     * C[r, 0..cols) (+)= Σ_{i < kLen} A(r, i) · B[i, 0..cols) for r &lt; rows, summed in order of i:
     * A(r, i) = a[aOff + r·ars + i·acs] (any strides, so Aᵀ is free), B and C row-major with row
     * strides brs and crs, cols a multiple of the vector length. Blocks of four rows × two vectors
     * keep eight independent sums in registers (four rows share each load of B, two vectors each
     * broadcast of A); each block is its own small method, so no vector crosses a call.
     */
    static void multiply(float[] a, int aOff, int ars, int acs, float[] bm, int bOff, int brs, int kLen,
                         float[] c, int cOff, int crs, int rows, int cols, boolean accumulate) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int col = 0;
            for (; col + 2 * L <= cols; col += 2 * L) {
                block4x2(a, aOff + r * ars, ars, acs, bm, bOff + col, brs, kLen, c, cOff + r * crs + col, crs, accumulate);
            }
            for (; col < cols; col += L) {
                block4x1(a, aOff + r * ars, ars, acs, bm, bOff + col, brs, kLen, c, cOff + r * crs + col, crs, accumulate);
            }
        }
        for (; r < rows; r++) {
            for (int col = 0; col < cols; col += L) {
                block1x1(a, aOff + r * ars, acs, bm, bOff + col, brs, kLen, c, cOff + r * crs + col, accumulate);
            }
        }
    }

    /** Four rows × two vectors of C from a0 (A rows ars apart) and b0; see {@link #multiply}. */
    private static void block4x2(float[] a, int a0, int ars, int acs, float[] bm, int b0, int brs, int kLen,
                                 float[] c, int c0, int crs, boolean accumulate) {
        int a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
        FloatVector s00, s01, s10, s11, s20, s21, s30, s31;
        if (accumulate) {
            s00 = FloatVector.fromArray(S, c, c0);
            s01 = FloatVector.fromArray(S, c, c0 + L);
            s10 = FloatVector.fromArray(S, c, c0 + crs);
            s11 = FloatVector.fromArray(S, c, c0 + crs + L);
            s20 = FloatVector.fromArray(S, c, c0 + 2 * crs);
            s21 = FloatVector.fromArray(S, c, c0 + 2 * crs + L);
            s30 = FloatVector.fromArray(S, c, c0 + 3 * crs);
            s31 = FloatVector.fromArray(S, c, c0 + 3 * crs + L);
        } else {
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = FloatVector.zero(S);
        }
        for (int i = 0; i < kLen; i++) {
            int bi = b0 + i * brs, ai = i * acs;
            FloatVector u = FloatVector.fromArray(S, bm, bi), v = FloatVector.fromArray(S, bm, bi + L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + ai]);
            s00 = u.fma(x, s00);
            s01 = v.fma(x, s01);
            x = FloatVector.broadcast(S, a[a1 + ai]);
            s10 = u.fma(x, s10);
            s11 = v.fma(x, s11);
            x = FloatVector.broadcast(S, a[a2 + ai]);
            s20 = u.fma(x, s20);
            s21 = v.fma(x, s21);
            x = FloatVector.broadcast(S, a[a3 + ai]);
            s30 = u.fma(x, s30);
            s31 = v.fma(x, s31);
        }
        s00.intoArray(c, c0);
        s01.intoArray(c, c0 + L);
        s10.intoArray(c, c0 + crs);
        s11.intoArray(c, c0 + crs + L);
        s20.intoArray(c, c0 + 2 * crs);
        s21.intoArray(c, c0 + 2 * crs + L);
        s30.intoArray(c, c0 + 3 * crs);
        s31.intoArray(c, c0 + 3 * crs + L);
    }

    /** Four rows × one vector of C; see {@link #multiply}. */
    private static void block4x1(float[] a, int a0, int ars, int acs, float[] bm, int b0, int brs, int kLen,
                                 float[] c, int c0, int crs, boolean accumulate) {
        int a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
        FloatVector s0, s1, s2, s3;
        if (accumulate) {
            s0 = FloatVector.fromArray(S, c, c0);
            s1 = FloatVector.fromArray(S, c, c0 + crs);
            s2 = FloatVector.fromArray(S, c, c0 + 2 * crs);
            s3 = FloatVector.fromArray(S, c, c0 + 3 * crs);
        } else {
            s0 = s1 = s2 = s3 = FloatVector.zero(S);
        }
        for (int i = 0; i < kLen; i++) {
            FloatVector bv = FloatVector.fromArray(S, bm, b0 + i * brs);
            int ai = i * acs;
            s0 = bv.fma(FloatVector.broadcast(S, a[a0 + ai]), s0);
            s1 = bv.fma(FloatVector.broadcast(S, a[a1 + ai]), s1);
            s2 = bv.fma(FloatVector.broadcast(S, a[a2 + ai]), s2);
            s3 = bv.fma(FloatVector.broadcast(S, a[a3 + ai]), s3);
        }
        s0.intoArray(c, c0);
        s1.intoArray(c, c0 + crs);
        s2.intoArray(c, c0 + 2 * crs);
        s3.intoArray(c, c0 + 3 * crs);
    }

    /** One row × one vector of C; see {@link #multiply}. */
    private static void block1x1(float[] a, int a0, int acs, float[] bm, int b0, int brs, int kLen, float[] c, int c0,
                                 boolean accumulate) {
        FloatVector s0 = accumulate ? FloatVector.fromArray(S, c, c0) : FloatVector.zero(S);
        for (int i = 0; i < kLen; i++) s0 = FloatVector.fromArray(S, bm, b0 + i * brs).fma(FloatVector.broadcast(S, a[a0 + i * acs]), s0);
        s0.intoArray(c, c0);
    }

    private static float rowMax(float[] x, int at) {
        FloatVector mv = FloatVector.fromArray(S, x, at);
        for (int c = L; c < BK; c += L) mv = mv.max(FloatVector.fromArray(S, x, at + c));
        return mv.reduceLanes(jdk.incubator.vector.VectorOperators.MAX); // max is exact in any order
    }

    /** x[at..at+BK) = exp(x − shift); returns their sum (fixed order). */
    private static float expShift(float[] x, int at, float shift) {
        return FloatMath.expInPlace(x, at, at + BK, shift); // a loop of its own: no vector crosses a call
    }

    /** ds[at..at+BK) = p ⊙ (ds − rowTerm), ds holding dP. */
    private static void softmaxGradRow(float[] p, float[] ds, int at, float rowTerm) {
        for (int c = 0; c < BK; c += L) {
            FloatVector.fromArray(S, ds, at + c).sub(rowTerm).mul(FloatVector.fromArray(S, p, at + c))
                    .intoArray(ds, at + c);
        }
    }

    private static void scaleRow(float[] x, int at, int len, float s) {
        for (int c = 0; c < len; c += L) FloatVector.fromArray(S, x, at + c).mul(s).intoArray(x, at + c);
    }

    // ---- checks -------------------------------------------------------------------------------------

    private static Shape shape(String op, Heads q, Heads k, Heads v, AttentionMask mask) {
        if (q == null || k == null || v == null) throw new IllegalArgumentException(op + ": q, k and v are required");
        if (k.b != q.b || v.b != q.b || k.d != q.d || v.d != q.d || v.len != k.len || v.h != k.h
                || k.h == 0 || q.h % k.h != 0) {
            throw new IllegalArgumentException(op + ": q " + q.t.describe() + ", k " + k.t.describe() + ", v "
                    + v.t.describe() + " do not fit (need q[B,T,Hq,D], k and v [B,S,Hkv,D], Hq a multiple of Hkv)");
        }
        if (mask == null) throw new IllegalArgumentException(op + ": mask must not be null (AttentionMask.NONE for none)");
        mask.check(op, q.b, q.len, k.len);
        int dp = (q.d + L - 1) / L * L;
        int keyTiles = (k.len + BK - 1) / BK;
        Math.multiplyExact(Math.multiplyExact(keyTiles, BK), dp); // per-thread K/V buffers stay addressable
        return new Shape(q.b, q.len, k.len, q.h, k.h, q.d, dp, keyTiles);
    }

    private static void requireLike(Heads a, Heads ref, String what) {
        if (a != null && (a.b != ref.b || a.len != ref.len || a.h != ref.h || a.d != ref.d)) {
            throw new IllegalArgumentException(what + " " + a.t.describe() + " must match " + ref.t.describe());
        }
    }

    private static void requireLse(String op, Tensor lse, Shape n) {
        if (lse == null) return;
        long[] want = {n.b, n.hq, n.t};
        if (!Arrays.equals(lse.shape(), want) || !lse.isContiguous() || lse.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": lse " + lse.describe() + " must be a contiguous F32 "
                    + Arrays.toString(want));
        }
    }
}
