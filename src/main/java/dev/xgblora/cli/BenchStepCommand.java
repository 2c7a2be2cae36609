package dev.xgblora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.ModelCache;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.BertConfig;
import dev.xgblora.model.BertEncoder;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LoraAdapter;
import dev.xgblora.model.Param;
import dev.xgblora.train.AdamW;
import dev.xgblora.train.Batch;
import dev.xgblora.train.EncodedBatch;
import dev.xgblora.train.EncoderClassifier;
import dev.xgblora.train.GradientClipper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * {@code xgblora bench step}: time of one optimizer step (forward, backward, AdamW) on a BERT
 * encoder with a fixed synthetic batch, the same step sequence as the trainer's (zero gradients,
 * train step, global gradient norm, AdamW on adapters and on the other trainables). The peer in
 * plain PyTorch is bench/torch_steps.py; bench/throughput.sh runs both.
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = {"Training-step throughput (tokens/s) and peak resident memory of one method on a BERT encoder "
                + "(default: all-MiniLM-L6-v2 from the model cache), mean pooling + 2-class head, a fixed random batch "
                + "with every position valid. Methods: xgblora (rank-1, scale 16, six targets on --layers), "
                + "lora (rank --rank, alpha --alpha, six targets on all layers), full (every weight), "
                + "qv-r1-all (rank-1 on query and value of all layers). Measure one method per process: "
                + "peak RSS is a process high-water mark. Also prints the heap bytes allocated per step (all Java threads), "
                + "on --device opencl the host-to-device and device-to-host bytes of a step, "
                + "the model FLOPs of a step (the matrix products the method needs) and their rate as a share of the "
                + "f32 FMA peak of --threads cores. bench/step-spread.sh repeats it in fresh JVMs."},
        footer = {"", "Examples:",
                "  xgblora bench step --method xgblora --batch 32 --seq 64 --steps 20 --json",
                "  xgblora bench step --method lora --rank 8 --threads 2",
                "  xgblora bench step --method xgblora --layers 0,1   # worst case: backward through every layer"})
public final class BenchStepCommand implements Callable<Integer> {
    static final List<String> METHODS = List.of("xgblora", "lora", "full", "qv-r1-all");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--method", required = true, paramLabel = "M", description = "xgblora, lora, full or qv-r1-all.")
    String method;

    @Option(names = "--model", paramLabel = "DIR", description = "Model directory (config.json + safetensors); default: imported all-MiniLM-L6-v2.")
    Path model;

    @Option(names = "--layers", split = ",", paramLabel = "L", description = "xgblora: adapted layers (default: the top two, 4,5 on six layers).")
    int[] layers;

    @Option(names = "--rank", defaultValue = "8", description = "lora: rank (default ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--alpha", defaultValue = "16", description = "lora: alpha, scale = alpha/rank (default ${DEFAULT-VALUE}).")
    float alpha;

    @Option(names = "--batch", defaultValue = "32", description = "Sequences per step (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq", defaultValue = "64", description = "Tokens per sequence (default ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--lengths", split = ",", paramLabel = "T",
            description = "Ragged batches: step i uses sequence length T[i mod n] instead of --seq (every position valid, as a "
                    + "bucketed batch); tokens/s then counts all timed tokens over all timed steps' time. --steps must be a multiple of n. "
                    + "bench/ragged-step.sh compares it with fixed-length runs at the same lengths.")
    int[] lengths;

    @Option(names = "--steps", defaultValue = "20", description = "Timed steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--threads", paramLabel = "N", description = "Kernel threads (default: -Dxgblora.threads or all processors).")
    Integer threads;

