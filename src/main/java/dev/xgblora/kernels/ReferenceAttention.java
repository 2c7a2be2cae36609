package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/**
 * Scalar scaled dot-product attention for {@link ReferenceKernels}: explicit loops over batch,
 * query head, query and key, accumulating in double; one softmax row at a time, never the
 * whole [T, S] matrix. The mask is applied key by key through {@link AttentionMask#visible}.
 */
final class ReferenceAttention {
    private ReferenceAttention() {
    }

    /** Sizes of one attention call, checked once. */
    private record Dims(int b, int t, int s, int hq, int hkv, int d) {
        int kvHead(int h) {
            return h / (hq / hkv);
        }

        /** Row of q/out (as [B*T*Hq, D]) for (batch, query position, head). */
        long qRow(int bi, int ti, int h) {
            return ((long) bi * t + ti) * hq + h;
        }

        /** Row of k/v (as [B*S*Hkv, D]) for (batch, key position, query head). */
        long kvRow(int bi, int si, int h) {
            return ((long) bi * s + si) * hkv + kvHead(h);
        }

        /** Row of lse (as [B*Hq*T, 1]). */
        long lseRow(int bi, int h, int ti) {
            return ((long) bi * hq + h) * t + ti;
        }

        /** Position of query ti on the key axis (the first S − T keys are a cache of earlier positions). */
        int pos(int ti) {
            return ti + (s - t);
        }
    }

    private static Dims dims(String op, Tensor q, Tensor k, Tensor v) {
        requireRank4(op, "q", q);
        requireRank4(op, "k", k);
        requireRank4(op, "v", v);
        int b = (int) q.dim(0), t = (int) q.dim(1), hq = (int) q.dim(2), d = (int) q.dim(3);
        int s = (int) k.dim(1), hkv = (int) k.dim(2);
        if (k.dim(0) != b || k.dim(3) != d) {
            throw new IllegalArgumentException(op + ": k " + k.describe() + " does not match q " + q.describe()
                    + " (expected [" + b + ", S, Hkv, " + d + "])");
        }
        v.requireShape(k.shape());
        if (hkv == 0 || hq % hkv != 0) {
            throw new IllegalArgumentException(op + ": query heads " + hq + " must be a multiple of kv heads " + hkv);
        }
        return new Dims(b, t, s, hq, hkv, d);
    }

    private static void requireRank4(String op, String what, Tensor x) {
        if (x == null) throw new IllegalArgumentException(op + ": " + what + " must not be null");
        if (x.rank() != 4) {
            throw new IllegalArgumentException(op + ": " + what + " must be [B, T, H, D], got " + x.describe());
        }
    }

    /**
     * The softmax row of query (bi, h, ti) over all S keys, in double, into p (0 for hidden keys);
     * returns log Σ exp over the visible scores, −inf when no key is visible (p all 0).
     */
    private static double probabilities(Dims n, Mat mq, Mat mk, AttentionMask mask, float scale,
                                        int bi, int h, int ti, double[] p) {
        long qr = n.qRow(bi, ti, h);
        double max = Double.NEGATIVE_INFINITY;
        boolean any = false;
        for (int si = 0; si < n.s; si++) {
            if (!mask.visible(bi, n.pos(ti), si, n.s)) {
                p[si] = Double.NEGATIVE_INFINITY;
                continue;
            }
            long kr = n.kvRow(bi, si, h);
            double dot = 0;
            for (int di = 0; di < n.d; di++) dot += (double) mq.get(qr, di) * mk.get(kr, di);
            p[si] = dot * scale;
            max = Math.max(max, p[si]);
            any = true;
        }
        if (!any) {
            java.util.Arrays.fill(p, 0.0);
            return Double.NEGATIVE_INFINITY;
        }
        double sum = 0;
        for (int si = 0; si < n.s; si++) {
            p[si] = Math.exp(p[si] - max); // hidden keys: exp(-inf) = 0
            sum += p[si];
        }
        for (int si = 0; si < n.s; si++) p[si] /= sum;
        return max + Math.log(sum);
    }

