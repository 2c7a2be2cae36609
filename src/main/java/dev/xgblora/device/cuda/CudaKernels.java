package dev.xgblora.device.cuda;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * The {@link Kernels} contract with its matrix products and attention on an NVIDIA GPU: the
 * hand-written PTX of native/ptx (gemm.ptx, attention.ptx) loaded with cuModuleLoadData and run
 * with cuLaunchKernel ({@link Cuda}). Linear forward and both backwards, the rank-r adapter paths
 * and attention forward/backward run on the device; every other op (norms, activations, RoPE,
 * embeddings, loss, AdamW, ...) runs on the CPU kernels given at construction.
 *
 * <p>Weights are uploaded once per tensor in their own dtype (bf16 stays bf16) and kept on the
 * device ({@link CudaBuffers}); activations and gradients travel per op. Correctness first: one
 * thread per output element or row, as the OpenCL path.
 */
public final class CudaKernels implements Kernels, AutoCloseable {
    private static final int TS = 16, ROWS_PER_BLOCK = 64;

    private final Cuda cuda;
    private final int ordinal;
    private final long ctx, gemmModule, attentionModule;
    private final long gemm, attnFwd, attnBwdQ, attnBwdKv;
    private final Kernels cpu;
    private final CudaBuffers io;
    private boolean closed;

    /** A context on device {@code ordinal} with both modules loaded (a PTX JIT failure surfaces here). */
    CudaKernels(Cuda cuda, int ordinal, Kernels cpu) {
        this.cuda = cuda;
        this.ordinal = ordinal;
        this.cpu = cpu;
        this.ctx = cuda.createContext(ordinal);
        this.gemmModule = cuda.loadModule("gemm.ptx");
        this.attentionModule = cuda.loadModule("attention.ptx");
        this.gemm = cuda.function(gemmModule, "xgb_gemm");
        this.attnFwd = cuda.function(attentionModule, "xgb_attention_fwd");
        this.attnBwdQ = cuda.function(attentionModule, "xgb_attention_bwd_q");
        this.attnBwdKv = cuda.function(attentionModule, "xgb_attention_bwd_kv");
        this.io = new CudaBuffers(cuda);
    }

    /**
     * The backend for a {@code --device} / {@code xgblora.kernels} value: "cuda" (device 0) or
     * "cuda:N" (as {@code xgblora info} lists them). No driver or no such device: a {@link CudaException}
     * that says what to use instead. The host ops run on the vector kernels (reference without the Vector API).
     */
    public static CudaKernels open(String spec) {
        int n = deviceIndex(spec);
        Cuda cuda = Cuda.load();
        List<Cuda.Device> devices = cuda.devices();
        if (n >= devices.size()) {
            throw new CudaException("--device " + spec + ": the NVIDIA driver sees " + devices.size() + " GPU(s)"
                    + (devices.isEmpty() ? "" : " (cuda:0..cuda:" + (devices.size() - 1) + ")") + "; use --device cpu or --device opencl", 0);
        }
        String host = Backends.available().contains("vector") ? "vector" : "reference";
        return new CudaKernels(cuda, n, Backends.create(host, Backends.threadsProperty()));
    }

