package dev.xgblora.cli;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One kernel benchmark case: tensors allocated once, a body that runs the op, and its FLOP count.
 * Shapes: linear at M = 2048 over the (out, in) pairs of a BERT-base-like encoder at seq 64 × batch
 * 32, and attention at batch 32, 12 heads, 64 tokens, head dim 32.
 */
record KernelBenchCase(String op, DType dtype, long m, long n, long k, double flops, Runnable body) {

    static final int ROWS = 2048;
    static final int[][] LINEAR_SHAPES = {{384, 384}, {1536, 384}, {384, 1536}};
    static final int[] LARGE_SHAPE = {4096, 4096};
    static final int ATT_BATCH = 32, ATT_HEADS = 12, ATT_TOKENS = 64, ATT_HEAD_DIM = 32;

    /** All cases for one backend; arena owns the low-precision weight copies. */
    static List<KernelBenchCase> all(Kernels kernels, boolean large, Arena arena) {
        List<int[]> shapes = new ArrayList<>(List.of(LINEAR_SHAPES));
        if (large) shapes.add(LARGE_SHAPE);
        return build(kernels, ROWS, shapes, ATT_BATCH, ATT_HEADS, ATT_TOKENS, ATT_HEAD_DIM, arena);
    }

    /**
     * The same ops at toy sizes, run first so the JIT sees every op and dtype before anything is
     * timed (otherwise a later case's new branch deoptimizes the compiled kernels mid-table).
     */
    static List<KernelBenchCase> toy(Kernels kernels, Arena arena) {
        return build(kernels, 96, List.of(new int[] {80, 72}), 2, 2, 16, 32, arena);
    }

    private static List<KernelBenchCase> build(Kernels kernels, int rowCount, List<int[]> shapes, int b, int h, int t,
                                               int d, Arena arena) {
        List<KernelBenchCase> cases = new ArrayList<>();
        final int ROWS = rowCount;
        SplittableRandom random = new SplittableRandom(42);
        for (int[] s : shapes) {
            int n = s[0], k = s[1];
            Tensor x = random(random, ROWS, k), dy = random(random, ROWS, n), w32 = random(random, n, k);
            Tensor y = Tensor.zeros(ROWS, n), dx = Tensor.zeros(ROWS, k), dw = Tensor.zeros(n, k);
            double flops = 2.0 * ROWS * n * k;
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                Tensor w = dt == DType.F32 ? w32 : w32.toDType(dt, arena);
                cases.add(new KernelBenchCase("linear_fwd", dt, ROWS, n, k, flops, () -> kernels.linearForward(x, w, null, y)));
                cases.add(new KernelBenchCase("linear_dx", dt, ROWS, n, k, flops, () -> kernels.linearBackwardInput(dy, w, dx)));
            }
            cases.add(new KernelBenchCase("linear_dw", DType.F32, ROWS, n, k, flops, () -> kernels.linearBackwardWeight(dy, x, dw)));
            // Rank-1 adapter on the same layer (the XGBLoRA hot case): two matrix-vector products each way.
            Tensor a = random(random, 1, k), bb = random(random, n, 1), hr = Tensor.zeros(ROWS, 1), dh = Tensor.zeros(ROWS, 1);
            Tensor da = Tensor.zeros(1, k), dbb = Tensor.zeros(n, 1);
            cases.add(new KernelBenchCase("lora1_fwd", DType.F32, ROWS, n, k, 2.0 * ROWS * (n + k),
                    () -> kernels.loraForward(x, a, bb, 0.5f, hr, y)));
            cases.add(new KernelBenchCase("lora1_bwd", DType.F32, ROWS, n, k, 4.0 * ROWS * (n + k),
                    () -> kernels.loraBackward(dy, x, a, bb, 0.5f, hr, dh, da, dbb, dx)));
            // Rank 8 (LoRA's default): the passes over dy and x with r accumulators each.
            Tensor a8 = random(random, 8, k), b8 = random(random, n, 8), h8 = random(random, ROWS, 8);
            Tensor dh8 = Tensor.zeros(ROWS, 8), da8 = Tensor.zeros(8, k), db8 = Tensor.zeros(n, 8);
            cases.add(new KernelBenchCase("lora8_bwd", DType.F32, ROWS, n, k, 4.0 * ROWS * (n + k) * 8,
                    () -> kernels.loraBackward(dy, x, a8, b8, 0.5f, h8, dh8, da8, db8, dx)));
        }
        Tensor q = random(random, b, t, h, d), kk = random(random, b, t, h, d), v = random(random, b, t, h, d);
        Tensor lse = Tensor.zeros(b, h, t), out = Tensor.zeros(b, t, h, d), dout = random(random, b, t, h, d);
        Tensor dq = Tensor.zeros(b, t, h, d), dk = Tensor.zeros(b, t, h, d), dv = Tensor.zeros(b, t, h, d);
        float scale = (float) (1 / Math.sqrt(d));
        double attFlops = 4.0 * b * h * t * t * d; // Q·Kᵀ and P·V (backward: 2× this, not counting the recomputed Q·Kᵀ)
        long rows = (long) b * h * t;
        cases.add(new KernelBenchCase("attention_fwd", DType.F32, rows, t, d, attFlops,
                () -> kernels.attentionForward(q, kk, v, AttentionMask.NONE, scale, out, lse)));
        cases.add(new KernelBenchCase("attention_bwd", DType.F32, rows, t, d, 2 * attFlops,
                () -> kernels.attentionBackward(dout, q, kk, v, AttentionMask.NONE, scale, out, lse, dq, dk, dv)));
        return cases;
    }

    private static Tensor random(SplittableRandom r, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.count(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.fromArray(v, shape);
    }
}
