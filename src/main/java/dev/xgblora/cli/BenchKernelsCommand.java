package dev.xgblora.cli;

import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;

import java.lang.foreign.Arena;
import java.util.Arrays;
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
    @Option(names = "--backend", description = "Kernel backend: vector or reference (default: ${DEFAULT-VALUE}).",
            defaultValue = "vector")
    String backend;

    @Option(names = "--threads", split = ",", description = "Thread counts to run, comma separated (default: 1 and all cores).")
    int[] threads;

    @Option(names = "--repeat", defaultValue = "10", description = "Timed runs per case (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--warmup", defaultValue = "3", description = "Untimed runs per case first, at least (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--warmup-ms", defaultValue = "2000",
            description = "Keep warming up until this much time has passed, so the JIT has compiled the kernels (default: ${DEFAULT-VALUE}).")
    long warmupMs;

    @Option(names = "--large", description = "Also run the 4096x4096 linear shape.")
    boolean large;

    @Option(names = "--op", description = "Only cases whose op starts with this (e.g. linear_fwd, attention).")
    String opFilter;

    @Option(names = "--json", description = "Print one JSON object per case and line instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        if (repeat < 1 || warmup < 0) throw new IllegalArgumentException("--repeat must be >= 1 and --warmup >= 0");
        int cores = Runtime.getRuntime().availableProcessors();
        int[] counts = threads != null ? threads : (cores == 1 ? new int[] {1} : new int[] {1, cores});
        if (!json) {
            System.out.printf(Locale.ROOT, "%-14s %-5s %6s %6s %6s %7s %10s %8s%n",
                    "op", "dtype", "m", "n", "k", "threads", "median_ms", "gflops");
        }
        for (int t : counts) {
            Kernels kernels = Backends.create(backend, t);
            try (Arena arena = Arena.ofShared()) {
                for (KernelBenchCase c : KernelBenchCase.all(kernels, large, arena)) {
                    if (opFilter != null && !c.op().startsWith(opFilter)) continue;
                    double ms = medianMillis(c.body(), warmup, warmupMs, repeat);
                    double gflops = c.flops() / (ms * 1e6);
                    if (json) {
                        System.out.printf(Locale.ROOT,
                                "{\"op\":\"%s\",\"dtype\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"threads\":%d,\"backend\":\"%s\","
                                        + "\"median_ms\":%.4f,\"gflops\":%.2f,\"repeat\":%d}%n",
                                c.op(), c.dtype(), c.m(), c.n(), c.k(), kernels.threads(), kernels.name(), ms, gflops, repeat);
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

    /** Median wall time of {@code repeat} runs after at least {@code warmup} runs and {@code warmupMs}, in ms. */
    static double medianMillis(Runnable body, int warmup, long warmupMs, int repeat) {
        long end = System.nanoTime() + warmupMs * 1_000_000;
        for (int i = 0; i < warmup || (System.nanoTime() < end && i < 1000); i++) body.run();
        double[] ms = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            long t0 = System.nanoTime();
            body.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
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
