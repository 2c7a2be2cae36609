package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Attention forward and backward as small matrix products per (batch, head) on the packed GEMM
 * micro-kernel. One task per (batch, kv head), so the query heads that share K and V accumulate
 * dK and dV in one place and no two tasks write the same element (thread-count invariant).
 * Heads are strided views of the [B, T, H, D] tensors; nothing is transposed by copying.
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

        /** The [len, d] matrix of one (batch, head). */
        Operand head(int bi, int hi) {
            return new Operand(seg, DType.F32, at(bi, 0, hi), st, 1, len, d);
        }
    }

    /** Per-thread [T, S] score / gradient buffer, grown once. */
    private static final class Workspace {
        float[] buf = new float[0];
        MemorySegment seg = MemorySegment.ofArray(buf);
        float[] valid = new float[0];

        void ensure(int t, int s) {
            if (buf.length < t * s) {
                buf = new float[t * s];
                seg = MemorySegment.ofArray(buf);
            }
            if (valid.length < s) valid = new float[s];
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
        requireLike(out, q, "attention out");
        int group = q.h / k.h, tLen = q.len;
        MemorySegment ps = probs.data();
        pool.forRange(q.b * k.h, 1, (t0, t1) -> {
            Workspace w = WORKSPACE.get();
            w.ensure(tLen, sLen);
            for (int task = t0; task < t1; task++) {
                int b = task / k.h, g = task % k.h;
                validKeys(keyValid, b, sLen, w.valid);
                Operand kh = k.head(b, g), vh = v.head(b, g);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    // scores[T,S] = Q·Kᵀ, then scale, mask and softmax row by row into probs
                    VectorGemm.multiplyHere(q.head(b, h), kh.transposed(), w.seg, 0, sLen, false);
                    long pHead = probs.offset() + ((long) b * q.h + h) * tLen * sLen;
                    for (int t = 0; t < tLen; t++) {
                        int visible = causal ? Math.max(0, Math.min(sLen, t + (sLen - tLen) + 1)) : sLen;
                        int r = t * sLen;
                        for (int j = 0; j < sLen; j++) {
                            w.buf[r + j] = j < visible && w.valid[j] != 0f ? w.buf[r + j] * scale : Float.NEGATIVE_INFINITY;
                        }
                        VectorOps.softmaxRow(w.seg, r, ps, pHead + (long) t * sLen, sLen);
                    }
                    // out[T,D] = P·V
                    Operand p = new Operand(ps, DType.F32, pHead, sLen, 1, tLen, sLen);
                    Operand oh = out.head(b, h);
                    VectorGemm.multiplyHere(p, vh, out.seg, oh.offset(), oh.rs(), false);
                }
            }
        });
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
        int group = q.h / k.h, tLen = q.len;
        MemorySegment ps = probs.data();
        pool.forRange(q.b * k.h, 1, (t0, t1) -> {
            Workspace w = WORKSPACE.get();
            w.ensure(tLen, sLen);
            for (int task = t0; task < t1; task++) {
                int b = task / k.h, g = task % k.h;
                Operand kh = k.head(b, g), vh = v.head(b, g);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    long pHead = probs.offset() + ((long) b * q.h + h) * tLen * sLen;
                    Operand p = new Operand(ps, DType.F32, pHead, sLen, 1, tLen, sLen);
                    Operand go = dout.head(b, h);
                    if (dv != null) {
                        Operand dvh = dv.head(b, g);   // dV[S,D] += Pᵀ·dO
                        VectorGemm.multiplyHere(p.transposed(), go, dv.seg, dvh.offset(), dvh.rs(), true);
                    }
                    if (dq == null && dk == null) continue;
                    // dP[T,S] = dO·Vᵀ, then dS = scale · P ⊙ (dP − Σ_j P·dP) in place
                    VectorGemm.multiplyHere(go, vh.transposed(), w.seg, 0, sLen, false);
                    for (int t = 0; t < tLen; t++) softmaxGradRow(w.buf, t * sLen, ps, pHead + (long) t * sLen, sLen, scale);
                    Operand ds = new Operand(w.seg, DType.F32, 0, sLen, 1, tLen, sLen);
                    if (dq != null) {
                        Operand dqh = dq.head(b, h);   // dQ[T,D] += dS·K
                        VectorGemm.multiplyHere(ds, kh, dq.seg, dqh.offset(), dqh.rs(), true);
                    }
                    if (dk != null) {
                        Operand dkh = dk.head(b, g);   // dK[S,D] += dSᵀ·Q
                        VectorGemm.multiplyHere(ds.transposed(), q.head(b, h), dk.seg, dkh.offset(), dkh.rs(), true);
                    }
                }
            }
        });
    }

    /** buf[r..r+n) = scale · p ⊙ (buf − Σ p·buf) where buf holds dP and p the probabilities. */
    private static void softmaxGradRow(float[] buf, int r, MemorySegment ps, long p, int n, float scale) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (; j + L <= n; j += L) {
            acc = FloatVector.fromArray(S, buf, r + j).fma(FloatVector.fromMemorySegment(S, ps, (p + j) * 4, LE), acc);
        }
        float dot = Lanes.sum(acc);
        for (; j < n; j++) dot += buf[r + j] * ps.getAtIndex(Operand.F32, p + j);
        j = 0;
        for (; j + L <= n; j += L) {
            FloatVector pv = FloatVector.fromMemorySegment(S, ps, (p + j) * 4, LE);
            FloatVector.fromArray(S, buf, r + j).sub(dot).mul(pv).mul(scale).intoArray(buf, r + j);
        }
        for (; j < n; j++) buf[r + j] = (buf[r + j] - dot) * ps.getAtIndex(Operand.F32, p + j) * scale;
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
}
