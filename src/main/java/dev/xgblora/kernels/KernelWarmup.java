package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

/**
 * Runs every op on small shapes for a bounded time so the JIT compiles the kernels before the
 * first real call. Vector API code runs boxed, 30-100x slower, in the interpreter and in C1; a
 * first MiniLM forward at full size would otherwise spend tens of seconds there, because a
 * kernel's loops only get C2-compiled after many iterations.
 *
 * <p>Shapes are chosen to take every branch the real sizes take (several K/M blocks of the
 * packed GEMM, partial tiles, vector tails, the small-row mat-vec path, padding masks, causal
 * attention, multi-thread splits of element-wise ops), so compiled code is not thrown away
 * (deoptimized) on the first real call. Results of the priming calls are discarded.
 *
 * <p>The warm-up is bounded by time, so how much of it ran differs from run to run; that only
 * changes speed, never a result: every kernel gives the same bits interpreted and compiled
 * (lane folds in {@link Lanes}, exp/tanh in {@link FloatMath}), and the priming calls write only
 * their own buffers.
 */
public final class KernelWarmup {
    /** Default upper bound of {@link #prime(Kernels)}, in milliseconds (an idle machine needs ~1-2 s). */
    public static final long DEFAULT_BUDGET_MS = 8000;
    /** Rounds (alternating ragged and even shapes) with no finished compilation that count as warm. */
    static final int QUIET_ROUNDS = 4;
    static final int MIN_ROUNDS = 6;

    private KernelWarmup() {
    }

    /** {@link #prime(Kernels, long)} with {@link #DEFAULT_BUDGET_MS}. */
    public static int prime(Kernels kernels) {
        return prime(kernels, DEFAULT_BUDGET_MS);
    }

    /**
     * Calls every op of {@code kernels} on small shapes, round after round, until the JIT has
     * gone quiet (no compilation finished during the last {@value #QUIET_ROUNDS} rounds) or
     * {@code budgetMs} has passed. Returns the number of rounds run. A no-op for the reference
     * kernels (plain scalar Java warms up by itself within the first call's loops).
     *
     * <p>Waiting for a quiet JIT rather than a fixed time matters on a loaded machine: C2 then
     * lags behind by seconds, and a kernel whose compilation is still queued runs boxed.
     */
    public static int prime(Kernels kernels, long budgetMs) {
        if (kernels.name().equals("reference") || budgetMs <= 0) return 0;
        long start = System.nanoTime(), end = start + budgetMs * 1_000_000L;
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean canTell = jit != null && jit.isCompilationTimeMonitoringSupported();
        try (Arena arena = Arena.ofShared()) {
            // Ragged sizes take every tail branch, even sizes (multiples of 64, like real models)
            // skip them; priming only one kind leaves the other an uncommon trap that deoptimizes
            // the compiled kernel on the first real call, which then runs interpreted again.
            Shapes[] sets = {new Shapes(arena, false), new Shapes(arena, true)};
            int rounds = 0, quiet = 0;
            long compiled = canTell ? jit.getTotalCompilationTime() : 0;
            while (rounds < MIN_ROUNDS || (System.nanoTime() < end && (!canTell || quiet < QUIET_ROUNDS))) {
                sets[rounds % 2].round(kernels, rounds / 2);
                rounds++;
                if (canTell) {
                    long now = jit.getTotalCompilationTime();
                    quiet = now == compiled ? quiet + 1 : 0;
                    compiled = now;
                }
            }
            if (Boolean.getBoolean("xgblora.warmup.verbose")) {
                System.err.printf("kernel warm-up: %d rounds, %d ms, JIT %s%n", rounds,
                        (System.nanoTime() - start) / 1_000_000, quiet >= QUIET_ROUNDS ? "quiet" : "still compiling");
            }
            return rounds;
        }
    }

