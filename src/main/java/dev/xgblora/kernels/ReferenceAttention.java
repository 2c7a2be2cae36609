package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/**
 * Scalar scaled dot-product attention for {@link ReferenceKernels}: explicit loops over batch,
 * query head, query and key, accumulating in double.
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

        /** Row of probs (as [B*Hq*T, S]). */
        long pRow(int bi, int h, int ti) {
            return ((long) bi * hq + h) * t + ti;
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

    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyValid, boolean causal, float scale,
                        Tensor probs, Tensor out) {
        String op = "attentionForward";
        Dims n = dims(op, q, k, v);
        Mat mq = Mat.of(q, op + " q"), mk = Mat.of(k, op + " k"), mv = Mat.of(v, op + " v");
        Mat mo = Mat.of(out, op + " out", (long) n.b * n.t * n.hq, n.d);
        Mat mp = Mat.of(probs, op + " probs", (long) n.b * n.hq * n.t, n.s);
        Mat valid = keyValid == null ? null : Mat.of(keyValid, op + " keyValid", n.b, n.s);
        if (probs.rank() != 4) throw new IllegalArgumentException(op + ": probs must be [B, Hq, T, S], got " + probs.describe());
        if (out.rank() != 4) throw new IllegalArgumentException(op + ": out must be [B, T, Hq, D], got " + out.describe());

        double[] scores = new double[n.s];
        boolean[] visible = new boolean[n.s];
        double[] acc = new double[n.d];
        for (int bi = 0; bi < n.b; bi++) {
            for (int h = 0; h < n.hq; h++) {
                for (int ti = 0; ti < n.t; ti++) {
                    long qr = n.qRow(bi, ti, h);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int si = 0; si < n.s; si++) {
                        visible[si] = (valid == null || valid.get(bi, si) != 0f)
                                && (!causal || si <= ti + (n.s - n.t));
                        if (!visible[si]) continue;
                        long kr = n.kvRow(bi, si, h);
                        double dot = 0;
                        for (int di = 0; di < n.d; di++) dot += (double) mq.get(qr, di) * mk.get(kr, di);
                        scores[si] = dot * scale;
                        max = Math.max(max, scores[si]);
                    }
                    double sum = 0;
                    for (int si = 0; si < n.s; si++) {
                        scores[si] = visible[si] ? Math.exp(scores[si] - max) : 0.0;
                        sum += scores[si];
                    }
                    long pr = n.pRow(bi, h, ti);
                    java.util.Arrays.fill(acc, 0.0);
                    for (int si = 0; si < n.s; si++) {
                        // A row with no visible key has sum 0: all probabilities and the output are 0.
                        double p = sum > 0 ? scores[si] / sum : 0.0;
                        mp.set(pr, si, (float) p);
                        if (p == 0) continue;
                        long vr = n.kvRow(bi, si, h);
                        for (int di = 0; di < n.d; di++) acc[di] += p * mv.get(vr, di);
                    }
                    for (int di = 0; di < n.d; di++) mo.set(qr, di, (float) acc[di]);
                }
            }
        }
    }

    static void backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor probs, float scale,
                         Tensor dq, Tensor dk, Tensor dv) {
        String op = "attentionBackward";
        Dims n = dims(op, q, k, v);
        Mat mq = Mat.of(q, op + " q"), mk = Mat.of(k, op + " k"), mv = Mat.of(v, op + " v");
        Mat mdo = Mat.of(dout, op + " dout", (long) n.b * n.t * n.hq, n.d);
        Mat mp = Mat.of(probs, op + " probs", (long) n.b * n.hq * n.t, n.s);
        Mat mdq = dq == null ? null : Mat.of(dq, op + " dq", (long) n.b * n.t * n.hq, n.d).requireF32(op + " dq");
        Mat mdk = dk == null ? null : Mat.of(dk, op + " dk", (long) n.b * n.s * n.hkv, n.d).requireF32(op + " dk");
        Mat mdv = dv == null ? null : Mat.of(dv, op + " dv", (long) n.b * n.s * n.hkv, n.d).requireF32(op + " dv");

        double[] dp = new double[n.s];
        double[] ds = new double[n.s];
        // dk and dv sum over queries and grouped query heads: sum in double, add to the gradient once.
        long kvCount = (long) n.b * n.s * n.hkv * n.d;
        double[] dkSum = new double[Math.toIntExact(kvCount)];
        double[] dvSum = new double[Math.toIntExact(kvCount)];
        for (int bi = 0; bi < n.b; bi++) {
            for (int h = 0; h < n.hq; h++) {
                for (int ti = 0; ti < n.t; ti++) {
                    long qr = n.qRow(bi, ti, h);
                    long pr = n.pRow(bi, h, ti);
                    // dP = dout · Vᵀ; dS = P ⊙ (dP − Σ P ⊙ dP) (softmax backward); masked keys have P = 0.
                    double dot = 0;
                    for (int si = 0; si < n.s; si++) {
                        double p = mp.get(pr, si);
                        if (p == 0) {
                            dp[si] = 0;
                            continue;
                        }
                        long vr = n.kvRow(bi, si, h);
                        double acc = 0;
                        for (int di = 0; di < n.d; di++) acc += (double) mdo.get(qr, di) * mv.get(vr, di);
                        dp[si] = acc;
                        dot += p * acc;
                    }
                    for (int si = 0; si < n.s; si++) ds[si] = mp.get(pr, si) * (dp[si] - dot);

                    for (int si = 0; si < n.s; si++) {
                        double p = mp.get(pr, si);
                        if (p == 0) continue; // ds is 0 too
                        long kr = n.kvRow(bi, si, h);
                        for (int di = 0; di < n.d; di++) {
                            int at = (int) (kr * n.d + di);
                            dvSum[at] += p * mdo.get(qr, di);
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
