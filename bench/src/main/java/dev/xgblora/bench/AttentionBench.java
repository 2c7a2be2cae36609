package dev.xgblora.bench;

import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Attention forward and backward at batch 32, 12 heads, 64 tokens, head dim 32 (no mask).
 * FLOPs: forward 4·B·H·T²·D = 201 M (Q·Kᵀ and P·V), backward twice that.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 3, time = 1)
public class AttentionBench {
    static final int B = 32, H = 12, T = 64, D = 32;

    @Param({"1", "2"})
    public int threads;

    @Param({"vector"})
    public String backend;

    /** Toy-size JIT priming before each trial, ms (-Dxgblora.bench.primeMs, passed with -jvmArgsAppend). */
    static final long PRIME_MS = Long.getLong("xgblora.bench.primeMs", 3000);

    Kernels kernels;
    Tensor q, k, v, probs, out, dout, dq, dk, dv;
    final float scale = (float) (1 / Math.sqrt(D));

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom r = new SplittableRandom(2);
        kernels = Backends.create(backend, threads);
        q = LinearBench.random(r, B, T, H, D);
        k = LinearBench.random(r, B, T, H, D);
        v = LinearBench.random(r, B, T, H, D);
        dout = LinearBench.random(r, B, T, H, D);
        probs = Tensor.zeros(B, H, T, T);
        out = Tensor.zeros(B, T, H, D);
        dq = Tensor.zeros(B, T, H, D);
        dk = Tensor.zeros(B, T, H, D);
        dv = Tensor.zeros(B, T, H, D);
        kernels.attentionForward(q, k, v, null, false, scale, probs, out);
        JitPrimer.prime(kernels, PRIME_MS);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (kernels instanceof AutoCloseable c) c.close();
    }

    @Benchmark
    public Tensor forward() {
        kernels.attentionForward(q, k, v, null, false, scale, probs, out);
        return out;
    }

    @Benchmark
    public Tensor backward() {
        kernels.attentionBackward(dout, q, k, v, probs, scale, dq, dk, dv);
        return dq;
    }
}
