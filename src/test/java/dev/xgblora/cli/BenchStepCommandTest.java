package dev.xgblora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.kernels.Backends;
import dev.xgblora.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code xgblora bench step} runs the same computation as its plain-PyTorch peer
 * (bench/torch_steps.py): on a tiny BERT both draw the same batch, head and adapters, so the loss
 * before the first step and after three AdamW steps must match the PyTorch golden values
 * (src/test/resources/golden/benchstep/, made by make_bench_step_golden.py).
 */
class BenchStepCommandTest {
    static final String GOLDEN = "/golden/benchstep/bench_step_losses.json";
    static final ObjectMapper JSON = new ObjectMapper();
    static JsonNode golden;
    @TempDir
    static Path modelDir;

    @BeforeAll
    static void writeTinyModel() throws IOException {
        try (InputStream in = BenchStepCommandTest.class.getResourceAsStream(GOLDEN)) {
            golden = JSON.readTree(in);
        }
        JsonNode cfg = golden.get("config");
        Files.writeString(modelDir.resolve("config.json"), JSON.writeValueAsString(cfg));
        SafeTensorsWriter.write(modelDir.resolve("model.safetensors"), tinyWeights(cfg), Map.of("format", "pt"));
    }

    /** The generator of make_bench_step_golden.py: java.util.Random(42), (u·2 − 1)·scale in float32, fixed order. */
    static Map<String, Tensor> tinyWeights(JsonNode cfg) {
        Random rng = new Random(42);
        int c = cfg.get("hidden_size").asInt(), ff = cfg.get("intermediate_size").asInt();
        Map<String, Tensor> w = new LinkedHashMap<>();
        uniform(w, rng, "embeddings.word_embeddings.weight", 0.5, false, cfg.get("vocab_size").asInt(), c);
        uniform(w, rng, "embeddings.position_embeddings.weight", 0.5, false, cfg.get("max_position_embeddings").asInt(), c);
        uniform(w, rng, "embeddings.token_type_embeddings.weight", 0.5, false, cfg.get("type_vocab_size").asInt(), c);
        norm(w, rng, "embeddings.LayerNorm", c);
        for (int l = 0; l < cfg.get("num_hidden_layers").asInt(); l++) {
            String p = "encoder.layer." + l + ".";
            for (String m : List.of("query", "key", "value")) dense(w, rng, p + "attention.self." + m, c, c);
            dense(w, rng, p + "attention.output.dense", c, c);
            norm(w, rng, p + "attention.output.LayerNorm", c);
            dense(w, rng, p + "intermediate.dense", ff, c);
            dense(w, rng, p + "output.dense", c, ff);
            norm(w, rng, p + "output.LayerNorm", c);
        }
        return w;
    }

    private static void dense(Map<String, Tensor> w, Random rng, String name, int out, int in) {
        uniform(w, rng, name + ".weight", 1.0 / Math.sqrt(in), false, out, in);
        uniform(w, rng, name + ".bias", 0.1, false, out);
    }

    private static void norm(Map<String, Tensor> w, Random rng, String name, int c) {
        uniform(w, rng, name + ".weight", 0.2, true, c);
        uniform(w, rng, name + ".bias", 0.1, false, c);
    }

