package dev.xgblora.bench;

import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.Arena;
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
 * Linear layer forward (y = x·Wᵀ) and input gradient (dx += dy·W) at M = 2048 rows.
 * GFLOP/s = 2·2048·out·in / (ms/op · 1e6).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 3, time = 1)
public class LinearBench {
    static final int ROWS = 2048;

    /** out x in of the weight. */
    @Param({"384x384", "1536x384", "384x1536", "4096x4096"})
    public String shape;

    @Param({"F32", "BF16"})
    public String dtype;

    @Param({"1", "2"})
    public int threads;

    @Param({"vector"})
    public String backend;

    /** Toy-size JIT priming before each trial, ms (-Dxgblora.bench.primeMs, passed with -jvmArgsAppend). */
    static final long PRIME_MS = Long.getLong("xgblora.bench.primeMs", 3000);

    Kernels kernels;
    Arena arena;
    Tensor x, w, y, dy, dx;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        int n = Integer.parseInt(s[0]), k = Integer.parseInt(s[1]);
        SplittableRandom r = new SplittableRandom(1);
        arena = Arena.ofShared();
        kernels = Backends.create(backend, threads);
        x = random(r, ROWS, k);
        dy = random(r, ROWS, n);
        Tensor w32 = random(r, n, k);
        w = DType.valueOf(dtype) == DType.F32 ? w32 : w32.toDType(DType.valueOf(dtype), arena);
        y = Tensor.zeros(ROWS, n);
        dx = Tensor.zeros(ROWS, k);
        JitPrimer.prime(kernels, PRIME_MS);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (kernels instanceof AutoCloseable c) c.close();
        arena.close();
    }

    @Benchmark
    public Tensor forward() {
        kernels.linearForward(x, w, null, y);
        return y;
    }

    @Benchmark
    public Tensor backwardInput() {
        kernels.linearBackwardInput(dy, w, dx);
        return dx;
    }

    static Tensor random(SplittableRandom r, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.count(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.fromArray(v, shape);
    }
}
