package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Row-wise and elementwise vector kernels (softmax, layer norm, GELU, cross-entropy, AdamW, adds).
 * Rows go to threads whole; flat ops are split at fixed multiples of the vector length; column
 * reductions (dgamma, dbias) are split by columns. So the thread count never changes a result.
 */
final class VectorOps {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Elements per part of a flat op: large enough that a task costs more than its hand-off. */
    private static final int FLAT_GRAIN = 1 << 14;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    private static final float INV_SQRT_2 = (float) (1 / Math.sqrt(2));
    private static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));

    private VectorOps() {
    }

    // Vector loads and stores are written out at each site (fromMemorySegment / intoMemorySegment)
    // rather than through small ld/st helpers: inside these large lambdas C2 left the helpers
    // un-inlined ("callee uses too much stack"), so every loaded vector was boxed (bench step
    // xgblora: 402 → 186 MiB allocated per step once the GELU loops had none).

    private static float get(MemorySegment s, long element) {
        return s.getAtIndex(Operand.F32, element);
    }

    private static void set(MemorySegment s, long element, float v) {
        s.setAtIndex(Operand.F32, element, v);
    }

    private static long row(Operand o, int i) {
        return o.offset() + (long) i * o.rs();
    }

    // ---- Reductions over rows -------------------------------------------------------------------

    /** db[n] += Σ_m dy[m, n]; parallel over columns. */
    static void columnSums(KernelPool pool, Operand dy, MemorySegment db, long dbOff) {
        int m = dy.rows(), n = dy.cols();
        pool.forRange(n, 4 * L, (n0, n1) -> {
            int j = n0;
            for (; j + L <= n1; j += L) {
                FloatVector acc = FloatVector.fromMemorySegment(S, db, (dbOff + j) * 4, LE);
                for (int i = 0; i < m; i++) acc = acc.add(FloatVector.fromMemorySegment(S, dy.seg(), (row(dy, i) + j) * 4, LE));
                acc.intoMemorySegment(db, (dbOff + j) * 4, LE);
            }
            for (; j < n1; j++) {
                float acc = get(db, dbOff + j);
                for (int i = 0; i < m; i++) acc += get(dy.seg(), row(dy, i) + j);
                set(db, dbOff + j, acc);
            }
        });
    }

    // ---- Softmax --------------------------------------------------------------------------------

    static void softmaxForward(KernelPool pool, Operand x, Operand out) {
        requireSameShape(x, out, "softmaxForward");
        pool.forRange(x.rows(), 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) softmaxRow(x.seg(), row(x, i), out.seg(), row(out, i), x.cols());
        });
    }

    /** out = softmax(x) over n elements; a row of -inf gives zeros. Returns nothing; out may alias x. */
    static void softmaxRow(MemorySegment xs, long x, MemorySegment os, long o, int n) {
        float max = rowMax(xs, x, n);
        if (max == Float.NEGATIVE_INFINITY) {
            for (int j = 0; j < n; j++) set(os, o + j, 0f);
            return;
        }
        float sum = expShiftInto(xs, x, os, o, n, max);
        scaleRange(os, o, n, 1f / sum);
    }

    /** s[from..from+n) *= k, in place. */
    private static void scaleRange(MemorySegment s, long from, int n, float k) {
        int j = 0;
        for (; j + L <= n; j += L) FloatVector.fromMemorySegment(S, s, (from + j) * 4, LE).mul(k).intoMemorySegment(s, (from + j) * 4, LE);
        for (; j < n; j++) set(s, from + j, get(s, from + j) * k);
    }

    static float rowMax(MemorySegment xs, long x, int n) {
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + L <= n; j += L) mv = mv.max(FloatVector.fromMemorySegment(S, xs, (x + j) * 4, LE));
        float max = Lanes.max(mv);
        for (; j < n; j++) max = Math.max(max, get(xs, x + j));
        return max;
    }

    /** os[j] = exp(xs[j] − max); returns the sum. */
    static float expShiftInto(MemorySegment xs, long x, MemorySegment os, long o, int n, float max) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (; j + L <= n; j += L) {
            FloatVector e = FloatMath.exp(FloatVector.fromMemorySegment(S, xs, (x + j) * 4, LE).sub(max));
            e.intoMemorySegment(os, (o + j) * 4, LE);
            acc = acc.add(e);
        }
        float sum = Lanes.sum(acc);
        for (; j < n; j++) {
            float e = FloatMath.exp(get(xs, x + j) - max);
            set(os, o + j, e);
            sum += e;
        }
        return sum;
    }

    static void softmaxBackward(KernelPool pool, Operand dy, Operand y, Operand dx) {
        requireSameShape(dy, y, "softmaxBackward");
        requireSameShape(dy, dx, "softmaxBackward");
        int n = y.cols();
        pool.forRange(y.rows(), 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                long a = row(dy, i), b = row(y, i), c = row(dx, i);
                float dot = dot(dy.seg(), a, y.seg(), b, n);
                int j = 0;
                for (; j + L <= n; j += L) {
                    FloatVector yv = FloatVector.fromMemorySegment(S, y.seg(), (b + j) * 4, LE);
                    FloatVector.fromMemorySegment(S, dy.seg(), (a + j) * 4, LE).sub(dot).fma(yv, FloatVector.fromMemorySegment(S, dx.seg(), (c + j) * 4, LE)).intoMemorySegment(dx.seg(), (c + j) * 4, LE);
                }
                for (; j < n; j++) set(dx.seg(), c + j, get(dx.seg(), c + j) + get(y.seg(), b + j) * (get(dy.seg(), a + j) - dot));
            }
        });
    }

    static float dot(MemorySegment as, long a, MemorySegment bs, long b, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (; j + L <= n; j += L) acc = FloatVector.fromMemorySegment(S, as, (a + j) * 4, LE).fma(FloatVector.fromMemorySegment(S, bs, (b + j) * 4, LE), acc);
        float s = Lanes.sum(acc);
        for (; j < n; j++) s += get(as, a + j) * get(bs, b + j);
        return s;
    }

    private static float sum(MemorySegment s, long a, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (; j + L <= n; j += L) acc = acc.add(FloatVector.fromMemorySegment(S, s, (a + j) * 4, LE));
        float r = Lanes.sum(acc);
        for (; j < n; j++) r += get(s, a + j);
        return r;
    }

    // ---- Layer norm -----------------------------------------------------------------------------

    static void layerNormForward(KernelPool pool, Operand x, Tensor gamma, Tensor beta, float eps, Operand y,
                                 Tensor mean, Tensor rstd) {
        requireSameShape(x, y, "layerNormForward");
        int c = x.cols();
        Operand g = Operand.of(gamma.reshape(1, gamma.numel()), "layernorm gamma");
        Operand bt = beta == null ? null : Operand.of(beta.reshape(1, beta.numel()), "layernorm beta");
        if (g.cols() != c || (bt != null && bt.cols() != c)) {
            throw new IllegalArgumentException("layerNormForward: gamma/beta must have " + c + " elements, got "
                    + gamma.describe() + (beta == null ? "" : ", " + beta.describe()));
        }
        pool.forRange(x.rows(), 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                long xr = row(x, i), yr = row(y, i);
                float mu = sum(x.seg(), xr, c) / c;
                FloatVector acc = FloatVector.zero(S);
                int j = 0;
                for (; j + L <= c; j += L) {
                    FloatVector d = FloatVector.fromMemorySegment(S, x.seg(), (xr + j) * 4, LE).sub(mu);
                    acc = d.fma(d, acc);
                }
                float var = Lanes.sum(acc);
                for (; j < c; j++) {
                    float d = get(x.seg(), xr + j) - mu;
                    var += d * d;
                }
                float rs = (float) (1 / Math.sqrt(var / c + eps));
                if (mean != null) mean.set(i, mu);
                if (rstd != null) rstd.set(i, rs);
                j = 0;
                for (; j + L <= c; j += L) {
                    FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (xr + j) * 4, LE).sub(mu).mul(rs).mul(FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + j) * 4, LE));
                    if (bt != null) v = v.add(FloatVector.fromMemorySegment(S, bt.seg(), (bt.offset() + j) * 4, LE));
                    v.intoMemorySegment(y.seg(), (yr + j) * 4, LE);
                }
                for (; j < c; j++) {
                    float v = (get(x.seg(), xr + j) - mu) * rs * get(g.seg(), g.offset() + j);
                    if (bt != null) v += get(bt.seg(), bt.offset() + j);
                    set(y.seg(), yr + j, v);
                }
            }
        });
    }

    static void layerNormBackward(KernelPool pool, Operand dy, Operand x, Tensor gamma, Tensor mean, Tensor rstd,
                                  Operand dx, Tensor dgamma, Tensor dbeta) {
        requireSameShape(dy, x, "layerNormBackward");
        int m = x.rows(), c = x.cols();
        Operand g = Operand.of(gamma.reshape(1, gamma.numel()), "layernorm gamma");
        if (dx != null) {
            requireSameShape(dy, dx, "layerNormBackward");
            pool.forRange(m, 1, (r0, r1) -> {
                for (int i = r0; i < r1; i++) {
                    long a = row(dy, i), b = row(x, i), o = row(dx, i);
                    float mu = mean.get(i), rs = rstd.get(i);
                    // dxhat = dy·gamma; dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
                    FloatVector s1 = FloatVector.zero(S), s2 = s1;
                    int j = 0;
                    for (; j + L <= c; j += L) {
                        FloatVector dxh = FloatVector.fromMemorySegment(S, dy.seg(), (a + j) * 4, LE).mul(FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + j) * 4, LE));
                        FloatVector xh = FloatVector.fromMemorySegment(S, x.seg(), (b + j) * 4, LE).sub(mu).mul(rs);
                        s1 = s1.add(dxh);
                        s2 = dxh.fma(xh, s2);
                    }
                    float sum1 = Lanes.sum(s1), sum2 = Lanes.sum(s2);
                    for (; j < c; j++) {
                        float dxh = get(dy.seg(), a + j) * get(g.seg(), g.offset() + j);
                        sum1 += dxh;
                        sum2 += dxh * (get(x.seg(), b + j) - mu) * rs;
                    }
                    float m1 = sum1 / c, m2 = sum2 / c;
                    j = 0;
                    for (; j + L <= c; j += L) {
                        FloatVector dxh = FloatVector.fromMemorySegment(S, dy.seg(), (a + j) * 4, LE).mul(FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + j) * 4, LE));
                        FloatVector xh = FloatVector.fromMemorySegment(S, x.seg(), (b + j) * 4, LE).sub(mu).mul(rs);
                        FloatVector v = dxh.sub(m1).sub(xh.mul(m2)).mul(rs);
                        FloatVector.fromMemorySegment(S, dx.seg(), (o + j) * 4, LE).add(v).intoMemorySegment(dx.seg(), (o + j) * 4, LE);
                    }
                    for (; j < c; j++) {
                        float dxh = get(dy.seg(), a + j) * get(g.seg(), g.offset() + j);
                        float xh = (get(x.seg(), b + j) - mu) * rs;
                        set(dx.seg(), o + j, get(dx.seg(), o + j) + (dxh - m1 - xh * m2) * rs);
                    }
                }
            });
        }
        if (dgamma == null && dbeta == null) return;
        Operand dg = dgamma == null ? null : Operand.of(dgamma.reshape(1, dgamma.numel()), "layernorm dgamma");
        Operand db = dbeta == null ? null : Operand.of(dbeta.reshape(1, dbeta.numel()), "layernorm dbeta");
        float[] mus = new float[m], rss = new float[m];
        for (int i = 0; i < m; i++) {
            mus[i] = mean.get(i);
            rss[i] = rstd.get(i);
        }
        pool.forRange(c, 4 * L, (c0, c1) -> {
            int j = c0;
            for (; j + L <= c1; j += L) {
                FloatVector ag = dg == null ? null : FloatVector.fromMemorySegment(S, dg.seg(), (dg.offset() + j) * 4, LE);
                FloatVector ab = db == null ? null : FloatVector.fromMemorySegment(S, db.seg(), (db.offset() + j) * 4, LE);
                for (int i = 0; i < m; i++) {
                    FloatVector d = FloatVector.fromMemorySegment(S, dy.seg(), (row(dy, i) + j) * 4, LE);
                    if (ag != null) ag = FloatVector.fromMemorySegment(S, x.seg(), (row(x, i) + j) * 4, LE).sub(mus[i]).mul(rss[i]).fma(d, ag);
                    if (ab != null) ab = ab.add(d);
                }
                if (ag != null) ag.intoMemorySegment(dg.seg(), (dg.offset() + j) * 4, LE);
                if (ab != null) ab.intoMemorySegment(db.seg(), (db.offset() + j) * 4, LE);
            }
            for (; j < c1; j++) {
                float ag = 0, ab = 0;
                for (int i = 0; i < m; i++) {
                    float d = get(dy.seg(), row(dy, i) + j);
                    ag += (get(x.seg(), row(x, i) + j) - mus[i]) * rss[i] * d;
                    ab += d;
                }
                if (dg != null) set(dg.seg(), dg.offset() + j, get(dg.seg(), dg.offset() + j) + ag);
                if (db != null) set(db.seg(), db.offset() + j, get(db.seg(), db.offset() + j) + ab);
            }
        });
    }

    // ---- RMS norm -------------------------------------------------------------------------------

    static void rmsNormForward(KernelPool pool, Operand x, Tensor gamma, float eps, Operand y, Tensor rstd) {
        requireSameShape(x, y, "rmsNormForward");
        int c = x.cols();
        Operand g = Operand.of(gamma.reshape(1, gamma.numel()), "rmsnorm gamma");
        if (g.cols() != c) {
            throw new IllegalArgumentException("rmsNormForward: gamma must have " + c + " elements, got " + gamma.describe());
        }
        pool.forRange(x.rows(), 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                long xr = row(x, i), yr = row(y, i);
                float rs = (float) (1 / Math.sqrt(dot(x.seg(), xr, x.seg(), xr, c) / c + eps));
                if (rstd != null) rstd.set(i, rs);
                int j = 0;
                for (; j + L <= c; j += L) FloatVector.fromMemorySegment(S, x.seg(), (xr + j) * 4, LE).mul(rs).mul(FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + j) * 4, LE)).intoMemorySegment(y.seg(), (yr + j) * 4, LE);
                for (; j < c; j++) set(y.seg(), yr + j, get(x.seg(), xr + j) * rs * get(g.seg(), g.offset() + j));
            }
        });
    }

    static void rmsNormBackward(KernelPool pool, Operand dy, Operand x, Tensor gamma, Tensor rstd, Operand dx,
                                Tensor dgamma) {
        requireSameShape(dy, x, "rmsNormBackward");
        int m = x.rows(), c = x.cols();
        Operand g = Operand.of(gamma.reshape(1, gamma.numel()), "rmsnorm gamma");
        if (dx != null) {
            requireSameShape(dy, dx, "rmsNormBackward");
            pool.forRange(m, 1, (r0, r1) -> {
                for (int i = r0; i < r1; i++) {
                    long a = row(dy, i), b = row(x, i), o = row(dx, i);
                    float rs = rstd.get(i);
                    // dx = r · (dy·γ − x̂ · mean(dy·γ·x̂)), x̂ = x·r
                    FloatVector acc = FloatVector.zero(S);
                    int j = 0;
                    for (; j + L <= c; j += L) {
                        acc = FloatVector.fromMemorySegment(S, dy.seg(), (a + j) * 4, LE).mul(FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + j) * 4, LE)).fma(FloatVector.fromMemorySegment(S, x.seg(), (b + j) * 4, LE), acc);
                    }
                    float sum = Lanes.sum(acc);
                    for (; j < c; j++) sum += get(dy.seg(), a + j) * get(g.seg(), g.offset() + j) * get(x.seg(), b + j);
                    float k = sum * rs / c; // mean(dy·γ·x̂)
                    float kr = k * rs;
                    j = 0;
                    for (; j + L <= c; j += L) {
                        FloatVector v = FloatVector.fromMemorySegment(S, dy.seg(), (a + j) * 4, LE).mul(FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + j) * 4, LE)).sub(FloatVector.fromMemorySegment(S, x.seg(), (b + j) * 4, LE).mul(kr)).mul(rs);
                        FloatVector.fromMemorySegment(S, dx.seg(), (o + j) * 4, LE).add(v).intoMemorySegment(dx.seg(), (o + j) * 4, LE);
                    }
                    for (; j < c; j++) {
                        float v = (get(dy.seg(), a + j) * get(g.seg(), g.offset() + j) - get(x.seg(), b + j) * kr) * rs;
                        set(dx.seg(), o + j, get(dx.seg(), o + j) + v);
                    }
                }
            });
        }
        if (dgamma == null) return;
        Operand dg = Operand.of(dgamma.reshape(1, dgamma.numel()), "rmsnorm dgamma");
        float[] rss = new float[m];
        for (int i = 0; i < m; i++) rss[i] = rstd.get(i);
        pool.forRange(c, 4 * L, (c0, c1) -> {
            int j = c0;
            for (; j + L <= c1; j += L) {
                FloatVector ag = FloatVector.fromMemorySegment(S, dg.seg(), (dg.offset() + j) * 4, LE);
                for (int i = 0; i < m; i++) ag = FloatVector.fromMemorySegment(S, x.seg(), (row(x, i) + j) * 4, LE).mul(rss[i]).fma(FloatVector.fromMemorySegment(S, dy.seg(), (row(dy, i) + j) * 4, LE), ag);
                ag.intoMemorySegment(dg.seg(), (dg.offset() + j) * 4, LE);
            }
            for (; j < c1; j++) {
                float ag = 0;
                for (int i = 0; i < m; i++) ag += get(x.seg(), row(x, i) + j) * rss[i] * get(dy.seg(), row(dy, i) + j);
                set(dg.seg(), dg.offset() + j, get(dg.seg(), dg.offset() + j) + ag);
            }
        });
    }

    // ---- SiLU and SwiGLU ------------------------------------------------------------------------

    /** y = silu(x) (up == null) or silu(x)·up. */
    static void siluForward(KernelPool pool, Operand x, Operand up, Operand y) {
        requireSameShape(x, y, "siluForward");
        if (up != null) requireSameShape(x, up, "swigluForward");
        pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (x.offset() + i) * 4, LE);
                FloatVector r = v.mul(FloatMath.sigmoid(v));
                if (up != null) r = r.mul(FloatVector.fromMemorySegment(S, up.seg(), (up.offset() + i) * 4, LE));
                r.intoMemorySegment(y.seg(), (y.offset() + i) * 4, LE);
            }
            for (; i < e; i++) {
                float v = get(x.seg(), x.offset() + i);
                float r = v * FloatMath.sigmoid(v);
                if (up != null) r *= get(up.seg(), up.offset() + i);
                set(y.seg(), y.offset() + i, r);
            }
        });
    }

    /**
     * dx += dy · silu'(x) · (up or 1); with up, also dup += dy · silu(x). dx or dup may be null.
     */
    static void siluBackward(KernelPool pool, Operand dy, Operand x, Operand up, Operand dx, Operand dup) {
        requireSameShape(dy, x, "siluBackward");
        if (dx != null) requireSameShape(dy, dx, "siluBackward");
        if (dup != null) requireSameShape(dy, dup, "swigluBackward");
        pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (x.offset() + i) * 4, LE), d = FloatVector.fromMemorySegment(S, dy.seg(), (dy.offset() + i) * 4, LE);
                FloatVector sg = FloatMath.sigmoid(v);
                if (dx != null) {
                    // silu'(x) = s·(1 + x·(1 − s))
                    FloatVector grad = sg.mul(v.mul(sg.neg().add(1f)).add(1f));
                    FloatVector dd = up == null ? d : d.mul(FloatVector.fromMemorySegment(S, up.seg(), (up.offset() + i) * 4, LE));
                    dd.fma(grad, FloatVector.fromMemorySegment(S, dx.seg(), (dx.offset() + i) * 4, LE)).intoMemorySegment(dx.seg(), (dx.offset() + i) * 4, LE);
                }
                if (dup != null) d.fma(v.mul(sg), FloatVector.fromMemorySegment(S, dup.seg(), (dup.offset() + i) * 4, LE)).intoMemorySegment(dup.seg(), (dup.offset() + i) * 4, LE);
            }
            for (; i < e; i++) {
                float v = get(x.seg(), x.offset() + i), d = get(dy.seg(), dy.offset() + i), sg = FloatMath.sigmoid(v);
                if (dx != null) {
                    float dd = up == null ? d : d * get(up.seg(), up.offset() + i);
                    set(dx.seg(), dx.offset() + i, get(dx.seg(), dx.offset() + i) + dd * sg * (1 + v * (1 - sg)));
                }
                if (dup != null) set(dup.seg(), dup.offset() + i, get(dup.seg(), dup.offset() + i) + d * v * sg);
            }
        });
    }

    // ---- GELU -----------------------------------------------------------------------------------

    // One loop method per GELU variant and direction: a single lambda holding both variants (three
    // inlined exps, tanh, erf) was large enough that its compiled form fell back to boxed vectors
    // (JFR: 32 % of a LoRA step's allocation in the GELU-backward lambda's erf/exp lines).

    static void geluForward(KernelPool pool, Operand x, boolean tanhApprox, Operand y) {
        requireSameShape(x, y, "geluForward");
        if (tanhApprox) pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> geluTanhForward(x, y, s, e));
        else pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> geluErfForward(x, y, s, e));
    }

    /** Elements per exact-GELU chunk: its erf arguments and exponentials stay in L1. */
    private static final int GELU_CHUNK = 256;
    /** Three chunks per thread: x/√2 (then erf), erf's e^(−x²/2), and φ's e^(−x²/2). */
    private static final ThreadLocal<float[]> GELU_SCRATCH = ThreadLocal.withInitial(() -> new float[3 * GELU_CHUNK]);

    /** buf[0, vectors) = x·(1/√2) at x[at..]; returns how many elements the vector loop covered. */
    private static int scaledChunk(MemorySegment xs, long at, int n, float[] buf) {
        int i = 0;
        for (; i + L <= n; i += L) FloatVector.fromMemorySegment(S, xs, (at + i) * 4, LE).mul(INV_SQRT_2).intoArray(buf, i);
        return i;
    }

    private static void geluErfForward(Operand x, Operand y, int s, int e) {
        long xo = x.offset(), yo = y.offset();
        float[] buf = GELU_SCRATCH.get();
        for (int c = s; c < e; c += GELU_CHUNK) {
            int n = Math.min(GELU_CHUNK, e - c);
            int vec = scaledChunk(x.seg(), xo + c, n, buf);
            erfInPlace(buf, vec, buf, GELU_CHUNK);
            for (int i = 0; i < vec; i += L) {
                long at = (xo + c + i) * 4;
                FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), at, LE);
                v.mul(FloatVector.fromArray(S, buf, i).add(1f).mul(0.5f)).intoMemorySegment(y.seg(), (yo + c + i) * 4, LE);
            }
            for (int i = vec; i < n; i++) {
                float v = get(x.seg(), xo + c + i);
                set(y.seg(), yo + c + i, v * (0.5f * (1 + erf(v * INV_SQRT_2))));
            }
        }
    }

    private static void geluTanhForward(Operand x, Operand y, int s, int e) {
        long xo = x.offset(), yo = y.offset();
        int i = s;
        for (; i + L <= e; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (xo + i) * 4, LE);
            FloatVector cdf = FloatMath.tanh(v.mul(v).fma(0.044715f * SQRT_2_OVER_PI, SQRT_2_OVER_PI).mul(v)).add(1f).mul(0.5f);
            v.mul(cdf).intoMemorySegment(y.seg(), (yo + i) * 4, LE);
        }
        for (; i < e; i++) {
            float v = get(x.seg(), xo + i);
            set(y.seg(), yo + i, v * (0.5f * (1 + FloatMath.tanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)))));
        }
    }

    static void geluBackward(KernelPool pool, Operand dy, Operand x, boolean tanhApprox, Operand dx) {
        requireSameShape(x, dy, "geluBackward");
        requireSameShape(x, dx, "geluBackward");
        if (tanhApprox) pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> geluTanhBackward(dy, x, dx, s, e));
        else pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> geluErfBackward(dy, x, dx, s, e));
    }

    /** dx += dy · (Φ(x) + x·φ(x)). */
    private static void geluErfBackward(Operand dy, Operand x, Operand dx, int s, int e) {
        long dyo = dy.offset(), xo = x.offset(), dxo = dx.offset();
        float[] buf = GELU_SCRATCH.get();
        int pdfAt = 2 * GELU_CHUNK;
        for (int c = s; c < e; c += GELU_CHUNK) {
            int n = Math.min(GELU_CHUNK, e - c);
            int vec = scaledChunk(x.seg(), xo + c, n, buf);
            erfInPlace(buf, vec, buf, GELU_CHUNK);
            for (int i = 0; i < vec; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (xo + c + i) * 4, LE);
                v.mul(v).mul(-0.5f).intoArray(buf, pdfAt + i);
            }
            FloatMath.expInPlace(buf, pdfAt, pdfAt + vec, 0f);
            for (int i = 0; i < vec; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (xo + c + i) * 4, LE);
                FloatVector cdf = FloatVector.fromArray(S, buf, i).add(1f).mul(0.5f);
                FloatVector pdf = FloatVector.fromArray(S, buf, pdfAt + i).mul(INV_SQRT_2PI);
                FloatVector grad = v.fma(pdf, cdf);
                long at = (dxo + c + i) * 4;
                FloatVector.fromMemorySegment(S, dy.seg(), (dyo + c + i) * 4, LE).fma(grad, FloatVector.fromMemorySegment(S, dx.seg(), at, LE)).intoMemorySegment(dx.seg(), at, LE);
            }
            for (int i = vec; i < n; i++) {
                float v = get(x.seg(), xo + c + i);
                float grad = 0.5f * (1 + erf(v * INV_SQRT_2)) + v * FloatMath.exp(-0.5f * v * v) * INV_SQRT_2PI;
                set(dx.seg(), dxo + c + i, get(dx.seg(), dxo + c + i) + get(dy.seg(), dyo + c + i) * grad);
            }
        }
    }

    /** dx += dy · (0.5(1+t) + 0.5x(1−t²)·inner'), t = tanh(inner). */
    private static void geluTanhBackward(Operand dy, Operand x, Operand dx, int s, int e) {
        long dyo = dy.offset(), xo = x.offset(), dxo = dx.offset();
        int i = s;
        for (; i + L <= e; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (xo + i) * 4, LE);
            FloatVector v2 = v.mul(v);
            FloatVector t = FloatMath.tanh(v2.fma(0.044715f * SQRT_2_OVER_PI, SQRT_2_OVER_PI).mul(v));
            FloatVector dinner = v2.fma(3 * 0.044715f * SQRT_2_OVER_PI, SQRT_2_OVER_PI);
            FloatVector grad = t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul(dinner));
            FloatVector.fromMemorySegment(S, dy.seg(), (dyo + i) * 4, LE).fma(grad, FloatVector.fromMemorySegment(S, dx.seg(), (dxo + i) * 4, LE)).intoMemorySegment(dx.seg(), (dxo + i) * 4, LE);
        }
        for (; i < e; i++) {
            float v = get(x.seg(), xo + i);
            float t = FloatMath.tanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v));
            float grad = 0.5f * (1 + t) + 0.5f * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715f * v * v);
            set(dx.seg(), dxo + i, get(dx.seg(), dxo + i) + get(dy.seg(), dyo + i) * grad);
        }
    }

    // erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), same formula in both forms.
    private static final float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f,
            A4 = -1.453152027f, A5 = 1.061405429f;

    /**
     * a[0, n) = erf(a[0, n)) for n a multiple of the vector length, tmp[tOff, tOff + n) as scratch
     * for e^(−x²): the exponentials come from {@link FloatMath#expInPlace}, so no vector crosses a
     * call. (Abramowitz & Stegun as {@link #erf(float)}, with fused multiply-adds.)
     */
    static void erfInPlace(float[] a, int n, float[] tmp, int tOff) {
        for (int i = 0; i < n; i += L) {
            FloatVector ax = FloatVector.fromArray(S, a, i).abs();
            ax.mul(ax).neg().intoArray(tmp, tOff + i);
        }
        FloatMath.expInPlace(tmp, tOff, tOff + n, 0f);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(S, a, i), ax = x.abs();
            FloatVector t = FloatVector.broadcast(S, 1f).div(ax.fma(P, 1f));
            FloatVector poly = t.fma(A5, A4).fma(t, FloatVector.broadcast(S, A3)).fma(t, FloatVector.broadcast(S, A2))
                    .fma(t, FloatVector.broadcast(S, A1)).mul(t);
            FloatVector y = poly.mul(FloatVector.fromArray(S, tmp, tOff + i)).neg().add(1f);
            y.blend(y.neg(), x.compare(VectorOperators.LT, 0f)).intoArray(a, i);
        }
    }

    static float erf(float x) {
        float ax = Math.abs(x);
        float t = 1f / (1f + P * ax);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        return Math.copySign(1f - poly * FloatMath.exp(-ax * ax), x);
    }

    // ---- Cross-entropy --------------------------------------------------------------------------

    static double crossEntropyForward(KernelPool pool, Operand logits, int[] targets, int ignoreIndex, Tensor losses) {
        int m = logits.rows(), v = logits.cols();
        checkTargets(targets, m, v, ignoreIndex);
        double[] rowLoss = new double[m];
        pool.forRange(m, 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                if (targets[i] == ignoreIndex) continue;
                long r = row(logits, i);
                float max = rowMax(logits.seg(), r, v);
                double lse = StrictMath.log(sumExp(logits.seg(), r, v, max)) + max;
                rowLoss[i] = lse - get(logits.seg(), r + targets[i]);
            }
        });
        double total = 0;
        int counted = 0;
        for (int i = 0; i < m; i++) {
            if (losses != null) losses.set(i, (float) rowLoss[i]);
            if (targets[i] != ignoreIndex) {
                total += rowLoss[i];
                counted++;
            }
        }
        return counted == 0 ? 0 : total / counted;
    }

    private static float sumExp(MemorySegment s, long r, int n, float max) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (; j + L <= n; j += L) acc = acc.add(FloatMath.exp(FloatVector.fromMemorySegment(S, s, (r + j) * 4, LE).sub(max)));
        float sum = Lanes.sum(acc);
        for (; j < n; j++) sum += FloatMath.exp(get(s, r + j) - max);
        return sum;
    }

    static void crossEntropyBackward(KernelPool pool, Operand logits, int[] targets, int ignoreIndex, float scale,
                                     Operand dlogits) {
        requireSameShape(logits, dlogits, "crossEntropyBackward");
        int m = logits.rows(), v = logits.cols();
        checkTargets(targets, m, v, ignoreIndex);
        pool.forRange(m, 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                if (targets[i] == ignoreIndex) continue;
                long r = row(logits, i), d = row(dlogits, i);
                float max = rowMax(logits.seg(), r, v);
                float k = scale / sumExp(logits.seg(), r, v, max);
                FloatVector kv = FloatVector.broadcast(S, k);
                int j = 0;
                for (; j + L <= v; j += L) {
                    FloatVector p = FloatMath.exp(FloatVector.fromMemorySegment(S, logits.seg(), (r + j) * 4, LE).sub(max));
                    p.fma(kv, FloatVector.fromMemorySegment(S, dlogits.seg(), (d + j) * 4, LE)).intoMemorySegment(dlogits.seg(), (d + j) * 4, LE);
                }
                for (; j < v; j++) {
                    set(dlogits.seg(), d + j, get(dlogits.seg(), d + j) + FloatMath.exp(get(logits.seg(), r + j) - max) * k);
                }
                long t = d + targets[i];
                set(dlogits.seg(), t, get(dlogits.seg(), t) - scale);
            }
        });
    }

    /** {@link Kernels#chunkedCrossEntropyForward} over rows in parallel: the reference's steps in float, vector exp. */
    static void chunkedCrossEntropyForward(KernelPool pool, Operand logits, int[] targets, long vocabOffset, boolean first,
                                           Operand state) {
        int m = logits.rows(), v = logits.cols();
        pool.forRange(m, 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                long r = row(logits, i), st = row(state, i);
                float old = first ? Float.NEGATIVE_INFINITY : get(state.seg(), st);
                float max = Math.max(old, rowMax(logits.seg(), r, v));
                float sum = first ? 0f : get(state.seg(), st + 1) * FloatMath.exp(old - max);
                sum += sumExp(logits.seg(), r, v, max);
                set(state.seg(), st, max);
                set(state.seg(), st + 1, sum);
                long t = targets[i] - vocabOffset;
                if (t >= 0 && t < v) set(state.seg(), st + 2, get(logits.seg(), r + t));
                else if (first) set(state.seg(), st + 2, 0f);
            }
        });
    }

    /** {@link Kernels#chunkedCrossEntropyBackward} in place over rows in parallel, vector exp. */
    static void chunkedCrossEntropyBackward(KernelPool pool, Operand logits, int[] targets, long vocabOffset,
                                            int ignoreIndex, Tensor lse, float scale) {
        int m = logits.rows(), v = logits.cols();
        pool.forRange(m, 1, (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                long r = row(logits, i);
                MemorySegment g = logits.seg();
                if (targets[i] == ignoreIndex) {
                    g.asSlice(r * 4, 4L * v).fill((byte) 0);
                    continue;
                }
                expShiftInto(g, r, g, r, v, lse.get(i));
                scaleRange(g, r, v, scale);
                long t = targets[i] - vocabOffset;
                if (t >= 0 && t < v) set(g, r + t, get(g, r + t) - scale);
            }
        });
    }

    private static void checkTargets(int[] targets, int m, int v, int ignoreIndex) {
        if (targets.length != m) {
            throw new IllegalArgumentException("cross-entropy: " + targets.length + " targets for " + m + " rows of logits");
        }
        for (int i = 0; i < m; i++) {
            if (targets[i] != ignoreIndex && (targets[i] < 0 || targets[i] >= v)) {
                throw new IllegalArgumentException("cross-entropy: target " + targets[i] + " at row " + i
                        + " is outside [0, " + v + ") and is not the ignore index " + ignoreIndex);
            }
        }
    }

    // ---- Flat elementwise -----------------------------------------------------------------------

    static void add(KernelPool pool, Operand a, Operand b, Operand out) {
        requireSameShape(a, b, "add");
        requireSameShape(a, out, "add");
        pool.forRange(a.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) FloatVector.fromMemorySegment(S, a.seg(), (a.offset() + i) * 4, LE).add(FloatVector.fromMemorySegment(S, b.seg(), (b.offset() + i) * 4, LE)).intoMemorySegment(out.seg(), (out.offset() + i) * 4, LE);
            for (; i < e; i++) set(out.seg(), out.offset() + i, get(a.seg(), a.offset() + i) + get(b.seg(), b.offset() + i));
        });
    }

    static void accumulate(KernelPool pool, Operand src, float scale, Operand dst) {
        requireSameShape(src, dst, "accumulate");
        FloatVector sv = FloatVector.broadcast(S, scale);
        pool.forRange(src.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) {
                FloatVector.fromMemorySegment(S, src.seg(), (src.offset() + i) * 4, LE).fma(sv, FloatVector.fromMemorySegment(S, dst.seg(), (dst.offset() + i) * 4, LE)).intoMemorySegment(dst.seg(), (dst.offset() + i) * 4, LE);
            }
            for (; i < e; i++) {
                set(dst.seg(), dst.offset() + i, get(dst.seg(), dst.offset() + i) + scale * get(src.seg(), src.offset() + i));
            }
        });
    }

    static void scale(KernelPool pool, Operand dst, float scale) {
        pool.forRange(dst.cols(), FLAT_GRAIN, (s, e) -> scaleRange(dst.seg(), dst.offset() + s, e - s, scale));
    }

    static void adamw(KernelPool pool, Operand p, Operand g, Operand m, Operand v, float lr, float beta1, float beta2,
                      float eps, float weightDecay, long step) {
        requireSameShape(p, g, "adamwStep");
        requireSameShape(p, m, "adamwStep");
        requireSameShape(p, v, "adamwStep");
        if (step < 1) throw new IllegalArgumentException("adamwStep: step counts from 1, got " + step);
        float bc1 = (float) (1 - StrictMath.pow(beta1, step)), bc2 = (float) (1 - StrictMath.pow(beta2, step));
        float decay = 1 - lr * weightDecay, stepSize = lr / bc1, invSqrtBc2 = (float) (1 / Math.sqrt(bc2));
        float b1c = 1 - beta1, b2c = 1 - beta2;
        pool.forRange(p.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) {
                FloatVector gv = FloatVector.fromMemorySegment(S, g.seg(), (g.offset() + i) * 4, LE);
                FloatVector mv = FloatVector.fromMemorySegment(S, m.seg(), (m.offset() + i) * 4, LE).mul(beta1).add(gv.mul(b1c));
                FloatVector vv = FloatVector.fromMemorySegment(S, v.seg(), (v.offset() + i) * 4, LE).mul(beta2).add(gv.mul(gv).mul(b2c));
                FloatVector denom = vv.lanewise(VectorOperators.SQRT).mul(invSqrtBc2).add(eps);
                FloatVector pv = FloatVector.fromMemorySegment(S, p.seg(), (p.offset() + i) * 4, LE).mul(decay).sub(mv.mul(stepSize).div(denom));
                mv.intoMemorySegment(m.seg(), (m.offset() + i) * 4, LE);
                vv.intoMemorySegment(v.seg(), (v.offset() + i) * 4, LE);
                pv.intoMemorySegment(p.seg(), (p.offset() + i) * 4, LE);
            }
            for (; i < e; i++) {
                float gi = get(g.seg(), g.offset() + i);
                float mi = beta1 * get(m.seg(), m.offset() + i) + b1c * gi;
                float vi = beta2 * get(v.seg(), v.offset() + i) + b2c * gi * gi;
                float pi = get(p.seg(), p.offset() + i) * decay - stepSize * mi / ((float) Math.sqrt(vi) * invSqrtBc2 + eps);
                set(m.seg(), m.offset() + i, mi);
                set(v.seg(), v.offset() + i, vi);
                set(p.seg(), p.offset() + i, pi);
            }
        });
    }

    /** Σ x² in fixed chunks (float lanes within a chunk, double across chunks): thread-count invariant. */
    static double sumOfSquares(KernelPool pool, Operand x) {
        int n = x.cols();
        int chunks = (n + FLAT_GRAIN - 1) / FLAT_GRAIN;
        double[] partial = new double[chunks];
        pool.forRange(chunks, 1, (c0, c1) -> {
            for (int c = c0; c < c1; c++) {
                int s = c * FLAT_GRAIN, e = Math.min(n, s + FLAT_GRAIN), i = s;
                FloatVector acc = FloatVector.zero(S);
                for (; i + L <= e; i += L) {
                    FloatVector v = FloatVector.fromMemorySegment(S, x.seg(), (x.offset() + i) * 4, LE);
                    acc = v.fma(v, acc);
                }
                double sum = Lanes.sum(acc);
                for (; i < e; i++) {
                    double v = get(x.seg(), x.offset() + i);
                    sum += v * v;
                }
                partial[c] = sum;
            }
        });
        double total = 0;
        for (double d : partial) total += d;
        return total;
    }

    private static void requireSameShape(Operand a, Operand b, String op) {
        if (a.rows() != b.rows() || a.cols() != b.cols()) {
            throw new IllegalArgumentException(op + ": shapes differ, [" + a.rows() + ", " + a.cols() + "] vs ["
                    + b.rows() + ", " + b.cols() + "]");
        }
    }
}