    private static void uniform(Map<String, Tensor> w, Random rng, String name, double scale, boolean plusOne, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        float sc = (float) scale;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (rng.nextFloat() * 2f - 1f) * sc;
            if (plusOne) v[i] += 1f;
        }
        long[] dims = new long[shape.length];
        for (int i = 0; i < shape.length; i++) dims[i] = shape[i];
        w.put(name, Tensor.fromArray(v, dims));
    }

    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cmd = new CommandLine(new BenchStepCommand());
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        int exit = cmd.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    static JsonNode runJson(String method, String kernels) throws IOException {
        List<String> args = new ArrayList<>(List.of("--method", method, "--model", modelDir.toString(), "--kernels", kernels, "--json"));
        for (JsonNode a : golden.get("run")) args.add(a.asText());
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.exit(), () -> "bench step failed: " + r.err());
        return JSON.readTree(r.out().strip());
    }

    @ParameterizedTest(name = "{0} on {1} kernels")
    @CsvSource({"xgblora,vector", "lora,vector", "full,vector", "qv-r1-all,vector", "xgblora,reference", "full,reference"})
    void lossesMatchPyTorch(String method, String kernels) throws IOException {
        assumeTrue(Backends.available().contains(kernels), "kernel backend " + kernels + " is not available on this JVM");
        JsonNode got = runJson(method, kernels);
        JsonNode want = golden.get("methods").get(method);
        assertEquals("java", got.get("impl").asText());
        assertEquals(method, got.get("method").asText());
        assertEquals(want.get("trainable_params").asLong(), got.get("trainable_params").asLong(), "trainable params");
        assertEquals(want.get("graph_starts_at_layer").asInt(), got.get("graph_starts_at_layer").asInt(), "lowest layer with backward");
        assertEquals(want.get("loss_first").asDouble(), got.get("loss_first").asDouble(), 2e-5, "loss before the first step");
        assertEquals(want.get("loss_last").asDouble(), got.get("loss_last").asDouble(), 2e-5, "loss after the last step");
        // the steps changed the model, so a match of loss_last checks the update, not only the forward
        assertNotEquals(got.get("loss_first").asDouble(), got.get("loss_last").asDouble(), 1e-4);
        assertTrue(got.get("tokens_per_s").asDouble() > 0);
        assertEquals(4 * 8 / (got.get("step_ms_median").asDouble() / 1e3), got.get("tokens_per_s").asDouble(),
                0.01 * got.get("tokens_per_s").asDouble(), "tokens/s = batch x seq / median step time");
    }

    /**
     * Model FLOPs on the tiny BERT (hidden 16, ffn 32, 3 layers, batch 4 × seq 8 = 32 tokens), counted by hand:
     * per token and layer the linears hold 4·16·16 + 2·16·32 = 2048 multiply-adds, so a layer's forward is
     * 2·32·2048 = 131072 FLOPs, and its attention 4·32·8·16 = 16384 forward, twice that backward.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // 3 layers forward 3·(131072 + 16384); backward dX 3·131072, dW 3·131072, attention 3·32768
            "full, 442368, 1327104",
            // rank-1 adapters on layers 1, 2: per layer 2·32·(4·32 + 2·48) = 14336 forward. Layer 1 (lowest
            // recorded): dX of attn_out/inter/out 2·32·1280 = 81920 + adapters' share 8192, dA/dB 14336,
            // attention 32768; layer 2: dX 131072 + 14336, dA/dB 14336, attention 32768
            "xgblora, 471040, 800768"})
    void reportsModelFlopsAndAllocation(String method, long forward, long total) throws IOException {
        JsonNode got = runJson(method, "vector");
        assertEquals(forward, got.get("model_flop_forward").asLong(), "forward FLOPs");
        assertEquals(total, got.get("model_flop_per_step").asLong(), "step FLOPs");
        double gflops = total / (got.get("step_ms_median").asDouble() / 1e3) / 1e9;
        // the median step time is printed to 0.01 ms and the FLOP/s to 0.001: allow both roundings, nothing more
        assertEquals(gflops, got.get("gflops").asDouble(), 0.0006 + 0.01 * gflops, "model FLOP/s = FLOPs / median step time");
        assertEquals(gflops / got.get("peak_gflops").asDouble(), got.get("utilisation").asDouble(), 0.002, "utilisation = FLOP/s over the peak");
        // a step allocates at least its activations' Java objects; the counter must have seen the steps run
        assertTrue(got.get("alloc_mib_per_step").asDouble() > 0, got::toString);
        assertTrue(got.get("alloc_mib_per_step_max").asDouble() >= got.get("alloc_mib_per_step").asDouble(), got::toString);
    }

    @Test
    void peakGflopsOptionOverridesTheEstimate() throws IOException {
        List<String> args = new ArrayList<>(List.of("--method", "xgblora", "--model", modelDir.toString(), "--json", "--peak-gflops", "100"));
        for (JsonNode a : golden.get("run")) args.add(a.asText());
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r::err);
        JsonNode got = JSON.readTree(r.out().strip());
        assertEquals(100.0, got.get("peak_gflops").asDouble());
        assertEquals("--peak-gflops", got.get("peak_basis").asText());
    }

    /**
     * --profile-ops times the kernel ops through a proxy: the same computation (the same losses), the
     * linear forward counted on every linear of the forward, the ops' time within the step's.
     */
    @Test
    void profileOpsTimesEveryKernelCallWithoutChangingTheStep() throws IOException {
        JsonNode plain = runJson("lora", "vector");
        List<String> args = new ArrayList<>(List.of("--method", "lora", "--model", modelDir.toString(), "--kernels", "vector", "--json", "--profile-ops"));
        for (JsonNode a : golden.get("run")) args.add(a.asText());
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r::err);
        JsonNode got = JSON.readTree(r.out().strip());
        assertEquals(plain.get("loss_last").asDouble(), got.get("loss_last").asDouble(), 0.0, "the proxy must not change what runs");
        Map<String, JsonNode> ops = new LinkedHashMap<>();
        got.get("ops").forEach(o -> ops.put(o.get("op").asText(), o));
        assertTrue(ops.containsKey("linearLoraForward") || ops.containsKey("linearForward"), ops.keySet()::toString);
        double inOps = 0;
        for (JsonNode o : ops.values()) {
            assertTrue(o.get("calls_per_step").asDouble() > 0 && o.get("ms_per_step").asDouble() >= 0, o::toString);
            inOps += o.get("ms_per_step").asDouble();
        }
        // 3 layers × 6 linears per forward, each one call of a linear forward kind
        double linears = ops.getOrDefault("linearLoraForward", JSON.createObjectNode()).path("calls_per_step").asDouble()
                + ops.getOrDefault("linearForward", JSON.createObjectNode()).path("calls_per_step").asDouble();
        assertTrue(linears >= 18, "linear forwards per step: " + linears);
        assertTrue(inOps <= got.get("step_ms_mean").asDouble() * 1.001 + 0.01, inOps + " ms in ops vs step " + got.get("step_ms_mean"));
        Run text = run("--method", "lora", "--model", modelDir.toString(), "--steps", "2", "--warmup", "1", "--batch", "2", "--seq", "4", "--profile-ops");
        assertEquals(0, text.exit(), text::err);
        assertTrue(text.out().contains("(outside kernels)"), text.out());
    }

    /** Ragged batches: lengths 4 and 8 alternate; two timed steps each, so each length's median is its mean. */
    @Test
    void raggedLengthsAlternateAndCountEveryTimedToken() throws IOException {
        JsonNode got = ragged("4,8", "4");
        JsonNode by = got.get("step_ms_median_by_length");
        List<String> keys = new ArrayList<>();
        by.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("4", "8"), keys);
        double m4 = by.get("4").asDouble(), m8 = by.get("8").asDouble();
        // 4 rows × (4 + 8) / 2 tokens per step over the mean timed step
        assertEquals(4 * 6 / ((m4 + m8) / 2 / 1e3), got.get("tokens_per_s").asDouble(), 0.02 * got.get("tokens_per_s").asDouble(), got::toString);
        long f4 = fixed(4).get("model_flop_per_step").asLong(), f8 = fixed(8).get("model_flop_per_step").asLong();
        assertEquals((f4 + f8) / 2.0, got.get("model_flop_per_step").asDouble(), 1.0, "FLOPs per step: the mean over the lengths");
        // the steps really ran at both lengths: the loss path differs from a fixed length-8 run's
        assertNotEquals(fixed(8).get("loss_last").asDouble(), got.get("loss_last").asDouble(), 1e-6);
    }

    @Test
    void raggedLengthsNeedStepsInWholeCycles() {
        Run r = run("--method", "lora", "--model", modelDir.toString(), "--lengths", "4,8", "--steps", "3", "--kernels", "reference");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("--steps 3 must be a multiple of the 2 --lengths"), r.err());
    }

    private JsonNode ragged(String lengths, String steps) throws IOException {
        Run r = run("--method", "lora", "--model", modelDir.toString(), "--batch", "4", "--lengths", lengths, "--steps", steps,
                "--warmup", "1", "--kernels", "vector", "--threads", "1", "--json");
        assertEquals(0, r.exit(), r::err);
        return JSON.readTree(r.out().strip());
    }

    private JsonNode fixed(int seq) throws IOException {
        Run r = run("--method", "lora", "--model", modelDir.toString(), "--batch", "4", "--seq", String.valueOf(seq), "--steps", "2",
                "--warmup", "1", "--kernels", "vector", "--threads", "1", "--json");
        assertEquals(0, r.exit(), r::err);
        return JSON.readTree(r.out().strip());
    }

    @Test
    void xgbloraDefaultsToTheTopTwoLayers() throws IOException {
        JsonNode got = runJson("xgblora", "reference");
        assertEquals("[1,2]", got.get("layers").toString());
        assertEquals(1, got.get("graph_starts_at_layer").asInt());
    }

    @Test
    void rejectsLayersOutsideTheModel() {
        Run r = run("--method", "xgblora", "--layers", "3", "--model", modelDir.toString(), "--seq", "8", "--steps", "1", "--kernels", "reference");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("--layers 3") && r.err().contains("0..2"), r.err());
    }

    @Test
    void rejectsUnknownMethod() {
        Run r = run("--method", "dora", "--model", modelDir.toString());
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("unknown method 'dora'"), r.err());
    }
}