    static void forward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale, Tensor out, Tensor lse) {
        String op = "attentionForward";
        Dims n = dims(op, q, k, v);
        if (mask == null) throw new IllegalArgumentException(op + ": mask must not be null (AttentionMask.NONE for none)");
        mask.check(op, n.b, n.t, n.s);
        Mat mq = Mat.of(q, op + " q"), mk = Mat.of(k, op + " k"), mv = Mat.of(v, op + " v");
        if (out.rank() != 4) throw new IllegalArgumentException(op + ": out must be [B, T, Hq, D], got " + out.describe());
        Mat mo = Mat.of(out, op + " out", (long) n.b * n.t * n.hq, n.d);
        Mat ml = lse == null ? null : lseMat(op, lse, n);

        double[] p = new double[n.s];
        double[] acc = new double[n.d];
        for (int bi = 0; bi < n.b; bi++) {
            for (int h = 0; h < n.hq; h++) {
                for (int ti = 0; ti < n.t; ti++) {
                    double logSum = probabilities(n, mq, mk, mask, scale, bi, h, ti, p);
                    java.util.Arrays.fill(acc, 0.0);
                    for (int si = 0; si < n.s; si++) {
                        if (p[si] == 0) continue;
                        long vr = n.kvRow(bi, si, h);
                        for (int di = 0; di < n.d; di++) acc[di] += p[si] * mv.get(vr, di);
                    }
                    long qr = n.qRow(bi, ti, h);
                    for (int di = 0; di < n.d; di++) mo.set(qr, di, (float) acc[di]);
                    if (ml != null) ml.set(n.lseRow(bi, h, ti), 0, (float) logSum);
                }
            }
        }
    }

    private static Mat lseMat(String op, Tensor lse, Dims n) {
        if (lse.rank() != 3 || lse.dim(0) != n.b || lse.dim(1) != n.hq || lse.dim(2) != n.t) {
            throw new IllegalArgumentException(op + ": lse " + lse.describe() + " must be [" + n.b + ", " + n.hq + ", " + n.t + "]");
        }
        return Mat.of(lse.reshape((long) n.b * n.hq * n.t, 1), op + " lse");
    }

    /**
     * The oracle recomputes every softmax row from q and k (it reads neither out nor lse, whose
     * shapes it only checks), so a wrong lse or out from a fast forward cannot hide here.
     */
    static void backward(Tensor dout, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                         Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {
        String op = "attentionBackward";
        Dims n = dims(op, q, k, v);
        if (mask == null) throw new IllegalArgumentException(op + ": mask must not be null (AttentionMask.NONE for none)");
        mask.check(op, n.b, n.t, n.s);
        Mat.of(out, op + " out", (long) n.b * n.t * n.hq, n.d);
        lseMat(op, lse, n);
        Mat mq = Mat.of(q, op + " q"), mk = Mat.of(k, op + " k"), mv = Mat.of(v, op + " v");
        Mat mdo = Mat.of(dout, op + " dout", (long) n.b * n.t * n.hq, n.d);
        Mat mdq = dq == null ? null : Mat.of(dq, op + " dq", (long) n.b * n.t * n.hq, n.d).requireF32(op + " dq");
        Mat mdk = dk == null ? null : Mat.of(dk, op + " dk", (long) n.b * n.s * n.hkv, n.d).requireF32(op + " dk");
        Mat mdv = dv == null ? null : Mat.of(dv, op + " dv", (long) n.b * n.s * n.hkv, n.d).requireF32(op + " dv");

        double[] p = new double[n.s];
        double[] dp = new double[n.s];
        double[] ds = new double[n.s];
        // dk and dv sum over queries and grouped query heads: sum in double, add to the gradient once.
        long kvCount = (long) n.b * n.s * n.hkv * n.d;
        double[] dkSum = new double[Math.toIntExact(kvCount)];
        double[] dvSum = new double[Math.toIntExact(kvCount)];
        for (int bi = 0; bi < n.b; bi++) {
            for (int h = 0; h < n.hq; h++) {
                for (int ti = 0; ti < n.t; ti++) {
                    probabilities(n, mq, mk, mask, scale, bi, h, ti, p);
                    long qr = n.qRow(bi, ti, h);
                    // dP = dout · Vᵀ; dS = P ⊙ (dP − Σ P ⊙ dP) (softmax backward); hidden keys have P = 0.
                    double dot = 0;
                    for (int si = 0; si < n.s; si++) {
                        dp[si] = 0;
                        if (p[si] == 0) continue;
                        long vr = n.kvRow(bi, si, h);
                        double acc = 0;
                        for (int di = 0; di < n.d; di++) acc += (double) mdo.get(qr, di) * mv.get(vr, di);
                        dp[si] = acc;
                        dot += p[si] * acc;
                    }
                    for (int si = 0; si < n.s; si++) ds[si] = p[si] * (dp[si] - dot);

                    for (int si = 0; si < n.s; si++) {
                        if (p[si] == 0) continue; // ds is 0 too
                        long kr = n.kvRow(bi, si, h);
                        for (int di = 0; di < n.d; di++) {
                            int at = (int) (kr * n.d + di);
                            dvSum[at] += p[si] * mdo.get(qr, di);
                            dkSum[at] += scale * ds[si] * mq.get(qr, di);
                        }
                    }
                    if (mdq != null) {
                        for (int di = 0; di < n.d; di++) {
                            double acc = 0;
                            for (int si = 0; si < n.s; si++) {
                                if (ds[si] != 0) acc += ds[si] * mk.get(n.kvRow(bi, si, h), di);
                            }
                            mdq.add(qr, di, scale * acc);
                        }
                    }
                }
            }
        }
        for (long i = 0; i < kvCount; i++) {
            if (mdk != null) mdk.add(i / n.d, i % n.d, dkSum[(int) i]);
            if (mdv != null) mdv.add(i / n.d, i % n.d, dvSum[(int) i]);
        }
    }
}