    @Option(names = {"--kernels", "--device"}, defaultValue = "vector", description = "Kernel backend: vector, reference, opencl[:N], cuda[:N]; --device cpu = vector (default ${DEFAULT-VALUE}).")
    String kernels;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the batch, head and adapters (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--lr", defaultValue = "1e-4", description = "AdamW learning rate of every trainable (default ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--peak-gflops", paramLabel = "G", description = "f32 FMA peak of --threads cores in GFLOP/s for the utilisation figure "
            + "(default: estimated from /proc/cpuinfo and the Vector API's lane count; the basis is printed).")
    Double peakGflops;

    @Option(names = "--json", description = "Print one JSON line instead of text.")
    boolean json;

    @Option(names = "--profile-ops", description = "Also time every kernel op over the timed steps: ms per step, share of the step, calls "
            + "per step, and the time outside kernels (the model's Java). Adds ~0.1 µs per kernel call; compare runs with the same flag.")
    boolean profileOps;

    @Override
    public Integer call() throws IOException {
        if (!METHODS.contains(method)) throw new IllegalArgumentException("unknown method '" + method + "' (expected " + String.join(", ", METHODS) + ")");
        if (batch < 1 || seq < 1 || steps < 1 || warmup < 0) throw new IllegalArgumentException("--batch, --seq, --steps must be >= 1 and --warmup >= 0");
        Path dir = model != null ? model : ModelCache.miniLm();
        int nThreads = threads != null ? threads : Backends.threadsProperty();
        Kernels raw = Backends.create(kernels.equals("cpu") ? "vector" : kernels, nThreads);
        OpProfile profile = profileOps ? new OpProfile(raw) : null;
        Kernels k = profile != null ? profile.kernels() : raw;
        try (WeightStore store = WeightStore.open(dir)) {
            BertEncoder encoder = new BertEncoder(bertConfig(ModelConfig.load(dir), dir), store::tensor, k);
            if (lengths == null && seq > encoder.config().maxPositions()) throw new IllegalArgumentException("--seq " + seq + " exceeds the model's " + encoder.config().maxPositions() + " positions");
            EncoderClassifier clf = new EncoderClassifier(encoder, 2, EncoderClassifier.PoolingMode.MEAN, seed);
            AdamW adapterOpt = AdamW.standard(k, 0.01f), otherOpt = AdamW.standard(k, 0.01f);
            int[] adapted = setUp(encoder, clf, adapterOpt, otherOpt);
            List<Param> all = new ArrayList<>(adapterOpt.params());
            all.addAll(otherOpt.params());
            int[] cycle = lengths != null ? lengths : new int[]{seq};
            if (Arrays.stream(cycle).distinct().count() != cycle.length) throw new IllegalArgumentException("--lengths must be distinct, got " + Arrays.toString(cycle));
            if (cycle.length == 0 || steps % cycle.length != 0) {
                throw new IllegalArgumentException("--steps " + steps + " must be a multiple of the " + cycle.length + " --lengths, so each length is timed equally");
            }
            Batch[] batches = new Batch[cycle.length];
            for (int j = 0; j < cycle.length; j++) {
                if (cycle[j] < 1 || cycle[j] > encoder.config().maxPositions()) {
                    throw new IllegalArgumentException("--lengths " + cycle[j] + ": expected 1.." + encoder.config().maxPositions() + " (the model's positions)");
                }
                batches[j] = syntheticBatch(encoder.config().vocabSize(), cycle[j], seed + j);
            }

            double[] ms = new double[steps], cpuMs = new double[steps], alloc = new double[steps];
            double[] up = new double[steps], down = new double[steps]; // host↔device bytes per step (opencl)
            boolean device = k.bytesMoved() != null; // a device backend (the CPU path loads no device class)
            double firstLoss = 0, lastLoss = 0, timedTokens = 0;
            for (int i = 0; i < warmup + steps; i++) {
                if (profile != null) profile.record(i >= warmup);
                long a0 = allocatedBytes();
                long t0 = System.nanoTime();
                double c0 = processCpuMs();
                long[] x0 = k.bytesMoved();
                k.stepStarts(); // as Trainer does: a device backend replays its recorded launch list
                adapterOpt.zeroGrad();
                otherOpt.zeroGrad();
                Batch b = batches[i % cycle.length];
                double loss = clf.trainStep(b, 1f);
                GradientClipper.globalNorm(k, all);
                adapterOpt.step(lr);
                otherOpt.step(lr);
                long t1 = System.nanoTime();
                long a1 = allocatedBytes();
                if (i == 0) firstLoss = loss;
                lastLoss = loss;
                if (i >= warmup) {
                    timedTokens += b.tokens().ids().length; // every position is valid
                    ms[i - warmup] = (t1 - t0) / 1e6;
                    cpuMs[i - warmup] = processCpuMs() - c0;
                    alloc[i - warmup] = a0 < 0 || a1 < 0 ? Double.NaN : a1 - a0;
                    if (device) {
                        long[] x = k.bytesMoved();
                        up[i - warmup] = x[0] - x0[0];
                        down[i - warmup] = x[1] - x0[1];
                    }
                }
            }
            double median = median(ms);
            FmaPeak peak = peakGflops != null ? FmaPeak.given(peakGflops) : FmaPeak.estimate(nThreads);
            // fixed length: the median step; ragged: every timed step's tokens and FLOPs over their summed time
            double stepFlops = 0, stepForward = 0, stepTokens = timedTokens / steps; // means over the lengths
            for (int t : cycle) {
                StepFlops f = StepFlops.of(encoder, batch, t);
                stepFlops += f.total() / cycle.length;
                stepForward += f.forward() / cycle.length;
            }
            double stepSeconds = (lengths == null ? median : Arrays.stream(ms).sum() / steps) / 1e3;
            double gflops = stepFlops / stepSeconds / 1e9;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("impl", "java");
            r.put("method", method);
            r.put("tokens_per_s", round1(stepTokens / stepSeconds));
            r.put("step_ms_median", round2(median));
            r.put("step_ms_min", round2(Arrays.stream(ms).min().orElseThrow()));
            r.put("cpu_ms_median", round1(median(cpuMs))); // all threads (JIT and GC too); less sensitive to load
            r.put("alloc_mib_per_step", round2(median(alloc) / 1048576.0)); // heap bytes allocated by all Java threads, median step
            r.put("alloc_mib_per_step_max", round2(Arrays.stream(alloc).max().orElseThrow() / 1048576.0));
            if (device) { // what crosses the bus in a step (median): the batch's inputs and the loss/norm scalars
                r.put("device_bytes_up_per_step", Math.round(median(up)));
                r.put("device_bytes_down_per_step", Math.round(median(down)));
            }
            r.put("model_flop_per_step", Math.round(stepFlops)); // matrix products the method needs (StepFlops)
            r.put("model_flop_forward", Math.round(stepForward));
            r.put("gflops", round3(gflops)); // 3 decimals: tiny test models run below 1 GFLOP/s
            r.put("peak_gflops", round1(peak.gflops()));
            r.put("utilisation", round3(gflops / peak.gflops())); // model FLOP/s over the f32 FMA peak
            r.put("peak_basis", peak.basis());
            r.put("peak_rss_mib", round1(peakRssMib()));
            r.put("heap_max_mib", round1(Runtime.getRuntime().maxMemory() / 1048576.0)); // peak RSS follows the heap limit
            r.put("batch", batch);
            if (lengths == null) {
                r.put("seq", seq);
            } else {
                r.put("lengths", lengths);
                Map<String, Double> byLength = new LinkedHashMap<>();
                for (int j = 0; j < cycle.length; j++) { // timed step i ran length (warmup + i) mod n
                    double[] of = new double[steps / cycle.length];
                    for (int i = 0; i < of.length; i++) of[i] = ms[Math.floorMod(j - warmup, cycle.length) + i * cycle.length];
                    byLength.put(String.valueOf(cycle[j]), round2(median(of)));
                }
                r.put("step_ms_median_by_length", byLength);
            }
            r.put("steps", steps);
            r.put("warmup", warmup);
            r.put("threads", nThreads);
            r.put("trainable_params", count(all));
            r.put("graph_starts_at_layer", encoder.firstLayerNeedingGrad());
            r.put("loss_first", round6(firstLoss));
            r.put("loss_last", round6(lastLoss));
            r.put("kernels", kernels);
            r.put("java", Runtime.version().toString());
            if (adapted != null) r.put("layers", adapted);
            double meanMs = Arrays.stream(ms).sum() / steps;
            if (profile != null) {
                List<Map<String, Object>> ops = new ArrayList<>();
                for (OpProfile.Op o : profile.ops(steps)) {
                    ops.add(Map.of("op", o.name(), "ms_per_step", round2(o.msPerStep()), "calls_per_step", round1(o.callsPerStep())));
                }
                r.put("step_ms_mean", round2(meanMs));
                r.put("ops", ops);
            }
            var out = spec.commandLine().getOut();
            if (json) {
                out.println(new ObjectMapper().writeValueAsString(r));
            } else {
                r.forEach((key, v) -> {
                    if (!key.equals("ops")) out.printf("%-22s %s%n", key, v instanceof int[] a ? Arrays.toString(a) : v);
                });
                if (profile != null) out.print(profile.table(steps, meanMs));
            }
            out.flush();
        } finally {
            if (raw instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // shutting down worker threads; nothing to report
                }
            }
        }
        return 0;
    }