    /**
     * The weight as it comes from a model file: a read-only mapped segment, which is another
     * MemorySegment class than heap or arena memory (the JIT profiles classes), or an arena copy
     * when the temporary file cannot be written.
     */
    private static Tensor mapped(Tensor w, DType dtype, Arena arena) {
        Tensor native_ = w.toDType(dtype, arena);
        try {
            java.nio.file.Path f = java.nio.file.Files.createTempFile("xgblora-warmup", ".bin");
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                    java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(native_.data().asByteBuffer());
                java.lang.foreign.MemorySegment seg = ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0,
                        native_.data().byteSize(), arena);
                return Tensor.of(seg, dtype, w.shape());
            } finally {
                java.nio.file.Files.deleteIfExists(f);
            }
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return native_;
        }
    }

    /** Buffers of one priming round, allocated once. */
    private static final class Shapes {
        // Tiny, so that each kernel method runs the ~1000 invocations after which the JIT compiles
        // it as a whole (a long loop alone only gets an on-stack-replacement compile, and a later
        // call would enter the method interpreted again). Ragged: partial GEMM tiles and panels,
        // vector tails. Even: multiples of 16 lanes. Every 16th round, once warm, uses element-wise lengths
        // above 2 · FLAT_GRAIN so the thread split is taken too.
        final int M, K, N, SMALL_M = 5;
        final int AB = 2, AT, AH = 2, AD = 32, FLAT, ROWS, COLS, VOCAB = 13;

        final Tensor x, w, wBf16, wF16, bias, y, dy, dx, dw, db, xs, ys, dys, dxs;
        final Tensor loraA, loraB, h, dh, dA, dB;
        final Tensor q, k, v, lse, out, dq, dk, dv, valid;
        final Tensor r1, r2, r3, r4, gamma, beta, dgamma, dbeta, mean, rstd;
        final Tensor f1, f2, f3, f4, m, v2, logits, dlogits, losses, table, dtable;
        final int[] ids, targets, positions;
        final float[] invFreq;

        Shapes(Arena arena, boolean even) {
            M = even ? 24 : 13;
            K = even ? 64 : 37;
            N = even ? 2 * VectorGemm.NR : VectorGemm.NR + 5;
            AT = even ? 16 : 7;
            FLAT = even ? 40_960 : 40_003;
            ROWS = even ? 8 : 5;
            COLS = even ? 64 : 37;
            SplittableRandom r = new SplittableRandom(7);
            x = random(r, M, K);
            Tensor heapW = random(r, N, K);
            w = even ? mapped(heapW, DType.F32, arena) : heapW;
            wBf16 = even ? mapped(heapW, DType.BF16, arena) : heapW.toDType(DType.BF16, arena);
            wF16 = even ? mapped(heapW, DType.F16, arena) : heapW.toDType(DType.F16, arena);
            bias = random(r, N);
            y = Tensor.zeros(M, N);
            dy = random(r, M, N);
            dx = Tensor.zeros(M, K);
            dw = Tensor.zeros(N, K);
            db = Tensor.zeros(N);
            xs = random(r, SMALL_M, K);
            ys = Tensor.zeros(SMALL_M, N);
            dys = random(r, SMALL_M, N);
            dxs = Tensor.zeros(SMALL_M, K);
            loraA = random(r, 1, K);
            loraB = random(r, N, 1);
            h = Tensor.zeros(M, 1);
            dh = Tensor.zeros(M, 1);
            dA = Tensor.zeros(1, K);
            dB = Tensor.zeros(N, 1);
            q = random(r, AB, AT, AH, AD);
            k = random(r, AB, AT, AH, AD);
            v = random(r, AB, AT, AH, AD);
            lse = Tensor.zeros(AB, AH, AT);
            out = Tensor.zeros(AB, AT, AH, AD);
            dq = Tensor.zeros(AB, AT, AH, AD);
            dk = Tensor.zeros(AB, AT, AH, AD);
            dv = Tensor.zeros(AB, AT, AH, AD);
            valid = Tensor.zeros(AB, AT);
            valid.fill(1f);
            valid.set(1, AT - 1, 0f); // one padded key
            r1 = random(r, ROWS, COLS);
            r2 = random(r, ROWS, COLS);
            r3 = Tensor.zeros(ROWS, COLS);
            r4 = Tensor.zeros(ROWS, COLS);
            gamma = random(r, COLS);
            beta = random(r, COLS);
            dgamma = Tensor.zeros(COLS);
            dbeta = Tensor.zeros(COLS);
            mean = Tensor.zeros(ROWS);
            rstd = Tensor.zeros(ROWS);
            f1 = random(r, FLAT);
            f2 = random(r, FLAT);
            f3 = Tensor.zeros(FLAT);
            f4 = Tensor.zeros(FLAT);
            m = Tensor.zeros(FLAT);
            v2 = Tensor.zeros(FLAT);
            logits = random(r, ROWS, VOCAB);
            dlogits = Tensor.zeros(ROWS, VOCAB);
            losses = Tensor.zeros(ROWS);
            table = random(r, VOCAB, COLS);
            dtable = Tensor.zeros(VOCAB, COLS);
            ids = new int[ROWS];
            targets = new int[ROWS];
            for (int i = 0; i < ROWS; i++) {
                ids[i] = r.nextInt(VOCAB);
                targets[i] = i == 3 ? -100 : r.nextInt(VOCAB);
            }
            positions = new int[AB * AT];
            for (int i = 0; i < positions.length; i++) positions[i] = i % AT;
            invFreq = new float[AD / 2];
            for (int i = 0; i < invFreq.length; i++) invFreq[i] = (float) Math.pow(10000, -2.0 * i / AD);
        }

        void round(Kernels kn, int round) {
            // Big element-wise lengths only once the kernels are compiled: interpreted, one big round costs ~100 ms.
            boolean big = round >= 24 && round % 8 == 7;
            int small = ROWS * COLS + (COLS % 2);
            Tensor f1 = big ? this.f1 : this.f1.slice(0, small), f2 = big ? this.f2 : this.f2.slice(0, small);
            Tensor f3 = big ? this.f3 : this.f3.slice(0, small), f4 = big ? this.f4 : this.f4.slice(0, small);
            Tensor m = big ? this.m : this.m.slice(0, small), v2 = big ? this.v2 : this.v2.slice(0, small);
            for (Tensor wt : new Tensor[] {w, wBf16, wF16}) {
                kn.linearForward(x, wt, bias, y);
                kn.linearBackwardInput(dy, wt, dx);
                kn.linearForward(xs, wt, null, ys);
                kn.linearBackwardInput(dys, wt, dxs);
            }
            kn.linearForward(x, w, null, y);
            kn.linearBackwardWeight(dy, x, dw);
            kn.linearBackwardWeight(dys, xs, dw);
            kn.linearBackwardBias(dy, db);
            kn.loraForward(x, loraA, loraB, 2f, h, y);
            kn.linearLoraForward(x, w, bias, x, loraA, loraB, 2f, h, y); // the fused path training takes
            kn.loraBackward(dy, x, loraA, loraB, 2f, h, dh, dA, dB, dx);

            boolean causal = round % 2 == 1;
            AttentionMask first = new AttentionMask(valid, causal, causal ? 3 : 0, null);
            AttentionMask second = new AttentionMask(null, !causal, 0, null);
            kn.attentionForward(q, k, v, first, 0.17f, out, lse);
            kn.attentionBackward(q, q, k, v, first, 0.17f, out, lse, dq, dk, dv);
            kn.attentionForward(q, k, v, second, 0.17f, out, lse);
            kn.attentionBackward(q, q, k, v, second, 0.17f, out, lse, dq, dk, dv);

            kn.softmaxForward(r1, r3);
            kn.softmaxBackward(r2, r3, r4);
            kn.layerNormForward(r1, gamma, beta, 1e-5f, r3, mean, rstd);
            kn.layerNormBackward(r2, r1, gamma, mean, rstd, r4, dgamma, dbeta);
            kn.layerNormBackward(r2, r1, gamma, mean, rstd, r4, null, null);
            kn.rmsNormForward(r1, gamma, 1e-5f, r3, rstd);
            kn.rmsNormBackward(r2, r1, gamma, rstd, r4, dgamma);
            for (boolean tanh : new boolean[] {false, true}) {
                kn.geluForward(f1, tanh, f3);
                kn.geluBackward(f2, f1, tanh, f4);
            }
            kn.siluForward(f1, f3);
            kn.siluBackward(f2, f1, f4);
            kn.swigluForward(f1, f2, f3);
            kn.swigluBackward(f2, f1, f2, f3, f4);
            kn.ropeForward(q, positions, invFreq, dq);
            kn.ropeBackward(k, positions, invFreq, dk);
            kn.embeddingForward(ids, table, r3);
            kn.embeddingBackward(ids, r2, dtable);

            kn.add(f1, f2, f3);
            kn.accumulate(f1, 0.5f, f3);
            kn.scale(f3, 0.5f);
            kn.dropoutForward(f1, 0.1f, round, f4, f3);
            kn.dropoutBackward(f2, f4, f3);
            kn.crossEntropyForward(logits, targets, -100, losses);
            kn.crossEntropyBackward(logits, targets, -100, 0.1f, dlogits);
            kn.sumOfSquares(f3);
            kn.adamwStep(f3, f2, m, v2, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f, round + 1);
            // Keep every buffer bounded: accumulating gradients would grow without limit.
            if (round % 64 == 63) { // keep accumulated gradients bounded
                for (Tensor t : new Tensor[] {dx, dw, db, dA, dB, dq, dk, dv, r4, dgamma, dbeta, dlogits, dtable, this.f3, this.m, this.v2}) t.zero();
            }
        }

        private static Tensor random(SplittableRandom r, long... shape) {
            Tensor t = Tensor.zeros(shape);
            for (long i = 0; i < t.numel(); i++) t.set(i, (float) (r.nextDouble() * 2 - 1));
            return t;
        }
    }
}
