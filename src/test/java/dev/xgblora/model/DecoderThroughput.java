package dev.xgblora.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Throughput of the decoder on a synthetic random model (hidden 512, 4 layers, 8 heads / 4 kv heads,
 * FFN 1376, vocab 4096) with the vector kernels: a training step with rank-1 adapters, an inference
 * forward, and greedy generation. Not a unit test; run by hand:
 * <pre>
 * mvn -q -o -DskipTests package test-compile
 * java --add-modules jdk.incubator.vector -cp "target/test-classes:target/classes:target/lib/*" \
 *      dev.xgblora.model.DecoderThroughput [f32|bf16] [threads] [profile]
 * </pre>
 * "profile" prints the time spent in each kernel op.
 */
public final class DecoderThroughput {
    private DecoderThroughput() {
    }

    public static void main(String[] args) throws Exception {
        DType dtype = args.length > 0 && args[0].equalsIgnoreCase("bf16") ? DType.BF16 : DType.F32;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        boolean profile = args.length > 2 && args[2].equals("profile");
        String json = """
                {"model_type": "llama", "hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 4,
                 "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 4096, "rms_norm_eps": 1e-5,
                 "rope_theta": 10000.0, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}""";
        ModelConfig cfg = ModelConfig.fromJson((ObjectNode) new ObjectMapper().readTree(json), "synthetic");
        Random rng = new Random(1);
        Map<String, long[]> ops = new TreeMap<>();
        try (VectorKernels vk = new VectorKernels(threads, new ReferenceKernels())) {
            Kernels kernels = profile ? timed(vk, ops) : vk;
            LlamaDecoder m = new LlamaDecoder(cfg, n -> random(n, cfg, dtype, rng), kernels);
            int b = 4, t = 128;
            int[][] ids = new int[b][t];
            int[][] mask = new int[b][t];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < t; j++) {
                    ids[i][j] = rng.nextInt(cfg.vocabSize());
                    mask[i][j] = 1;
                }
            }
            System.out.printf("synthetic llama %s, %d threads, batch %dx%d%n", dtype, threads, b, t);
            for (Linear l : m.linears()) {
                if (l.module().equals("q_proj") || l.module().equals("v_proj")) l.attach(LoraAdapter.create(l, 1, 1f, rng));
            }
            time("train step, rank-1 q/v adapters in every layer", b * t, () -> {
                m.loss(ids, mask, null);
                m.backward();
            }, ops);
            for (Linear l : m.linears()) if (l.layer() < m.numLayers() - 1) l.detach();
            time("train step, rank-1 q/v adapters in the top layer", b * t, () -> {
                m.loss(ids, mask, null);
                m.backward();
            }, ops);
            time("inference forward", b * t, () -> m.inferLogits(ids, mask), ops);
            int[] prompt = Arrays.copyOf(ids[0], 16);
            time("greedy generation, 64 tokens after 16 (KV cache)", 64, () -> m.generate(prompt, 64, 1f, 0f, 0), ops);
        }
    }

    private static Tensor random(String name, ModelConfig c, DType dtype, Random rng) {
        int h = c.hiddenSize(), f = c.intermediateSize(), v = c.vocabSize();
        int q = c.numHeads() * c.headDim(), kv = c.numKvHeads() * c.headDim();
        long[] shape;
        if (name.endsWith("embed_tokens.weight") || name.equals("lm_head.weight")) shape = new long[]{v, h};
        else if (name.endsWith("norm.weight")) shape = new long[]{h};
        else if (name.endsWith("q_proj.weight")) shape = new long[]{q, h};
        else if (name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) shape = new long[]{kv, h};
        else if (name.endsWith("o_proj.weight")) shape = new long[]{h, q};
        else if (name.endsWith("gate_proj.weight") || name.endsWith("up_proj.weight")) shape = new long[]{f, h};
        else if (name.endsWith("down_proj.weight")) shape = new long[]{h, f};
        else return null;
        boolean norm = name.contains("norm");
        float[] values = new float[(int) Tensor.count(shape)];
        for (int i = 0; i < values.length; i++) values[i] = norm ? 1f : (float) rng.nextGaussian() * 0.02f;
        Tensor t = Tensor.fromArray(values, shape);
        return norm || dtype == DType.F32 ? t : t.toDType(dtype, Arena.ofAuto());
    }

    /** Median of 5 timed runs after one warm-up. */
    private static void time(String what, int tokens, Runnable r, Map<String, long[]> ops) {
        r.run();
        ops.clear();
        double[] s = new double[5];
        for (int i = 0; i < s.length; i++) {
            long t0 = System.nanoTime();
            r.run();
            s[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(s);
        System.out.printf("%-52s median %.3f s  %7.0f tokens/s%n", what, s[2], tokens / s[2]);
        ops.forEach((k, v) -> System.out.printf("    %-22s %7.3f s per run, %d calls%n", k, v[0] / 1e9 / s.length, v[1] / s.length));
    }

    private static Kernels timed(Kernels k, Map<String, long[]> ops) {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[]{Kernels.class}, (p, m, a) -> {
            long t0 = System.nanoTime();
            try {
                return m.invoke(k, a);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            } finally {
                long[] acc = ops.computeIfAbsent(m.getName(), x -> new long[2]);
                acc[0] += System.nanoTime() - t0;
                acc[1]++;
            }
        });
    }
}