    /** Makes the method's params trainable and registers them; returns the adapted layers (null for full). */
    private int[] setUp(BertEncoder encoder, EncoderClassifier clf, AdamW adapterOpt, AdamW otherOpt) {
        for (Param p : clf.headParams()) otherOpt.add(p, 1f);
        int n = encoder.numLayers();
        Set<String> targets;
        Set<Integer> at = new TreeSet<>();
        int r;
        float scale;
        switch (method) {
            case "full" -> {
                for (Param p : encoder.params()) {
                    p.setTrainable(true);
                    otherOpt.add(p, 1f);
                }
                return null;
            }
            case "xgblora" -> {
                targets = Set.copyOf(BertEncoder.MODULES);
                int[] ls = layers != null ? layers : n >= 2 ? new int[]{n - 2, n - 1} : new int[]{0};
                for (int l : ls) {
                    if (l < 0 || l >= n) throw new IllegalArgumentException("--layers " + l + ": the model has layers 0.." + (n - 1));
                    at.add(l);
                }
                r = 1;
                scale = 16f;
            }
            case "lora" -> {
                targets = Set.copyOf(BertEncoder.MODULES);
                for (int l = 0; l < n; l++) at.add(l);
                if (rank < 1) throw new IllegalArgumentException("--rank must be >= 1, got " + rank);
                r = rank;
                scale = alpha / rank;
            }
            default -> { // qv-r1-all
                targets = Set.of("query", "value");
                for (int l = 0; l < n; l++) at.add(l);
                r = 1;
                scale = 16f;
            }
        }
        Random rng = new Random(seed + 1);
        for (Linear lin : encoder.linears()) {
            if (!at.contains(lin.layer()) || !targets.contains(lin.module())) continue;
            LoraAdapter a = LoraAdapter.create(lin, r, scale, rng);
            lin.attach(a);
            adapterOpt.add(a.a(), 1f);
            adapterOpt.add(a.b(), 1f);
        }
        return at.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Random token ids in [1000, vocab) (clear of BERT's special tokens), every position valid, random labels. */
    private Batch syntheticBatch(int vocab, int seq, long seed) {
        Random rng = new Random(seed);
        int[] ids = new int[batch * seq], mask = new int[batch * seq], labels = new int[batch];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1000 + rng.nextInt(Math.max(1, vocab - 1000));
            mask[i] = 1;
        }
        for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(2);
        return new Batch(new EncodedBatch(ids, mask, null, batch, seq), labels);
    }

    static BertConfig bertConfig(ModelConfig c, Path dir) {
        if (!c.modelType().equals("bert")) throw new IllegalArgumentException(dir + ": model_type '" + c.modelType() + "', bench step needs a BERT encoder");
        return new BertConfig(c.hiddenSize(), c.numLayers(), c.numHeads(), c.intermediateSize(), c.vocabSize(),
                c.maxPositions(), c.typeVocabSize(), c.normEps(), c.hiddenAct());
    }

    /** Peak resident set size (VmHWM) in MiB, or -1 where /proc is absent. */
    static double peakRssMib() {
        long b = dev.xgblora.train.ResidentMemory.peak();
        return b < 0 ? -1 : b / 1048576.0;
    }

    /**
     * Heap bytes allocated so far by all Java threads, live and ended (the caller and the kernel
     * pool included), from HotSpot's per-thread allocation counters; -1 where unsupported.
     */
    static long allocatedBytes() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported()) {
            return t.getTotalThreadAllocatedBytes();
        }
        return -1;
    }

    /** CPU time of the whole process (user + system, all threads) in ms, from /proc (10 ms ticks); NaN elsewhere. */
    static double processCpuMs() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10.0; // utime, stime at USER_HZ = 100
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    private static long count(List<Param> ps) {
        long n = 0;
        for (Param p : ps) n += p.numel();
        return n;
    }

    private static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private static double round6(double v) {
        return Math.round(v * 1e6) / 1e6;
    }
}