    static int deviceIndex(String spec) {
        String s = spec.trim();
        if (s.equals("cuda")) return 0;
        if (s.startsWith("cuda:")) {
            try {
                int n = Integer.parseInt(s.substring(5));
                if (n >= 0) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("device '" + spec + "' is not cuda or cuda:N (N = a device number from xgblora info)");
    }

    /** The device this backend runs on (its ordinal, name and memory). */
    public Cuda.Device device() {
        return cuda.devices().get(ordinal);
    }

    @Override
    public String name() {
        return "cuda";
    }

    /** Host threads of the CPU kernels that run the ops not on the device. */
    @Override
    public int threads() {
        return cpu.threads();
    }

    /** Bytes of weights held on the device. */
    public synchronized long residentBytes() {
        return io.residentBytes();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cuda.setCurrent(ctx);
        io.close();
        cuda.unloadModule(gemmModule);
        cuda.unloadModule(attentionModule);
        cuda.destroyContext(ctx);
        if (cpu instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the CPU kernels of cuda:" + ordinal, e);
            }
        }
    }

    /** Every device op starts here: the context is per thread in the driver API. */
    private void begin() {
        if (closed) throw new IllegalStateException("cuda:" + ordinal + " kernels are closed");
        cuda.setCurrent(ctx);
    }

    // ---- Linear ---------------------------------------------------------------------------------

    @Override
    public synchronized void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        int m = rows(x), k = cols(x), n = rows(w);
        check(cols(w) == k, "linearForward: x " + x.describe() + " and w " + w.describe() + " differ in K");
        check(rows(y) == m && cols(y) == n, "linearForward: y " + y.describe() + ", expected [" + m + ", " + n + "]");
        check(b == null || b.numel() == n, "linearForward: bias " + (b == null ? "" : b.describe()) + " != N " + n);
        if (y.numel() == 0) return;
        begin();
        try {
            CudaBuffers.Dev dx = io.in(x), dw = io.weight(w);
            long dy = io.out(y), db = b == null ? 0 : b.dtype() == DType.F32 ? io.weight(b).ptr() : io.f32In(b); // a widened copy per op
            gemm(m, n, k, dx, 0, k, 1, dw, 0, 1, k, dy, n, 1f, false, db);
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
        begin();
        try {
            long ddx = io.inOut(dx, "linearBackwardInput dx");
            gemm(m, k, n, io.in(dy), 0, n, 1, io.weight(w), 0, k, 1, ddx, k, 1f, true, 0);
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
        begin();
        try {
            long ddw = io.inOut(dw, "linearBackwardWeight dw");
            gemm(n, k, m, io.in(dy), 0, 1, n, io.in(x), 0, k, 1, ddw, k, 1f, true, 0);
            io.readBack(ddw, dw);
        } finally {
            io.release();
        }
    }

    @Override
    public void linearBackwardBias(Tensor dy, Tensor db) {
        cpu.linearBackwardBias(dy, db);
    }

    // ---- Rank-r adapter -------------------------------------------------------------------------

    @Override
    public synchronized void loraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y) {
        int m = rows(x), k = cols(x), r = rows(a), n = rows(b);
        check(cols(a) == k && cols(b) == r && rows(h) == m && cols(h) == r && rows(y) == m && cols(y) == n,
                "loraForward: x " + x.describe() + ", A " + a.describe() + ", B " + b.describe() + ", h " + h.describe()
                        + ", y " + y.describe());
        if (m == 0 || r == 0) return;
        begin();
        try {
            long dh = io.out(h), dy = io.inOut(y, "loraForward y");
            gemm(m, r, k, io.in(x), 0, k, 1, io.in(a), 0, 1, k, dh, r, 1f, false, 0);
            gemm(m, n, r, new CudaBuffers.Dev(dh, 0), 0, r, 1, io.in(b), 0, 1, r, dy, n, scale, true, 0);
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
        begin();
        try {
            CudaBuffers.Dev ddy = io.in(dy);
            long ddh = io.out(dh);
            CudaBuffers.Dev dhDev = new CudaBuffers.Dev(ddh, 0);
            gemm(m, r, n, ddy, 0, n, 1, io.in(b), 0, r, 1, ddh, r, scale, false, 0); // dh = scale * dy * B
            if (db != null) { // dB[N,r] += scale * dy^T * h
                long d = io.inOut(db, "loraBackward dB");
                gemm(n, r, m, ddy, 0, 1, n, io.in(h), 0, r, 1, d, r, scale, true, 0);
                io.readBack(d, db);
            }
            CudaBuffers.Dev xDev = da != null || dx != null ? io.in(x) : null;
            if (da != null) { // dA[r,K] += dh^T * x
                long d = io.inOut(da, "loraBackward dA");
                gemm(r, k, m, dhDev, 0, 1, r, xDev, 0, k, 1, d, k, 1f, true, 0);
                io.readBack(d, da);
            }
            if (dx != null) { // dx[M,K] += dh * A
                long d = io.inOut(dx, "loraBackward dx");
                gemm(m, k, r, dhDev, 0, r, 1, io.in(a), 0, k, 1, d, k, 1f, true, 0);
                io.readBack(d, dx);
            }
            io.readBack(ddh, dh);
        } finally {
            io.release();
        }
    }

    /** gemm.ptx: C[M,N] (+)= alpha * A * B (+ bias), A/B element strides as given; 16x16 blocks over C. */
    private void gemm(int m, int n, int k, CudaBuffers.Dev a, long aoff, long ars, long acs, CudaBuffers.Dev b, long boff, long brs,
                      long bcs, long c, long crs, float alpha, boolean accumulate, long bias) {
        check((m + TS - 1) / TS <= 65535, "a GEMM of " + m + " rows needs more than 65535 row blocks (the grid's y limit);"
                + " use a smaller --batch-size or --max-length");
        cuda.launch(gemm, "xgb_gemm", new int[]{(n + TS - 1) / TS, (m + TS - 1) / TS, 1}, new int[]{TS, TS, 1},
                m, n, k, a.ptr(), a.dt(), aoff, ars, acs, b.ptr(), b.dt(), boff, brs, bcs, c, crs,
                alpha, accumulate ? 1 : 0, bias, bias != 0 ? 1 : 0);
    }

    // ---- Attention ------------------------------------------------------------------------------

    private record AttnDims(int b, int t, int s, int hq, int hkv, int d) {
    }

    private static AttnDims attnDims(String op, Tensor q, Tensor k, Tensor v) {
        for (Tensor x : new Tensor[]{q, k, v}) {
            check(x != null && x.rank() == 4, op + ": q, k, v must be [B, T, H, D], got " + (x == null ? "null" : x.describe()));
        }
        AttnDims n = new AttnDims((int) q.dim(0), (int) q.dim(1), (int) k.dim(1), (int) q.dim(2), (int) k.dim(2), (int) q.dim(3));
        check(k.dim(0) == n.b && k.dim(3) == n.d && Arrays.equals(k.shape(), v.shape()),
                op + ": k " + k.describe() + " / v " + v.describe() + " do not match q " + q.describe());
        check(n.hkv > 0 && n.hq % n.hkv == 0, op + ": query heads " + n.hq + " must be a multiple of kv heads " + n.hkv);
        return n;
    }

    private static void checkMaskAndLse(String op, AttnDims n, AttentionMask mask, Tensor lse, boolean lseNeeded) {
        check(mask != null, op + ": mask must not be null (AttentionMask.NONE for none)");
        mask.check(op, n.b, n.t, n.s);
        check(lse != null || !lseNeeded, op + ": lse must not be null");
        check(lse == null || (lse.rank() == 3 && lse.dim(0) == n.b && lse.dim(1) == n.hq && lse.dim(2) == n.t),
                op + ": lse " + (lse == null ? "" : lse.describe()) + " must be [" + n.b + ", " + n.hq + ", " + n.t + "]");
    }

    /** The mask's kernel arguments: keyValid, hasValid, causal, window, segments, hasSeg. */
    private Object[] maskArgs(AttentionMask mask) {
        long valid = mask.keyValid() == null ? 0L : io.f32In(mask.keyValid());
        long seg = mask.segments() == null ? 0L : io.ints(mask.segments());
        return new Object[]{valid, mask.keyValid() == null ? 0 : 1, mask.causal() ? 1 : 0, mask.window(),
                seg, mask.segments() == null ? 0 : 1};
    }

    private static Object[] concat(Object[]... parts) {
        return Arrays.stream(parts).flatMap(Arrays::stream).toArray();
    }

    /** One thread per query row (or key row), ROWS_PER_BLOCK to a block; grid (rows, heads, batch). */
    private void rowLaunch(long fn, String name, int rows, int heads, int batch, Object... args) {
        cuda.launch(fn, name, new int[]{(rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, heads, batch},
                new int[]{ROWS_PER_BLOCK, 1, 1}, args);
    }

    @Override
    public synchronized void attentionForward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale,
                                              Tensor out, Tensor lse) {
        String op = "attentionForward";
        AttnDims n = attnDims(op, q, k, v);
        checkMaskAndLse(op, n, mask, lse, false);
        check(out != null && Arrays.equals(out.shape(), q.shape()),
                op + ": out " + (out == null ? "null" : out.describe()) + " must have the shape of q " + q.describe());
        if (q.numel() == 0) return;
        begin();
        try {
            long dout = io.out(out);
            long dlse = lse == null ? io.scratch(4L * n.b * n.hq * n.t) : io.out(lse);
            rowLaunch(attnFwd, "xgb_attention_fwd", n.t, n.hq, n.b,
                    concat(new Object[]{n.t, n.s, n.hq, n.hkv, n.d, io.f32In(q), io.f32In(k), io.f32In(v)},
                            maskArgs(mask), new Object[]{scale, dout, dlse}));
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
            check(x != null && Arrays.equals(x.shape(), q.shape()),
                    op + ": dout / out " + (x == null ? "null" : x.describe()) + " must have the shape of q " + q.describe());
        }
        check(dq == null || Arrays.equals(dq.shape(), q.shape()), op + ": dq " + (dq == null ? "" : dq.describe()) + " must match q");
        check(dk == null || Arrays.equals(dk.shape(), k.shape()), op + ": dk " + (dk == null ? "" : dk.describe()) + " must match k");
        check(dv == null || Arrays.equals(dv.shape(), v.shape()), op + ": dv " + (dv == null ? "" : dv.describe()) + " must match v");
        if ((dq == null && dk == null && dv == null) || q.numel() == 0) return;
        begin();
        try {
            long ddout = io.f32In(dout), qb = io.f32In(q), kb = io.f32In(k), vb = io.f32In(v), dlse = io.f32In(lse);
            Object[] m = maskArgs(mask);
            long delta = io.scratch(4L * n.b * n.hq * n.t);
            long ddq = dq == null ? 0L : io.inOut(dq, op + " dq");
            long accQ = dq == null ? 0L : io.scratch(4L * q.numel());
            rowLaunch(attnBwdQ, "xgb_attention_bwd_q", n.t, n.hq, n.b,
                    concat(new Object[]{n.t, n.s, n.hq, n.hkv, n.d, ddout, qb, kb, vb, io.f32In(out), dlse}, m,
                            new Object[]{scale, delta, accQ, ddq, dq == null ? 0 : 1}));
            if (dk != null || dv != null) {
                long ddk = dk == null ? 0L : io.inOut(dk, op + " dk");
                long ddv = dv == null ? 0L : io.inOut(dv, op + " dv");
                long accK = io.scratch(4L * k.numel()), accV = io.scratch(4L * k.numel());
                rowLaunch(attnBwdKv, "xgb_attention_bwd_kv", n.s, n.hkv, n.b,
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

    // ---- Everything else: the CPU kernels -------------------------------------------------------

    @Override
    public void softmaxForward(Tensor x, Tensor out) {
        cpu.softmaxForward(x, out);
    }

    @Override
    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        cpu.softmaxBackward(dy, y, dx);
    }

    @Override
    public void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) {
        cpu.layerNormForward(x, gamma, beta, eps, y, mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma, Tensor dbeta) {
        cpu.layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
    }

    @Override
    public void rmsNormForward(Tensor x, Tensor gamma, float eps, Tensor y, Tensor rstd) {
        cpu.rmsNormForward(x, gamma, eps, y, rstd);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor rstd, Tensor dx, Tensor dgamma) {
        cpu.rmsNormBackward(dy, x, gamma, rstd, dx, dgamma);
    }

    @Override
    public void geluForward(Tensor x, boolean tanhApprox, Tensor y) {
        cpu.geluForward(x, tanhApprox, y);
    }

    @Override
    public void geluBackward(Tensor dy, Tensor x, boolean tanhApprox, Tensor dx) {
        cpu.geluBackward(dy, x, tanhApprox, dx);
    }

    @Override
    public void siluForward(Tensor x, Tensor y) {
        cpu.siluForward(x, y);
    }

    @Override
    public void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        cpu.siluBackward(dy, x, dx);
    }

    @Override
    public void swigluForward(Tensor gate, Tensor up, Tensor out) {
        cpu.swigluForward(gate, up, out);
    }

    @Override
    public void swigluBackward(Tensor dout, Tensor gate, Tensor up, Tensor dgate, Tensor dup) {
        cpu.swigluBackward(dout, gate, up, dgate, dup);
    }

    @Override
    public void ropeForward(Tensor x, int[] positions, float[] invFreq, Tensor out) {
        cpu.ropeForward(x, positions, invFreq, out);
    }

    @Override
    public void ropeBackward(Tensor dout, int[] positions, float[] invFreq, Tensor dx) {
        cpu.ropeBackward(dout, positions, invFreq, dx);
    }

    @Override
    public void embeddingForward(int[] ids, Tensor table, Tensor out) {
        cpu.embeddingForward(ids, table, out);
    }

    @Override
    public void embeddingBackward(int[] ids, Tensor dout, Tensor dtable) {
        cpu.embeddingBackward(ids, dout, dtable);
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        cpu.add(a, b, out);
    }

    @Override
    public void accumulate(Tensor src, float scale, Tensor dst) {
        cpu.accumulate(src, scale, dst);
    }

    @Override
    public void scale(Tensor dst, float scale) {
        cpu.scale(dst, scale);
    }

    @Override
    public void dropoutForward(Tensor x, float p, long seed, Tensor mask, Tensor y) {
        cpu.dropoutForward(x, p, seed, mask, y);
    }

    @Override
    public void dropoutBackward(Tensor dy, Tensor mask, Tensor dx) {
        cpu.dropoutBackward(dy, mask, dx);
    }

    @Override
    public double crossEntropyForward(Tensor logits, int[] targets, int ignoreIndex, Tensor losses) {
        return cpu.crossEntropyForward(logits, targets, ignoreIndex, losses);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] targets, int ignoreIndex, float scale, Tensor dlogits) {
        cpu.crossEntropyBackward(logits, targets, ignoreIndex, scale, dlogits);
    }

    @Override
    public void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                          float weightDecay, long step) {
        cpu.adamwStep(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override
    public double sumOfSquares(Tensor g) {
        return cpu.sumOfSquares(g);
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
}
