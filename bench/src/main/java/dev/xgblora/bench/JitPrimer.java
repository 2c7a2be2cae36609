package dev.xgblora.bench;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/**
 * Runs every benchmarked op at toy sizes for a while before a trial, so the first real-size call
 * does not run interpreted (Vector API code is ~100x slower before C2 compiles it; at 2048 rows
 * one interpreted call takes seconds and distorts JMH's warmup on a busy machine).
 */
final class JitPrimer {
    private JitPrimer() {
    }

    static void prime(Kernels kernels, long millis) {
        SplittableRandom r = new SplittableRandom(3);
        try (Arena arena = Arena.ofShared()) {
            Tensor x = LinearBench.random(r, 96, 72), dy = LinearBench.random(r, 96, 80), w32 = LinearBench.random(r, 80, 72);
            Tensor wb = w32.toDType(DType.BF16, arena), y = Tensor.zeros(96, 80), dx = Tensor.zeros(96, 72);
            Tensor q = LinearBench.random(r, 2, 16, 2, 32), k = LinearBench.random(r, 2, 16, 2, 32);
            Tensor v = LinearBench.random(r, 2, 16, 2, 32), out = Tensor.zeros(2, 16, 2, 32), probs = Tensor.zeros(2, 2, 16, 16);
            Tensor dq = Tensor.zeros(2, 16, 2, 32), dk = Tensor.zeros(2, 16, 2, 32), dv = Tensor.zeros(2, 16, 2, 32);
            long end = System.nanoTime() + millis * 1_000_000L;
            for (int i = 0; i < 20 || System.nanoTime() < end; i++) {
                for (Tensor w : new Tensor[] {w32, wb}) {
                    kernels.linearForward(x, w, null, y);
                    kernels.linearBackwardInput(dy, w, dx);
                }
                kernels.attentionForward(q, k, v, null, false, 0.2f, probs, out);
                kernels.attentionBackward(out, q, k, v, probs, 0.2f, dq, dk, dv);
            }
        }
    }
}
