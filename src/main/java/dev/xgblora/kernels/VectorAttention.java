package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Attention forward and backward, one task per (batch, kv head) so grouped query heads that share
 * K and V accumulate dK and dV in one place. Per task K and V are packed into contiguous buffers
 * (K also transposed, so a row of scores is a sum of D vector axpys over the keys).
 */
final class VectorAttention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** A [B, T, H, D] tensor with a contiguous last dimension: element (b,t,h,d) at off + b·sb + t·st + h·sh + d. */
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

    private static final class Workspace {
        float[] kT = new float[0], kR = new float[0], vR = new float[0], vT = new float[0];
        float[] dk = new float[0], dv = new float[0], row = new float[0], dp = new float[0], valid = new float[0];
        float[] acc = new float[0], qs = new float[0];
        MemorySegment rowSeg = MemorySegment.ofArray(row);

        void ensure(int s, int d) {
            int sd = s * d;
            if (kT.length < sd) {
                kT = new float[sd]; kR = new float[sd]; vR = new float[sd]; vT = new float[sd];
                dk = new float[sd]; dv = new float[sd];
            }
            if (row.length < s) {
                row = new float[s]; dp = new float[s]; valid = new float[s];
                rowSeg = MemorySegment.ofArray(row);
            }
            if (acc.length < d) {
                acc = new float[d]; qs = new float[d];
            }
        }
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    private VectorAttention() {
    }

    static void forward(KernelPool pool, Tensor qt, Tensor kt, Tensor vt, Tensor keyValid, boolean causal, float scale,
                        Tensor probs, Tensor outT) {
        Heads q = Heads.of(qt, "attention q"), k = Heads.of(kt, "attention k"), v = Heads.of(vt, "attention v");
        Heads out = Heads.of(outT, "attention out");
        int sLen = checkShapes(q, k, v, probs, keyValid);
        if (out.b != q.b || out.len != q.len || out.h != q.h || out.d != q.d) {
            throw new IllegalArgumentException("attention out " + outT.describe() + " must match q " + qt.describe());
        }
        int group = q.h / k.h, d = q.d, tLen = q.len;
        MemorySegment ps = probs.data();
        pool.forRange(q.b * k.h, 1, (t0, t1) -> {
            Workspace w = WORKSPACE.get();
            w.ensure(sLen, d);
            for (int task = t0; task < t1; task++) {
                int b = task / k.h, g = task % k.h;
                packKeys(k, b, g, w.kT, w.kR, sLen, d);
                packRows(v, b, g, w.vR, sLen, d);
                validKeys(keyValid, b, sLen, w.valid);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int t = 0; t < tLen; t++) {
                        long pRow = probs.offset() + (((long) b * q.h + h) * tLen + t) * sLen;
                        int visible = causal ? Math.min(sLen, t + (sLen - tLen) + 1) : sLen;
                        scores(q, b, t, h, scale, w, sLen, d, visible);
                        VectorOps.softmaxRow(w.rowSeg, 0, ps, pRow, sLen);
                        Arrays.fill(w.acc, 0, d, 0f);
                        for (int j = 0; j < visible; j++) {
                            float p = ps.getAtIndex(Operand.F32, pRow + j);
                            if (p != 0f) axpy(p, w.vR, j * d, w.acc, 0, d);
                        }
                        long o = out.at(b, t, h);
                        for (int i = 0; i < d; i++) out.seg.setAtIndex(Operand.F32, o + i, w.acc[i]);
                    }
                }
            }
        });
    }

    /** row[j] = scale · q[t]·k[j] for visible keys, −∞ for masked ones. */
    private static void scores(Heads q, int b, int t, int h, float scale, Workspace w, int sLen, int d, int visible) {
        float[] row = w.row;
        Arrays.fill(row, 0, sLen, 0f);
        long qo = q.at(b, t, h);
        for (int i = 0; i < d; i++) {
            float qi = scale * q.seg.getAtIndex(Operand.F32, qo + i);
            axpy(qi, w.kT, i * sLen, row, 0, visible);
        }
        for (int j = 0; j < sLen; j++) {
            if (j >= visible || w.valid[j] == 0f) row[j] = Float.NEGATIVE_INFINITY;
        }
    }

    static void backward(KernelPool pool, Tensor doutT, Tensor qt, Tensor kt, Tensor vt, Tensor probs, float scale,
                         Tensor dqT, Tensor dkT, Tensor dvT) {
        Heads q = Heads.of(qt, "attention q"), k = Heads.of(kt, "attention k"), v = Heads.of(vt, "attention v");
        Heads dout = Heads.of(doutT, "attention dout");
        Heads dq = Heads.of(dqT, "attention dq"), dk = Heads.of(dkT, "attention dk"), dv = Heads.of(dvT, "attention dv");
        int sLen = checkShapes(q, k, v, probs, null);
        requireLike(dout, q, "attention dout");
        requireLike(dq, q, "attention dq");
        requireLike(dk, k, "attention dk");
        requireLike(dv, v, "attention dv");
        int group = q.h / k.h, d = q.d, tLen = q.len;
        MemorySegment ps = probs.data();
        pool.forRange(q.b * k.h, 1, (t0, t1) -> {
            Workspace w = WORKSPACE.get();
            w.ensure(sLen, d);
            for (int task = t0; task < t1; task++) {
                int b = task / k.h, g = task % k.h;
                packKeys(k, b, g, w.kT, w.kR, sLen, d);
                packKeys(v, b, g, w.vT, w.vR, sLen, d);
                Arrays.fill(w.dk, 0, sLen * d, 0f);
                Arrays.fill(w.dv, 0, sLen * d, 0f);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int t = 0; t < tLen; t++) {
                        long pRow = probs.offset() + (((long) b * q.h + h) * tLen + t) * sLen;
                        long go = dout.at(b, t, h), qo = q.at(b, t, h);
                        // dP[j] = dout[t]·v[j]; dv[j] += P[j]·dout[t]
                        float[] dp = w.dp;
                        Arrays.fill(dp, 0, sLen, 0f);
                        for (int i = 0; i < d; i++) {
                            w.acc[i] = dout.seg.getAtIndex(Operand.F32, go + i);
                            w.qs[i] = q.seg.getAtIndex(Operand.F32, qo + i);
                            axpy(w.acc[i], w.vT, i * sLen, dp, 0, sLen);
                        }
                        float[] p = w.row;
                        float dot = 0;
                        for (int j = 0; j < sLen; j++) {
                            p[j] = ps.getAtIndex(Operand.F32, pRow + j);
                            dot += p[j] * dp[j];
                        }
                        // dS[j] = P[j](dP[j] − Σ P·dP); dq[t] += scale Σ dS[j] k[j]; dk[j] += scale dS[j] q[t]
                        long dqo = dq == null ? 0 : dq.at(b, t, h);
                        // dp now becomes dS (scaled), in place
                        for (int j = 0; j < sLen; j++) dp[j] = p[j] * (dp[j] - dot) * scale;
                        if (dv != null) {
                            for (int j = 0; j < sLen; j++) if (p[j] != 0f) axpy(p[j], w.acc, 0, w.dv, j * d, d);
                        }
                        if (dk != null) {
                            for (int j = 0; j < sLen; j++) if (dp[j] != 0f) axpy(dp[j], w.qs, 0, w.dk, j * d, d);
                        }
                        if (dq != null) {
                            float[] acc = w.acc;
                            Arrays.fill(acc, 0, d, 0f);
                            for (int j = 0; j < sLen; j++) if (dp[j] != 0f) axpy(dp[j], w.kR, j * d, acc, 0, d);
                            for (int i = 0; i < d; i++) {
                                dq.seg.setAtIndex(Operand.F32, dqo + i, dq.seg.getAtIndex(Operand.F32, dqo + i) + acc[i]);
                            }
                        }
                    }
                }
                if (dk != null) addRows(dk, b, g, w.dk, sLen, d);
                if (dv != null) addRows(dv, b, g, w.dv, sLen, d);
            }
        });
    }

    private static int checkShapes(Heads q, Heads k, Heads v, Tensor probs, Tensor keyValid) {
        if (k.b != q.b || v.b != q.b || k.d != q.d || v.d != q.d || v.len != k.len || v.h != k.h
                || k.h == 0 || q.h % k.h != 0) {
            throw new IllegalArgumentException("attention: q " + q.t.describe() + ", k " + k.t.describe() + ", v "
                    + v.t.describe() + " do not fit (need q[B,T,Hq,D], k and v [B,S,Hkv,D], Hq a multiple of Hkv)");
        }
        long[] want = {q.b, q.h, q.len, k.len};
        if (!Arrays.equals(probs.shape(), want) || !probs.isContiguous() || probs.dtype() != DType.F32) {
            throw new IllegalArgumentException("attention probs " + probs.describe() + " must be a contiguous F32 "
                    + Arrays.toString(want));
        }
        if (keyValid != null && (keyValid.rank() != 2 || keyValid.dim(0) != q.b || keyValid.dim(1) != k.len)) {
            throw new IllegalArgumentException("attention keyValid " + keyValid.describe() + " must be [" + q.b + ", " + k.len + "]");
        }
        return k.len;
    }

    private static void requireLike(Heads a, Heads ref, String what) {
        if (a != null && (a.b != ref.b || a.len != ref.len || a.h != ref.h || a.d != ref.d)) {
            throw new IllegalArgumentException(what + " " + a.t.describe() + " must match " + ref.t.describe());
        }
    }

    private static void validKeys(Tensor keyValid, int b, int sLen, float[] valid) {
        for (int j = 0; j < sLen; j++) valid[j] = keyValid == null ? 1f : (keyValid.get(b, j) != 0f ? 1f : 0f);
    }

    /** rows[j·d + i] = x[b, j, g, i] and cols[i·s + j] = the same (transposed). */
    private static void packKeys(Heads x, int b, int g, float[] cols, float[] rows, int s, int d) {
        packRows(x, b, g, rows, s, d);
        for (int j = 0; j < s; j++) for (int i = 0; i < d; i++) cols[i * s + j] = rows[j * d + i];
    }

    private static void packRows(Heads x, int b, int g, float[] rows, int s, int d) {
        for (int j = 0; j < s; j++) {
            MemorySegment.copy(x.seg, Operand.F32, x.at(b, j, g) * 4, rows, j * d, d);
        }
    }

    private static void addRows(Heads x, int b, int g, float[] rows, int s, int d) {
        for (int j = 0; j < s; j++) {
            long o = x.at(b, j, g);
            for (int i = 0; i < d; i++) {
                x.seg.setAtIndex(Operand.F32, o + i, x.seg.getAtIndex(Operand.F32, o + i) + rows[j * d + i]);
            }
        }
    }

    /** y[yo..yo+n) += a · x[xo..xo+n). */
    private static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        FloatVector av = FloatVector.broadcast(S, a);
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xo + i).fma(av, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }
}
