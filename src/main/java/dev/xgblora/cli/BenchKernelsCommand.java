package dev.xgblora.cli;

import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code xgblora bench kernels}: median time and GFLOP/s of the hot kernels, one row per case. */
@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = {"Time linear (forward, dX, dW) and attention (forward, backward) kernels.",
                "Linear at M=2048 rows, (out,in) in (384,384), (1536,384), (384,1536) [+ (4096,4096) with --large],",
                "F32 and BF16 weights; attention at batch 32, 12 heads, 64 tokens, head dim 32.",
                "Each case: warmup runs, then the median of --repeat timed runs."},
        footer = {"", "Examples:", "  xgblora bench kernels --threads 1,2",
                "  xgblora bench kernels --threads 1 --repeat 20 --json --large"})
public final class BenchKernelsCommand implements Callable<Integer> {
    @Option(names = "--backend", description = "Kernel backend: vector, reference, opencl[:N] or cuda[:N] (default: ${DEFAULT-VALUE}).",
            defaultValue = "vector")
    String backend;

    @Option(names = "--threads", split = ",", description = "Thread counts to run, comma separated (default: 1 and all cores).")
    int[] threads;

    @Option(names = "--repeat", defaultValue = "10", description = "Timed runs per case (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--warmup", defaultValue = "3", description = "Untimed runs per case first, at least (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--warmup-ms", defaultValue = "1000",
            description = "Warm up until no run got 10%% faster for this long, so the JIT has compiled the kernels (default: ${DEFAULT-VALUE}).")
    long warmupMs;

    @Option(names = "--jit-warmup-ms", defaultValue = "3000",
            description = "First run every op at toy sizes for this long, so the JIT compiles all paths (default: ${DEFAULT-VALUE}).")
    long jitWarmupMs;

    @Option(names = "--large", description = "Also run the 4096x4096 linear shape.")
    boolean large;

    @Option(names = "--op", description = "Only cases whose op starts with this (e.g. linear_fwd, attention).")
    String opFilter;

    @Option(names = "--cpu-time",
            description = "Time with the calling thread's CPU time instead of wall time (only with --threads 1): "
                    + "numbers that survive a machine shared with other jobs.")
    boolean cpuTime;

    @Option(names = "--json", description = "Print one JSON object per case and line instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        if (repeat < 1 || warmup < 0) throw new IllegalArgumentException("--repeat must be >= 1 and --warmup >= 0");
        int cores = Runtime.getRuntime().availableProcessors();
        int[] counts = threads != null ? threads : (cores == 1 ? new int[] {1} : new int[] {1, cores});
        if (cpuTime && Arrays.stream(counts).anyMatch(t -> t != 1)) {
            throw new IllegalArgumentException("--cpu-time measures one thread; use it with --threads 1");
        }
        if (!json) {
            System.out.printf(Locale.ROOT, "%-14s %-5s %6s %6s %6s %7s %10s %8s%n",
                    "op", "dtype", "m", "n", "k", "threads", "median_ms", "gflops");
        }
        for (int t : counts) {
            Kernels kernels = Backends.create(backend, t);
            try (Arena arena = Arena.ofShared()) {
                List<KernelBenchCase> toy = KernelBenchCase.toy(kernels, arena);
                long jitEnd = System.nanoTime() + jitWarmupMs * 1_000_000L;
                for (int round = 0; round < 20 || System.nanoTime() < jitEnd; round++) {
                    for (KernelBenchCase c : toy) c.body().run();
                }
                List<KernelBenchCase> cases = KernelBenchCase.all(kernels, large, arena);
                for (KernelBenchCase c : cases) c.body().run(); // real sizes once: their loop shapes too
                for (KernelBenchCase c : cases) {
                    if (opFilter != null && !c.op().startsWith(opFilter)) continue;
                    double ms = medianMillis(c.body(), warmup, warmupMs, repeat, cpuTime);
                    double gflops = c.flops() / (ms * 1e6);
                    if (json) {
                        System.out.printf(Locale.ROOT,
                                "{\"op\":\"%s\",\"dtype\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"threads\":%d,\"backend\":\"%s\","
                                        + "\"median_ms\":%.4f,\"gflops\":%.2f,\"repeat\":%d,\"clock\":\"%s\"}%n",
                                c.op(), c.dtype(), c.m(), c.n(), c.k(), kernels.threads(), kernels.name(), ms, gflops, repeat,
                                cpuTime ? "cpu" : "wall");
                    } else {
                        System.out.printf(Locale.ROOT, "%-14s %-5s %6d %6d %6d %7d %10.3f %8.1f%n",
                                c.op(), c.dtype(), c.m(), c.n(), c.k(), kernels.threads(), ms, gflops);
                    }
                    System.out.flush();
                }
            } finally {
                if (kernels instanceof AutoCloseable closeable) {
                    try {
                        closeable.close();
                    } catch (Exception ignored) {
                        // nothing to release beyond the threads
                    }
                }
            }
        }
        return 0;
    }

    /**
     * Median of {@code repeat} timed runs, in ms. Warmup lasts at least {@code warmup} runs, until
     * no run got 10% faster than the best so far for {@code warmupMs}, and until the last run is
     * within 25% of the best (so a JIT deoptimization is not timed while it recompiles; on a busy
     * machine that can take seconds); capped at 60 s.
     */
    static double medianMillis(Runnable body, int warmup, long warmupMs, int repeat, boolean cpuTime) {
        long start = System.nanoTime(), lastGain = start;
        double best = Double.MAX_VALUE;
        long last = Long.MAX_VALUE;
        for (int i = 0; i < warmup || System.nanoTime() - lastGain < warmupMs * 1_000_000L || last > 1.25 * best; i++) {
            long t0 = System.nanoTime();
            body.run();
            last = System.nanoTime() - t0;
            if (last < 0.9 * best) lastGain = System.nanoTime();
            best = Math.min(best, last);
            if (System.nanoTime() - start > 60_000_000_000L) break;
        }
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double[] ms = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            long t0 = cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime();
            body.run();
            ms[i] = ((cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime()) - t0) / 1e6;
        }
        return median(ms);
    }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

}
