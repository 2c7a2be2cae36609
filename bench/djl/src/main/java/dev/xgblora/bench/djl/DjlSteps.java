package dev.xgblora.bench.djl;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

/**
 * Training-step throughput of all-MiniLM-L6-v2 in PyTorch 2.7.1 (libtorch with MKL) driven from
 * Java through DJL 0.36: the third column of bench/throughput.sh, beside {@code xgblora bench step}
 * and bench/torch_steps.py. Same model, batch, head and adapter initialisation and seed as those
 * two, the same step (zero gradients, forward, backward, global gradient norm, AdamW with weight
 * decay 0.01 on matrices only, PyTorch's AdamW update formula), and the same JSON line with
 * "impl": "djl". Methods: xgblora, lora, full, qv-r1-all (see bench/torch_steps.py).
 *
 * <p>Run offline: -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=N
 * -Dai.djl.pytorch.num_interop_threads=1 (bench/djl-steps.sh sets them).
 */
public final class DjlSteps {
    static final List<String> METHODS = List.of("xgblora", "lora", "full", "qv-r1-all");

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = parse(argv);
        String method = a.getOrDefault("method", "xgblora");
        if (!METHODS.contains(method)) throw new IllegalArgumentException("unknown method '" + method + "' (expected " + String.join(", ", METHODS) + ")");
        int batch = Integer.parseInt(a.getOrDefault("batch", "32")), seq = Integer.parseInt(a.getOrDefault("seq", "64"));
        int steps = Integer.parseInt(a.getOrDefault("steps", "20")), warmup = Integer.parseInt(a.getOrDefault("warmup", "3"));
        int rank = Integer.parseInt(a.getOrDefault("rank", "8"));
        float alpha = Float.parseFloat(a.getOrDefault("alpha", "16"));
        long seed = Long.parseLong(a.getOrDefault("seed", "0"));
        float lr = Float.parseFloat(a.getOrDefault("lr", "1e-4"));
        if (batch < 1 || seq < 1 || steps < 1 || warmup < 0) throw new IllegalArgumentException("--batch, --seq, --steps must be >= 1 and --warmup >= 0");
        if (a.containsKey("threads")) System.setProperty("ai.djl.pytorch.num_threads", a.get("threads"));
        Path dir = Path.of(a.getOrDefault("model", defaultModelDir()));
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            throw new IllegalArgumentException(dir + ": no model.safetensors; run `./xgblora import-onnx` first or pass --model");
        }
        JsonNode cfg = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        int nLayers = cfg.get("num_hidden_layers").asInt();

        Engine engine = Engine.getEngine("PyTorch");
        JniUtils.setGradMode(false); // updates outside the collector record nothing
        try (NDManager m = NDManager.newBaseManager()) {
            MiniLmClassifier model = new MiniLmClassifier(cfg, SafeTensors.load(dir.resolve("model.safetensors"), m), method.equals("full"), seed, m);
            int[] adapted = attachAdapters(model, method, a.get("layers"), nLayers, rank, alpha, seed, m);
            List<NDArray> trainable = new ArrayList<>();
            if (method.equals("full")) trainable.addAll(model.all);
            for (MiniLmClassifier.Layer l : model.layers) {
                for (MiniLmClassifier.Lin lin : l.lins.values()) {
                    if (lin.a != null) {
                        trainable.add(lin.a);
                        trainable.add(lin.b);
                    }
                }
            }
            trainable.add(model.headW);
            trainable.add(model.headB);
            AdamW opt = new AdamW(trainable, 0.9f, 0.999f, 1e-8f, 0.01f, m);

            // the same batch as `xgblora bench step --seed`
            Random g = new Random(seed);
            int vocab = cfg.get("vocab_size").asInt();
            long[] ids = new long[batch * seq];
            float[] mask = new float[batch * seq];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 1000 + g.nextInt(Math.max(1, vocab - 1000));
                mask[i] = 1;
            }
            float[] oneHot = new float[batch * 2];
            for (int i = 0; i < batch; i++) oneHot[i * 2 + g.nextInt(2)] = 1;
            NDArray idsA = MiniLmClassifier.owned(m.create(ids, new Shape(batch, seq)));
            NDArray maskA = MiniLmClassifier.owned(m.create(mask, new Shape(batch, seq)));
            NDArray maskAdd = maskA.neg().add(1f).mul(-Float.MAX_VALUE).reshape(batch, 1, 1, seq);
            NDArray poolMask = maskA.reshape(batch, seq, 1);
            NDArray labels = MiniLmClassifier.owned(m.create(oneHot, new Shape(batch, 2)));

            double[] ms = new double[steps], cpuMs = new double[steps];
            double firstLoss = 0, lastLoss = 0;
            for (int i = 0; i < warmup + steps; i++) {
                long t0 = System.nanoTime();
                double c0 = processCpuMs();
                double loss;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    for (NDArray p : trainable) {
                        if (p.hasGradient()) JniUtils.zeroGrad((PtNDArray) p);
                    }
                    try (GradientCollector gc = engine.newGradientCollector()) {
                        NDArray logits = model.forward(idsA, maskAdd, poolMask);
                        NDArray l = logits.logSoftmax(-1).mul(labels).sum().neg().div(batch); // cross-entropy, mean over the batch
                        gc.backward(l);
                        loss = l.getFloat();
                    }
                    NDList norms = new NDList();
                    for (NDArray p : trainable) norms.add(p.getGradient().norm());
                    NDArrays.stack(norms).norm().getFloat(); // the Java trainer computes the global norm every step
                    opt.step(lr);
                }
                long t1 = System.nanoTime();
                if (i == 0) firstLoss = loss;
                lastLoss = loss;
                if (i >= warmup) {
                    ms[i - warmup] = (t1 - t0) / 1e6;
                    cpuMs[i - warmup] = processCpuMs() - c0;
                }
            }
            double med = median(ms);
            long nTrain = 0;
            for (NDArray p : trainable) nTrain += p.size();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("impl", "djl");
            r.put("method", method);
            r.put("tokens_per_s", round(batch * seq / (med / 1e3), 1));
            r.put("step_ms_median", round(med, 2));
            r.put("step_ms_min", round(Arrays.stream(ms).min().orElseThrow(), 2));
            r.put("cpu_ms_median", round(median(cpuMs), 1));
            r.put("peak_rss_mib", round(peakRssMib(), 1));
            r.put("batch", batch);
            r.put("seq", seq);
            r.put("steps", steps);
            r.put("warmup", warmup);
            r.put("threads", Integer.parseInt(System.getProperty("ai.djl.pytorch.num_threads", "-1")));
            r.put("trainable_params", nTrain);
            r.put("loss_first", round(firstLoss, 6));
            r.put("loss_last", round(lastLoss, 6));
            r.put("torch", engine.getVersion());
            r.put("djl", Engine.getDjlVersion());
            if (adapted != null) r.put("layers", adapted);
            System.out.println(new ObjectMapper().writeValueAsString(r));
        }
    }

    /** Attaches the method's adapters in the order the other two implementations draw them; returns the adapted layers. */
    static int[] attachAdapters(MiniLmClassifier model, String method, String layersArg, int n, int rank, float alpha, long seed, NDManager m) {
        if (method.equals("full")) return null;
        TreeSet<Integer> at = new TreeSet<>();
        List<String> targets = MiniLmClassifier.TARGETS;
        int r = 1;
        float scale = 16f;
        switch (method) {
            case "xgblora" -> {
                if (layersArg != null) {
                    for (String s : layersArg.split(",")) at.add(Integer.parseInt(s.trim()));
                } else if (n >= 2) {
                    at.add(n - 2);
                    at.add(n - 1);
                } else {
                    at.add(0);
                }
                for (int l : at) if (l < 0 || l >= n) throw new IllegalArgumentException("--layers " + l + ": the model has layers 0.." + (n - 1));
            }
            case "lora" -> {
                if (rank < 1) throw new IllegalArgumentException("--rank must be >= 1, got " + rank);
                for (int l = 0; l < n; l++) at.add(l);
                r = rank;
                scale = alpha / rank;
            }
            default -> { // qv-r1-all
                for (int l = 0; l < n; l++) at.add(l);
                targets = List.of("query", "value");
            }
        }
        Random rng = new Random(seed + 1);
        for (int l : at) {
            for (String t : MiniLmClassifier.TARGETS) {
                if (targets.contains(t)) model.layers.get(l).lins.get(t).attach(r, scale, rng, m);
            }
        }
        return at.stream().mapToInt(Integer::intValue).toArray();
    }

    /** PyTorch's AdamW (single-tensor form): decoupled weight decay on matrices, none on vectors. */
    static final class AdamW {
        final List<NDArray> params, m1 = new ArrayList<>(), m2 = new ArrayList<>();
        final float beta1, beta2, eps, wd;
        int t;

        AdamW(List<NDArray> params, float beta1, float beta2, float eps, float wd, NDManager m) {
            this.params = params;
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.eps = eps;
            this.wd = wd;
            for (NDArray p : params) {
                m1.add(m.zeros(p.getShape()));
                m2.add(m.zeros(p.getShape()));
            }
        }

        void step(float lr) {
            t++;
            double bc1 = 1 - Math.pow(beta1, t), bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
            for (int i = 0; i < params.size(); i++) {
                NDArray p = params.get(i), g = p.getGradient(), m = m1.get(i), v = m2.get(i);
                if (p.getShape().dimension() >= 2) p.muli(1 - lr * wd);
                m.muli(beta1).addi(g.mul(1 - beta1));
                v.muli(beta2).addi(g.mul(g).muli(1 - beta2));
                NDArray denom = v.sqrt().divi(bc2Sqrt).addi(eps);
                p.subi(m.div(denom).muli(lr / bc1));
            }
        }
    }

    static String defaultModelDir() {
        String home = System.getenv("XGBLORA_HOME");
        Path h = home != null && !home.isEmpty() ? Path.of(home) : Path.of(System.getProperty("user.home"), ".cache", "xgblora");
        return h.resolve("models").resolve("all-minilm-l6-v2").toString();
    }

    static Map<String, String> parse(String[] argv) {
        Map<String, String> a = new LinkedHashMap<>();
        List<String> known = List.of("method", "model", "layers", "rank", "alpha", "batch", "seq", "steps", "warmup", "threads", "seed", "lr");
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("-h") || argv[i].equals("--help")) {
                System.out.println("usage: DjlSteps --method xgblora|lora|full|qv-r1-all [--batch 32] [--seq 64] [--steps 20] [--warmup 3] "
                        + "[--threads 2] [--layers 4,5] [--rank 8] [--alpha 16] [--seed 0] [--lr 1e-4] [--model DIR]");
                System.exit(0);
            }
            String k = argv[i].startsWith("--") ? argv[i].substring(2) : null;
            if (k == null || !known.contains(k) || i + 1 >= argv.length) throw new IllegalArgumentException("bad argument '" + argv[i] + "' (see --help)");
            a.put(k, argv[++i]);
        }
        return a;
    }

    static double peakRssMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        } catch (Exception ignored) {
            // not Linux: no figure
        }
        return -1;
    }

    static double processCpuMs() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10.0;
        } catch (Exception e) {
            return Double.NaN;
        }
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int k = s.length / 2;
        return s.length % 2 == 1 ? s[k] : (s[k - 1] + s[k]) / 2;
    }

    static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }
}
