package dev.xgblora.device.opencl;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.LowRankMerge;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The {@link Kernels} contract on an OpenCL device (native/opencl/*.cl), correctness first.
 *
 * <p>What lives on the device: weights (linear weights, embedding tables, norm parameters) are
 * uploaded once in their own dtype (bf16 stays bf16, widened in the kernels) and kept resident,
 * keyed by their host memory; a content fingerprint re-uploads one whose host copy changed (a merge
 * or an optimizer step on the host). Heap F32 tensors (activations, gradients, adapters, AdamW
 * state, F32 weight working copies) are device-resident ({@link DeviceTensors}): a kernel's output
 * stays on the device until the host reads it (synced back lazily through
 * {@link dev.xgblora.tensor.HostAccess}), and a host write makes the device copy stale. Other
 * tensors (strided or offset views, native memory) round-trip per op through pooled buffers.
 * {@code -Dxgblora.opencl.resident=false} turns residency off (the per-op design, for comparison).
 *
 * <p>Dropout's mask comes from the host's SplittableRandom (the contract fixes that stream): the
 * host draws it and uploads it, the product runs on the device.
 */
public final class OpenClKernels implements Kernels, LowRankMerge, AutoCloseable {
    private static final int TS = 16, ROW_WG = 64;

    private final ClContext ctx;
    private final Kernels host = new ReferenceKernels();
    private final OpBuffers io;
    private final ClBuffer dummy;
    private final boolean resident;
    private final LaunchList launches; // null: every launch sets its arguments (no recorded step)
    private boolean closed;

    /** Residency as {@code xgblora.opencl.resident} says (default on). */
    public OpenClKernels(ClDevice device) {
        this(device, !"false".equals(System.getProperty("xgblora.opencl.resident")),
                !"false".equals(System.getProperty("xgblora.opencl.graph")));
    }

    public OpenClKernels(ClDevice device, boolean resident) {
        this(device, resident, true);
    }

    /**
     * @param resident keep heap F32 tensors on the device between kernels (false: upload/readback per op). */
    public OpenClKernels(ClDevice device, boolean resident, boolean recordSteps) {
        this.ctx = ClContext.forDevice(device);
        ctx.kernel("gemm"); // builds the program now, so a build failure surfaces at selection time
        this.resident = resident;
        this.launches = recordSteps ? new LaunchList(ctx) : null;
        this.io = new OpBuffers(ctx, resident);
        this.dummy = io.dummy();
    }

    /** Host↔device traffic of this device's context so far (shared by every backend on the device). */
    public record Transfers(long hostToDevice, long deviceToHost) {
        public long total() {
            return hostToDevice + deviceToHost;
        }

        public Transfers minus(Transfers earlier) {
            return new Transfers(hostToDevice - earlier.hostToDevice, deviceToHost - earlier.deviceToHost);
        }
    }

    public Transfers transfers() {
        return new Transfers(ctx.hostToDeviceBytes(), ctx.deviceToHostBytes());
    }

    @Override
    public long[] bytesMoved() {
        return new long[]{ctx.hostToDeviceBytes(), ctx.deviceToHostBytes()};
    }

    /** A training step begins: the launch list replays from its start (see {@link LaunchList}). */
    @Override
    public synchronized void stepStarts() {
        if (launches != null) launches.stepStarts();
    }

    /** What the recorded launch list did: launches recorded, replayed, arguments set again, re-records, steps. */
    public synchronized LaunchList.Counts launchCounts() {
        return launches == null ? LaunchList.Counts.NONE : launches.counts();
    }

    private void launch(String kernel, long[] global, long[] local, Object... args) {
        if (launches != null) launches.launch(kernel, global, local, args);
        else ctx.launch(ctx.kernel(kernel), global, local, args);
    }

    public boolean resident() {
        return resident;
    }

    /** Bytes of device buffers mirroring host tensors (activations, grads, adapters, optimizer state). */
    public synchronized long mirroredBytes() {
        return io.mirroredBytes();
    }

    /**
     * The backend for a {@code --device} / {@code xgblora.kernels} value: "opencl" (device 0) or
     * "opencl:N" (N counted over all platforms, as {@code xgblora info} lists them).
     */
    public static OpenClKernels open(String spec) {
        return new OpenClKernels(ClContext.device(deviceIndex(spec)));
    }

    static int deviceIndex(String spec) {
        String s = spec.trim();
        if (s.equals("opencl")) return 0;
        if (s.startsWith("opencl:")) {
            try {
                int n = Integer.parseInt(s.substring(7));
                if (n >= 0) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("device '" + spec + "' is not opencl or opencl:N (N = a device number from xgblora info)");
    }

    public ClDevice device() {
        return ctx.device();
    }

    @Override
    public String name() {
        return "opencl";
    }

    /** Bytes of weights held on the device. */
    public synchronized long residentBytes() {
        return io.residentBytes();
    }

    /** Host threads: one (the device does the parallel work). */
    @Override
    public int threads() {
        return 1;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (launches != null) launches.close();
        io.close();
    }

    // ---- Linear ---------------------------------------------------------------------------------

    @Override
    public synchronized void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        int m = rows(x), k = cols(x), n = rows(w);
        check(cols(w) == k, "linearForward: x " + x.describe() + " and w " + w.describe() + " differ in K");
        check(rows(y) == m && cols(y) == n, "linearForward: y " + y.describe() + ", expected [" + m + ", " + n + "]");
        check(b == null || b.numel() == n, "linearForward: bias " + (b == null ? "" : b.describe()) + " != N " + n);
        if (y.numel() == 0) return;
        try {
            OpBuffers.Dev dx = io.in(x), dw = io.weight(w);
            ClBuffer dy = io.out(y), db = b == null ? dummy : (b.dtype() == DType.F32 ? io.weight(b) : io.in(b.copy())).buf();
            gemm(m, n, k, dx, 0, k, 1, dw, 0, 1, k, dy, n, 1f, false, db, b != null);
            io.readBack(dy, y);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void linearBackwardInput(Tensor dy, Tensor w, Tensor dx) {
        if (dx == null) return;
        int m = rows(dy), n = cols(dy), k = cols(w);
        check(rows(w) == n && rows(dx) == m && cols(dx) == k,
                "linearBackwardInput: dy " + dy.describe() + ", w " + w.describe() + ", dx " + dx.describe());
        if (dx.numel() == 0) return;
        try {
            ClBuffer ddx = io.inOut(dx, "linearBackwardInput dx");
            gemm(m, k, n, io.in(dy), 0, n, 1, io.weight(w), 0, k, 1, ddx, k, 1f, true, dummy, false);
            io.readBack(ddx, dx);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void linearBackwardWeight(Tensor dy, Tensor x, Tensor dw) {
        if (dw == null) return;
        int m = rows(dy), n = cols(dy), k = cols(x);
        check(rows(x) == m && rows(dw) == n && cols(dw) == k,
                "linearBackwardWeight: dy " + dy.describe() + ", x " + x.describe() + ", dw " + dw.describe());
        if (dw.numel() == 0) return;
        try {
            ClBuffer ddw = io.inOut(dw, "linearBackwardWeight dw");
            gemm(n, k, m, io.in(dy), 0, 1, n, io.in(x), 0, k, 1, ddw, k, 1f, true, dummy, false);
            io.readBack(ddw, dw);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void linearBackwardBias(Tensor dy, Tensor db) {
        if (db == null) return;
        int m = rows(dy), n = cols(dy);
        check(db.numel() == n, "linearBackwardBias: db " + db.describe() + " vs dy " + dy.describe());
        if (db.numel() == 0) return;
        try {
            ClBuffer ddb = io.inOut(db, "linearBackwardBias db");
            launch("column_sums", new long[]{n}, null, m, n, io.in(dy).buf(), ddb);
            io.readBack(ddb, db);
        } finally {
            io.release();
        }
    }

    // ---- Rank-r adapter -------------------------------------------------------------------------

    @Override
    public synchronized void loraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y) {
        int m = rows(x), k = cols(x), r = rows(a), n = rows(b);
        check(cols(a) == k && cols(b) == r && rows(h) == m && cols(h) == r && rows(y) == m && cols(y) == n,
                "loraForward: x " + x.describe() + ", A " + a.describe() + ", B " + b.describe() + ", h " + h.describe()
                        + ", y " + y.describe());
        if (m == 0 || r == 0) return;
        try {
            ClBuffer dh = io.out(h), dy = io.inOut(y, "loraForward y");
            gemm(m, r, k, io.in(x), 0, k, 1, io.in(a), 0, 1, k, dh, r, 1f, false, dummy, false);
            gemm(m, n, r, new OpBuffers.Dev(dh, 0), 0, r, 1, io.in(b), 0, 1, r, dy, n, scale, true, dummy, false);
            io.readBack(dh, h);
            io.readBack(dy, y);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void loraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, float scale, Tensor h,
                                          Tensor dh, Tensor da, Tensor db, Tensor dx) {
        int m = rows(dy), n = cols(dy), k = cols(x), r = rows(a);
        if (dh == null) dh = Tensor.zeros(m, r); // tolerated like the reference: scratch on the fly
        check(rows(x) == m && cols(a) == k && rows(b) == n && cols(b) == r && rows(h) == m && cols(h) == r
                        && rows(dh) == m && cols(dh) == r,
                "loraBackward: dy " + dy.describe() + ", x " + x.describe() + ", A " + a.describe() + ", B " + b.describe()
                        + ", h " + h.describe() + ", dh " + dh.describe());
        if (m == 0 || r == 0) return;
        try {
            OpBuffers.Dev ddy = io.in(dy);
            ClBuffer ddh = io.out(dh);
            OpBuffers.Dev dhDev = new OpBuffers.Dev(ddh, 0);
            // dh = scale · dy · B
            gemm(m, r, n, ddy, 0, n, 1, io.in(b), 0, r, 1, ddh, r, scale, false, dummy, false);
            if (db != null) { // dB[N,r] += scale · dyᵀ · h
                ClBuffer d = io.inOut(db, "loraBackward dB");
                gemm(n, r, m, ddy, 0, 1, n, io.in(h), 0, r, 1, d, r, scale, true, dummy, false);
                io.readBack(d, db);
            }
            OpBuffers.Dev dxDev = da != null || dx != null ? io.in(x) : null;
            if (da != null) { // dA[r,K] += dhᵀ · x
                ClBuffer d = io.inOut(da, "loraBackward dA");
                gemm(r, k, m, dhDev, 0, 1, r, dxDev, 0, k, 1, d, k, 1f, true, dummy, false);
                io.readBack(d, da);
            }
            if (dx != null) { // dx[M,K] += dh · A
                ClBuffer d = io.inOut(dx, "loraBackward dx");
                gemm(m, k, r, dhDev, 0, r, 1, io.in(a), 0, k, 1, d, k, 1f, true, dummy, false);
                io.readBack(d, dx);
            }
            io.readBack(ddh, dh);
        } finally {
            io.release();
        }
    }

    /**
     * W[N,K] += scale · B[N,r] · A[r,K] on the device (the XGBLoRA merge), W F32. adapt.Merge calls
     * it when training runs here: a resident W is merged in place, only A and B travel.
     */
    @Override
    public synchronized void mergeInto(Tensor w, Tensor a, Tensor b, float scale) {
        int n = rows(w), k = cols(w), r = rows(a);
        check(cols(a) == k && rows(b) == n && cols(b) == r,
                "mergeInto: W " + w.describe() + ", A " + a.describe() + ", B " + b.describe());
        if (w.numel() == 0 || r == 0) return;
        try {
            ClBuffer dw = io.inOut(w, "mergeInto W");
            gemm(n, k, r, io.in(b), 0, r, 1, io.in(a), 0, k, 1, dw, k, scale, true, dummy, false);
            io.readBack(dw, w);
        } finally {
            io.release();
        }
    }

    // ---- Attention ------------------------------------------------------------------------------

    private record AttnDims(int b, int t, int s, int hq, int hkv, int d) {
    }

    private static AttnDims attnDims(String op, Tensor q, Tensor k, Tensor v) {
        for (Tensor x : new Tensor[]{q, k, v}) {
            check(x != null && x.rank() == 4, op + ": q, k, v must be [B, T, H, D], got " + (x == null ? "null" : x.describe()));
        }
        AttnDims n = new AttnDims((int) q.dim(0), (int) q.dim(1), (int) k.dim(1), (int) q.dim(2), (int) k.dim(2), (int) q.dim(3));
        check(k.dim(0) == n.b && k.dim(3) == n.d && java.util.Arrays.equals(k.shape(), v.shape()),
                op + ": k " + k.describe() + " / v " + v.describe() + " do not match q " + q.describe());
        check(n.hkv > 0 && n.hq % n.hkv == 0, op + ": query heads " + n.hq + " must be a multiple of kv heads " + n.hkv);
        return n;
    }

    /** Checks mask and lse ([B, Hq, T]) against the sizes; {@code lseNeeded} for backward. */
    private static void checkMaskAndLse(String op, AttnDims n, AttentionMask mask, Tensor lse, boolean lseNeeded) {
        check(mask != null, op + ": mask must not be null (AttentionMask.NONE for none)");
        mask.check(op, n.b, n.t, n.s);
        check(lse != null || !lseNeeded, op + ": lse must not be null");
        check(lse == null || (lse.rank() == 3 && lse.dim(0) == n.b && lse.dim(1) == n.hq && lse.dim(2) == n.t),
                op + ": lse " + (lse == null ? "" : lse.describe()) + " must be [" + n.b + ", " + n.hq + ", " + n.t + "]");
    }

    /** The mask's kernel arguments: keyValid, hasValid, causal, window, segments, hasSeg. */
    private Object[] maskArgs(AttentionMask mask) {
        ClBuffer valid = mask.keyValid() == null ? dummy : io.in(OpBuffers.f32(mask.keyValid())).buf();
        ClBuffer seg = mask.segments() == null ? dummy : io.ints(mask.segments());
        return new Object[]{valid, mask.keyValid() == null ? 0 : 1, mask.causal() ? 1 : 0, mask.window(),
                seg, mask.segments() == null ? 0 : 1};
    }

    private static Object[] concat(Object[]... parts) {
        return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray();
    }

    private ClBuffer f32In(Tensor t) {
        return io.in(OpBuffers.f32(t)).buf();
    }

    @Override
    public synchronized void attentionForward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                                              Tensor out, Tensor lse) {
        String op = "attentionForward";
        AttnDims n = attnDims(op, q, k, v);
        checkMaskAndLse(op, n, mask, lse, false);
        check(out != null && java.util.Arrays.equals(out.shape(), q.shape()),
                op + ": out " + (out == null ? "null" : out.describe()) + " must have the shape of q " + q.describe());
        if (q.numel() == 0) return;
        try {
            ClBuffer dout = io.out(out);
            ClBuffer dlse = lse == null ? io.scratch(4L * n.b * n.hq * n.t) : io.out(lse);
            Object[] args = concat(new Object[]{n.t, n.s, n.hq, n.hkv, n.d, f32In(q), f32In(k), f32In(v)},
                    maskArgs(mask), new Object[]{scale, dout, dlse});
            launch("attention_fwd", new long[]{n.t, n.hq, n.b}, null, args);
            io.readBack(dout, out);
            if (lse != null) io.readBack(dlse, lse);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                                               Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {
        String op = "attentionBackward";
        AttnDims n = attnDims(op, q, k, v);
        checkMaskAndLse(op, n, mask, lse, true);
        for (Tensor x : new Tensor[]{dout, out}) {
            check(x != null && java.util.Arrays.equals(x.shape(), q.shape()),
                    op + ": dout / out " + (x == null ? "null" : x.describe()) + " must have the shape of q " + q.describe());
        }
        check(dq == null || java.util.Arrays.equals(dq.shape(), q.shape()), op + ": dq " + (dq == null ? "" : dq.describe()) + " must match q");
        check(dk == null || java.util.Arrays.equals(dk.shape(), k.shape()), op + ": dk " + (dk == null ? "" : dk.describe()) + " must match k");
        check(dv == null || java.util.Arrays.equals(dv.shape(), v.shape()), op + ": dv " + (dv == null ? "" : dv.describe()) + " must match v");
        if ((dq == null && dk == null && dv == null) || q.numel() == 0) return;
        try {
            ClBuffer ddout = f32In(dout), qb = f32In(q), kb = f32In(k), vb = f32In(v), dlse = f32In(lse);
            Object[] m = maskArgs(mask);
            ClBuffer delta = io.scratch(4L * n.b * n.hq * n.t);
            ClBuffer ddq = dq == null ? dummy : io.inOut(dq, op + " dq");
            ClBuffer accQ = dq == null ? dummy : io.scratch(4L * q.numel());
            launch("attention_bwd_q", new long[]{n.t, n.hq, n.b}, null,
                    concat(new Object[]{n.t, n.s, n.hq, n.hkv, n.d, ddout, qb, kb, vb, f32In(out), dlse}, m,
                            new Object[]{scale, delta, accQ, ddq, dq == null ? 0 : 1}));
            if (dk != null || dv != null) {
                ClBuffer ddk = dk == null ? dummy : io.inOut(dk, op + " dk");
                ClBuffer ddv = dv == null ? dummy : io.inOut(dv, op + " dv");
                ClBuffer accK = io.scratch(4L * k.numel()), accV = io.scratch(4L * k.numel());
                launch("attention_bwd_kv", new long[]{n.s, n.hkv, n.b}, null,
                        concat(new Object[]{n.t, n.s, n.hq, n.hkv, n.d, ddout, qb, kb, vb, dlse, delta}, m,
                                new Object[]{scale, accK, accV, ddk, dk == null ? 0 : 1, ddv, dv == null ? 0 : 1}));
                if (dk != null) io.readBack(ddk, dk);
                if (dv != null) io.readBack(ddv, dv);
            }
            if (dq != null) io.readBack(ddq, dq);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void softmaxForward(Tensor x, Tensor out) {
        sameShape("softmaxForward", x, out);
        if (x.numel() == 0) return;
        try {
            ClBuffer o = io.out(out);
            rowLaunch("softmax_fwd", rows(x), cols(x), io.in(x).buf(), o);
            io.readBack(o, out);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        sameShape("softmaxBackward", y, dy);
        sameShape("softmaxBackward", y, dx);
        if (y.numel() == 0) return;
        try {
            ClBuffer d = io.inOut(dx, "softmaxBackward dx");
            rowLaunch("softmax_bwd", rows(y), cols(y), io.in(dy).buf(), io.in(y).buf(), d);
            io.readBack(d, dx);
        } finally {
            io.release();
        }
    }

    // ---- Norms ----------------------------------------------------------------------------------

    @Override
    public synchronized void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) {
        int m = rows(x), c = cols(x);
        check(gamma.numel() == c && beta.numel() == c && mean.numel() == m && rstd.numel() == m && y.numel() == x.numel(),
                "layerNormForward: x " + x.describe() + ", gamma " + gamma.describe() + ", beta " + beta.describe()
                        + ", y " + y.describe() + ", mean " + mean.describe() + ", rstd " + rstd.describe());
        if (x.numel() == 0) return;
        try {
            OpBuffers.Dev g = io.weight(gamma), b = io.weight(beta);
            ClBuffer dy = io.out(y), dm = io.out(mean), dr = io.out(rstd);
            rowLaunch("layernorm_fwd", m, c, eps, io.in(x).buf(), g.buf(), g.dt(), b.buf(), b.dt(), dy, dm, dr);
            io.readBack(dy, y);
            io.readBack(dm, mean);
            io.readBack(dr, rstd);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                               Tensor dx, Tensor dgamma, Tensor dbeta) {
        normBackward("layerNormBackward", dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
    }

    @Override
    public synchronized void rmsNormForward(Tensor x, Tensor gamma, float eps, Tensor y, Tensor rstd) {
        int m = rows(x), c = cols(x);
        check(gamma.numel() == c && rstd.numel() == m && y.numel() == x.numel(),
                "rmsNormForward: x " + x.describe() + ", gamma " + gamma.describe() + ", y " + y.describe() + ", rstd " + rstd.describe());
        if (x.numel() == 0) return;
        try {
            OpBuffers.Dev g = io.weight(gamma);
            ClBuffer dy = io.out(y), dr = io.out(rstd);
            rowLaunch("rmsnorm_fwd", m, c, eps, io.in(x).buf(), g.buf(), g.dt(), dy, dr);
            io.readBack(dy, y);
            io.readBack(dr, rstd);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void rmsNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor rstd, Tensor dx, Tensor dgamma) {
        normBackward("rmsNormBackward", dy, x, gamma, null, rstd, dx, dgamma, null);
    }

    /** Layer norm (mean given) or RMS norm (mean null) backward: dx row-wise, dgamma/dbeta per column. */
    private void normBackward(String op, Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                              Tensor dx, Tensor dgamma, Tensor dbeta) {
        int m = rows(x), c = cols(x);
        check(dy.numel() == x.numel() && gamma.numel() == c && rstd.numel() == m && (mean == null || mean.numel() == m)
                        && (dx == null || dx.numel() == x.numel()) && (dgamma == null || dgamma.numel() == c)
                        && (dbeta == null || dbeta.numel() == c),
                op + ": dy " + dy.describe() + ", x " + x.describe() + ", gamma " + gamma.describe() + ", rstd " + rstd.describe());
        if (x.numel() == 0) return;
        try {
            ClBuffer ddy = io.in(dy).buf(), dxIn = io.in(x).buf(), dr = io.in(rstd).buf();
            ClBuffer dm = mean == null ? dummy : io.in(mean).buf();
            if (dx != null) {
                OpBuffers.Dev g = io.weight(gamma);
                ClBuffer d = io.inOut(dx, op + " dx");
                if (mean != null) rowLaunch("layernorm_bwd_dx", m, c, ddy, dxIn, g.buf(), g.dt(), dm, dr, d);
                else rowLaunch("rmsnorm_bwd_dx", m, c, ddy, dxIn, g.buf(), g.dt(), dr, d);
                io.readBack(d, dx);
            }
            if (dgamma != null || dbeta != null) {
                ClBuffer dg = dgamma == null ? dummy : io.inOut(dgamma, op + " dgamma");
                ClBuffer db = dbeta == null ? dummy : io.inOut(dbeta, op + " dbeta");
                launch("norm_bwd_params", new long[]{c}, null, m, c, ddy, dxIn, dm, mean == null ? 0 : 1, dr,
                        dg, dgamma == null ? 0 : 1, db, dbeta == null ? 0 : 1);
                if (dgamma != null) io.readBack(dg, dgamma);
                if (dbeta != null) io.readBack(db, dbeta);
            }
        } finally {
            io.release();
        }
    }

    // ---- Activations ----------------------------------------------------------------------------

    @Override
    public synchronized void geluForward(Tensor x, boolean tanhApprox, Tensor y) {
        elementwise("gelu_fwd", y, false, x, tanhApprox ? 1 : 0);
    }

    @Override
    public synchronized void geluBackward(Tensor dy, Tensor x, boolean tanhApprox, Tensor dx) {
        if (dx != null) elementwise("gelu_bwd", dx, true, dy, x, tanhApprox ? 1 : 0);
    }

    @Override
    public synchronized void siluForward(Tensor x, Tensor y) {
        elementwise("silu_fwd", y, false, x);
    }

    @Override
    public synchronized void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        if (dx != null) elementwise("silu_bwd", dx, true, dy, x);
    }

    @Override
    public synchronized void swigluForward(Tensor gate, Tensor up, Tensor out) {
        elementwise("swiglu_fwd", out, false, gate, up);
    }

    @Override
    public synchronized void swigluBackward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup) {
        long n = dout.numel();
        check(gate.numel() == n && up.numel() == n && (dgate == null || dgate.numel() == n) && (dup == null || dup.numel() == n),
                "swigluBackward: dout " + dout.describe() + ", gate " + gate.describe() + ", up " + up.describe());
        if (n == 0 || (dgate == null && dup == null)) return;
        try {
            ClBuffer dg = dgate == null ? dummy : io.inOut(dgate, "swigluBackward dgate");
            ClBuffer du = dup == null ? dummy : io.inOut(dup, "swigluBackward dup");
            launch("swiglu_bwd", new long[]{n}, null, n, io.in(dout).buf(), io.in(gate).buf(), io.in(up).buf(),
                    dg, dgate == null ? 0 : 1, du, dup == null ? 0 : 1);
            if (dgate != null) io.readBack(dg, dgate);
            if (dup != null) io.readBack(du, dup);
        } finally {
            io.release();
        }
    }

    // ---- Positions and embeddings ---------------------------------------------------------------

    @Override
    public synchronized void ropeForward(Tensor x, int[] positions, float[] invFreq, Tensor out) {
        rope("ropeForward", x, positions, invFreq, out, 1f, false);
    }

    @Override
    public synchronized void ropeBackward(Tensor dout, int[] positions, float[] invFreq, Tensor dx) {
        rope("ropeBackward", dout, positions, invFreq, dx, -1f, true);
    }

    private void rope(String op, Tensor x, int[] positions, float[] invFreq, Tensor out, float sign, boolean accumulate) {
        check(x.rank() == 4, op + ": input must be [B, T, H, D], got " + x.describe());
        int h = (int) x.dim(2), d = (int) x.dim(3);
        long bt = x.dim(0) * x.dim(1);
        check(d % 2 == 0, op + ": head dimension " + d + " must be even");
        check(positions.length == bt, op + ": " + positions.length + " positions given, expected B*T = " + bt);
        check(invFreq.length == d / 2, op + ": " + invFreq.length + " inverse frequencies given, expected D/2 = " + d / 2);
        check(out.numel() == x.numel(), op + ": output " + out.describe() + " does not match " + x.describe());
        if (x.numel() == 0) return;
        try {
            ClBuffer o = accumulate ? io.inOut(out, op + " dx") : io.out(out);
            launch("rope", new long[]{d / 2, bt * h}, null, h, d, io.in(x).buf(), io.ints(positions),
                    io.floats(invFreq), sign, accumulate ? 1 : 0, o);
            io.readBack(o, out);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void embeddingForward(int[] ids, Tensor table, Tensor out) {
        int c = cols(table);
        check(rows(out) == ids.length && cols(out) == c, "embeddingForward: out " + out.describe() + ", expected ["
                + ids.length + ", " + c + "]");
        checkIds("embeddingForward", ids, rows(table));
        if (out.numel() == 0) return;
        try {
            OpBuffers.Dev t = io.weight(table);
            ClBuffer o = io.out(out);
            launch("embedding_fwd", new long[]{c, ids.length}, null, ids.length, c, io.ints(ids), t.buf(), t.dt(), o);
            io.readBack(o, out);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void embeddingBackward(int[] ids, Tensor dout, Tensor dtable) {
        if (dtable == null) return;
        int c = cols(dtable);
        check(rows(dout) == ids.length && cols(dout) == c, "embeddingBackward: dout " + dout.describe() + ", expected ["
                + ids.length + ", " + c + "]");
        checkIds("embeddingBackward", ids, rows(dtable));
        if (dout.numel() == 0) return;
        try {
            ClBuffer d = io.inOut(dtable, "embeddingBackward dtable");
            launch("embedding_bwd", new long[]{c}, null, ids.length, c, io.ints(ids), io.in(dout).buf(), d);
            io.readBack(d, dtable);
        } finally {
            io.release();
        }
    }

    // ---- Elementwise ----------------------------------------------------------------------------

    @Override
    public synchronized void add(Tensor a, Tensor b, Tensor out) {
        elementwise("add", out, false, a, b);
    }

    @Override
    public synchronized void accumulate(Tensor src, float scale, Tensor dst) {
        check(src.numel() == dst.numel(), "accumulate: src " + src.describe() + " vs dst " + dst.describe());
        if (dst.numel() == 0) return;
        try {
            ClBuffer d = io.inOut(dst, "accumulate dst");
            launch("accumulate", new long[]{dst.numel()}, null, dst.numel(), io.in(src).buf(), scale, d);
            io.readBack(d, dst);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void scale(Tensor dst, float scale) {
        if (dst.numel() == 0) return;
        try {
            ClBuffer d = io.inOut(dst, "scale dst");
            launch("scale", new long[]{dst.numel()}, null, dst.numel(), d, scale);
            io.readBack(d, dst);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void dropoutForward(Tensor x, float p, long seed, Tensor mask, Tensor y) {
        if (!resident) {
            host.dropoutForward(x, p, seed, mask, y);
            return;
        }
        if (!(p >= 0f && p <= 1f)) throw new IllegalArgumentException("dropoutForward: p must be in [0, 1], got " + p);
        long n = x.numel();
        check(mask.numel() == n && y.numel() == n && mask.dtype() == DType.F32, "dropoutForward: x " + x.describe()
                + ", mask " + mask.describe() + ", y " + y.describe());
        check(n <= Tensor.MAX_HEAP_ELEMENTS, "dropoutForward: " + x.describe() + " is too large for one mask array");
        // The mask stream is the host's SplittableRandom by contract (ReferenceKernels' loop): draw it
        // here, upload it, and multiply on the device so x and y stay resident.
        float keepScale = (float) (1.0 / (1.0 - p));
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        float[] m = new float[(int) n];
        for (int i = 0; i < n; i++) m[i] = random.nextDouble() >= p ? keepScale : 0f;
        mask.copyFrom(Tensor.of(MemorySegment.ofArray(m), DType.F32, mask.shape()));
        elementwise("mul", y, false, x, mask);
    }

    @Override
    public synchronized void dropoutBackward(Tensor dy, Tensor mask, Tensor dx) {
        if (dx != null) elementwise("mul_accumulate", dx, true, dy, mask);
    }

    // ---- Loss -----------------------------------------------------------------------------------

    @Override
    public synchronized double crossEntropyForward(Tensor logits, int[] targets, int ignoreIndex, Tensor losses) {
        int m = rows(logits), c = cols(logits);
        check(m == targets.length, "crossEntropyForward: logits " + logits.describe() + " has " + m + " rows, "
                + targets.length + " targets given");
        check(losses == null || losses.numel() == m, "crossEntropyForward: losses " + (losses == null ? "" : losses.describe()));
        checkTargets("crossEntropyForward", targets, ignoreIndex, c);
        if (m == 0) return 0.0;
        float[] rowLoss = new float[m];
        try {
            ClBuffer dl = io.scratch(4L * m);
            rowLaunch("cross_entropy_fwd", m, c, io.in(logits).buf(), io.ints(targets), ignoreIndex, dl);
            ctx.read(dl, MemorySegment.ofArray(rowLoss));
        } finally {
            io.release();
        }
        double total = 0;
        int counted = 0;
        for (int i = 0; i < m; i++) {
            if (targets[i] == ignoreIndex) continue;
            total += rowLoss[i];
            counted++;
        }
        if (losses != null) losses.copyFrom(Tensor.fromArray(rowLoss, m));
        return counted == 0 ? 0.0 : total / counted;
    }

    @Override
    public synchronized void crossEntropyBackward(Tensor logits, int[] targets, int ignoreIndex, float scale, Tensor dlogits) {
        int m = rows(logits), c = cols(logits);
        check(m == targets.length && dlogits.numel() == logits.numel(), "crossEntropyBackward: logits " + logits.describe()
                + ", " + targets.length + " targets, dlogits " + dlogits.describe());
        checkTargets("crossEntropyBackward", targets, ignoreIndex, c);
        if (m == 0) return;
        try {
            ClBuffer d = io.inOut(dlogits, "crossEntropyBackward dlogits");
            rowLaunch("cross_entropy_bwd", m, c, io.in(logits).buf(), io.ints(targets), ignoreIndex, scale, d);
            io.readBack(d, dlogits);
        } finally {
            io.release();
        }
    }

    // ---- Optimizer ------------------------------------------------------------------------------

    @Override
    public synchronized void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                       float eps, float weightDecay, long step) {
        if (step < 1) throw new IllegalArgumentException("adamwStep: step counts from 1, got " + step);
        long n = param.numel();
        check(grad.numel() == n && m.numel() == n && v.numel() == n, "adamwStep: param " + param.describe() + ", grad "
                + grad.describe() + ", m " + m.describe() + ", v " + v.describe());
        if (n == 0) return;
        try {
            ClBuffer dp = io.inOut(param, "adamwStep param"), dm = io.inOut(m, "adamwStep m"), dv = io.inOut(v, "adamwStep v");
            float bc1 = (float) (1 - Math.pow(beta1, step)), bc2 = (float) (1 - Math.pow(beta2, step));
            launch("adamw", new long[]{n}, null, n, dp, io.in(grad).buf(), dm, dv, lr, beta1, beta2, eps,
                    weightDecay, bc1, bc2);
            io.readBack(dp, param);
            io.readBack(dm, m);
            io.readBack(dv, v);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized double sumOfSquares(Tensor g) {
        long n = g.numel();
        if (n == 0) return 0.0;
        int groups = sumSquaresGroups(n);
        float[] partial = new float[groups];
        try {
            ClBuffer p = io.scratch(4L * groups);
            launch("sum_squares", new long[]{(long) groups * ROW_WG}, new long[]{ROW_WG}, n, io.in(g).buf(), 0L, p);
            ctx.read(p, MemorySegment.ofArray(partial));
        } finally {
            io.release();
        }
        double sum = 0;
        for (float f : partial) sum += f;
        return sum;
    }

    private static int sumSquaresGroups(long n) {
        return (int) Math.min(256, (n + ROW_WG - 1) / ROW_WG);
    }

    /** The global squared norm on the device: each tensor's partials into one buffer, summed there; one float read. */
    @Override
    public synchronized double sumOfSquares(java.util.List<Tensor> tensors) {
        long total = 0;
        for (Tensor t : tensors) total += sumSquaresGroups(t.numel());
        if (total == 0) return 0.0;
        float[] sum = new float[1];
        try {
            ClBuffer p = io.scratch(4L * total), out = io.scratch(4);
            long first = 0;
            for (Tensor t : tensors) {
                int groups = sumSquaresGroups(t.numel());
                if (groups == 0) continue;
                launch("sum_squares", new long[]{(long) groups * ROW_WG}, new long[]{ROW_WG}, t.numel(), io.in(t).buf(), first, p);
                first += groups;
            }
            launch("sum_reduce", new long[]{ROW_WG}, new long[]{ROW_WG}, total, p, out);
            ctx.read(out, MemorySegment.ofArray(sum));
        } finally {
            io.release();
        }
        return sum[0];
    }

    // ---- Task heads -----------------------------------------------------------------------------

    /** B·T mask values for pooled [B, C] over hidden [B·T, C]; returns T. */
    private static int pooledSeqLen(String op, Tensor hidden, Tensor pooled, int maskLength) {
        int b = rows(pooled);
        check(b > 0 && maskLength % b == 0 && rows(hidden) == maskLength && cols(hidden) == cols(pooled),
                op + ": hidden " + hidden.describe() + ", pooled " + pooled.describe() + " and a mask of " + maskLength
                        + " need hidden [B·T, C], pooled [B, C], mask B·T");
        return maskLength / b;
    }

    @Override
    public synchronized void meanPoolForward(Tensor hidden, int[] mask, Tensor out) {
        int t = pooledSeqLen("meanPoolForward", hidden, out, mask.length), c = cols(out);
        try {
            ClBuffer o = io.out(out);
            launch("mean_pool_fwd", new long[]{c, rows(out)}, null, t, c, io.in(hidden).buf(), io.ints(mask), o);
            io.readBack(o, out);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void meanPoolBackward(Tensor dOut, int[] mask, Tensor dHidden) {
        int t = pooledSeqLen("meanPoolBackward", dHidden, dOut, mask.length), c = cols(dOut);
        try {
            ClBuffer d = io.inOut(dHidden, "meanPoolBackward dHidden");
            launch("mean_pool_bwd", new long[]{c, mask.length}, null, t, c, io.in(dOut).buf(), io.ints(mask), d);
            io.readBack(d, dHidden);
        } finally {
            io.release();
        }
    }

    private static void checkFirstTokens(String op, Tensor hidden, Tensor pooled, int seqLen) {
        check(seqLen >= 1 && hidden.rows() == pooled.rows() * seqLen && hidden.cols() == pooled.cols(),
                op + ": hidden " + hidden.describe() + " must be [B·" + seqLen + ", C] for pooled " + pooled.describe());
    }

    @Override
    public synchronized void clsPoolForward(Tensor hidden, int seqLen, Tensor out) {
        checkFirstTokens("clsPoolForward", hidden, out, seqLen);
        try {
            ClBuffer o = io.out(out);
            launch("cls_pool_fwd", new long[]{cols(out), rows(out)}, null, seqLen, cols(out), io.in(hidden).buf(), o);
            io.readBack(o, out);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void clsPoolBackward(Tensor dOut, int seqLen, Tensor dHidden) {
        checkFirstTokens("clsPoolBackward", dHidden, dOut, seqLen);
        try {
            ClBuffer d = io.inOut(dHidden, "clsPoolBackward dHidden");
            launch("cls_pool_bwd", new long[]{cols(dOut), rows(dOut)}, null, seqLen, cols(dOut), io.in(dOut).buf(), d);
            io.readBack(d, dHidden);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized void tanhForward(Tensor x, Tensor y) {
        elementwise("tanh_fwd", y, false, x);
    }

    @Override
    public synchronized void tanhBackward(Tensor dy, Tensor y, Tensor dx) {
        elementwise("tanh_bwd", dx, true, dy, y);
    }

    @Override
    public synchronized void chunkedCrossEntropyForward(Tensor logits, int[] targets, long vocabOffset, boolean first, Tensor state) {
        int m = rows(logits), v = cols(logits);
        check(m == targets.length && state.numel() == 3L * m, "chunkedCrossEntropyForward: logits " + logits.describe() + ", "
                + targets.length + " targets, state " + state.describe() + " (3 values per row)");
        if (m == 0) return;
        try {
            ClBuffer s = first ? io.out(state) : io.inOut(state, "chunkedCrossEntropyForward state");
            rowLaunch("chunked_ce_fwd", m, v, vocabOffset, first ? 1 : 0, io.in(logits).buf(), io.ints(targets), s);
            io.readBack(s, state);
        } finally {
            io.release();
        }
    }

    @Override
    public synchronized double chunkedCrossEntropyLoss(Tensor state, int[] targets, int ignoreIndex, Tensor lse) {
        int m = targets.length;
        check(state.numel() == 3L * m && lse.numel() == m, "chunkedCrossEntropyLoss: state " + state.describe() + ", lse "
                + lse.describe() + " for " + m + " rows");
        if (m == 0) return 0.0;
        float[] total = new float[1];
        try {
            ClBuffer l = io.out(lse), t = io.scratch(4);
            launch("chunked_ce_loss", new long[]{ROW_WG}, new long[]{ROW_WG}, m, ignoreIndex, io.in(state).buf(),
                    io.ints(targets), l, t);
            io.readBack(l, lse);
            ctx.read(t, MemorySegment.ofArray(total));
        } finally {
            io.release();
        }
        return total[0];
    }

    @Override
    public synchronized void chunkedCrossEntropyBackward(Tensor logits, int[] targets, long vocabOffset, int ignoreIndex,
                                                         Tensor lse, float scale) {
        int m = rows(logits), v = cols(logits);
        check(m == targets.length && lse.numel() == m, "chunkedCrossEntropyBackward: logits " + logits.describe() + ", "
                + targets.length + " targets, lse " + lse.describe());
        if (logits.numel() == 0) return;
        try {
            ClBuffer d = io.inOut(logits, "chunkedCrossEntropyBackward logits");
            launch("chunked_ce_bwd", new long[]{v, m}, null, v, vocabOffset, ignoreIndex, scale, io.ints(targets),
                    io.in(lse).buf(), d);
            io.readBack(d, logits);
        } finally {
            io.release();
        }
    }

    // ---- Launch helpers -------------------------------------------------------------------------

    /** The strided GEMM kernel (gemm.cl): C[M,N] (+)= alpha·A·B (+ bias), A/B element strides as given. */
    private void gemm(int m, int n, int k, OpBuffers.Dev a, long aoff, long ars, long acs, OpBuffers.Dev b, long boff, long brs, long bcs,
                      ClBuffer c, long crs, float alpha, boolean accumulate, ClBuffer bias, boolean hasBias) {
        launch("gemm", new long[]{n, m}, new long[]{TS, TS}, m, n, k,
                a.buf(), a.dt(), aoff, ars, acs, b.buf(), b.dt(), boff, brs, bcs, c, 0L, crs,
                alpha, accumulate ? 1 : 0, bias, hasBias ? 1 : 0);
    }

    /** A row kernel (rows.cl): one work-group of ROW_WG items per row; arguments after C. */
    private void rowLaunch(String kernel, int rows, int cols, Object... rest) {
        Object[] args = new Object[rest.length + 1];
        args[0] = cols;
        System.arraycopy(rest, 0, args, 1, rest.length);
        launch(kernel, new long[]{(long) rows * ROW_WG}, new long[]{ROW_WG}, args);
    }

    /** An element-wise kernel (elementwise.cl): (n, inputs..., [ints], output); out accumulates when asked. */
    private void elementwise(String kernel, Tensor out, boolean accumulate, Object... inputs) {
        long n = out.numel();
        for (Object o : inputs) {
            if (o instanceof Tensor t) check(t.numel() == n, kernel + ": " + t.describe() + " does not match " + out.describe());
        }
        if (n == 0) return;
        try {
            Object[] args = new Object[inputs.length + 2];
            args[0] = n;
            for (int i = 0; i < inputs.length; i++) args[i + 1] = inputs[i] instanceof Tensor t ? io.in(t).buf() : inputs[i];
            ClBuffer o = accumulate ? io.inOut(out, kernel + " output") : io.out(out);
            args[args.length - 1] = o;
            launch(kernel, new long[]{n}, null, args);
            io.readBack(o, out);
        } finally {
            io.release();
        }
    }

    // ---- Checks ---------------------------------------------------------------------------------

    private static int rows(Tensor t) {
        return Math.toIntExact(t.rows());
    }

    private static int cols(Tensor t) {
        return Math.toIntExact(t.cols());
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        check(a.rows() == b.rows() && a.cols() == b.cols(), op + ": " + a.describe() + " and " + b.describe() + " differ in shape");
    }

    private static void checkIds(String op, int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(op + ": ids[" + i + "] = " + ids[i] + " is outside the table of " + vocab + " rows");
            }
        }
    }

    private static void checkTargets(String op, int[] targets, int ignoreIndex, int classes) {
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != ignoreIndex && (targets[i] < 0 || targets[i] >= classes)) {
                throw new IllegalArgumentException(op + ": targets[" + i + "] = " + targets[i] + " is outside [0, " + classes + ")");
            }
        }
    }
}
