package dev.xgblora.io;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** config.json files as published on the Hugging Face hub for each supported family. */
class ModelConfigTest {
    @TempDir
    Path dir;

    static final String MINILM = """
            {"_name_or_path": "nreimers/MiniLM-L6-H384-uncased", "architectures": ["BertModel"],
             "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false, "hidden_act": "gelu",
             "hidden_dropout_prob": 0.1, "hidden_size": 384, "initializer_range": 0.02, "intermediate_size": 1536,
             "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
             "num_attention_heads": 12, "num_hidden_layers": 6, "pad_token_id": 0,
             "position_embedding_type": "absolute", "transformers_version": "4.8.2", "type_vocab_size": 2,
             "use_cache": true, "vocab_size": 30522}""";

    static final String LLAMA31_8B = """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
             "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
             "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
             "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
             "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
             "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256}""";

    static final String QWEN2_05B = """
            {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
             "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
             "intermediate_size": 4864, "max_position_embeddings": 131072, "max_window_layers": 24,
             "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
             "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": true,
             "torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": true,
             "use_sliding_window": false, "vocab_size": 151936}""";

    static final String MISTRAL_7B = """
            {"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
             "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
             "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
             "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
             "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
             "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000}""";

    /** A Llama-2-style config (TinyLlama 1.1B), no rope_theta or rope_scaling given. */
    static final String TINYLLAMA = """
            {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
             "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632,
             "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32,
             "num_hidden_layers": 22, "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
             "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
             "transformers_version": "4.31.0.dev0", "use_cache": true, "vocab_size": 32000}""";

    private ModelConfig load(String json) throws IOException {
        Files.writeString(dir.resolve("config.json"), json);
        return ModelConfig.load(dir);
    }

    private void assertRejected(String json, String... fragments) throws IOException {
        Files.writeString(dir.resolve("config.json"), json);
        var e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir.resolve("config.json")));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "should mention '" + f + "': " + e.getMessage());
    }

    @Test
    void bertMiniLm() throws IOException {
        ModelConfig c = load(MINILM);
        assertEquals("bert", c.modelType());
        assertFalse(c.isDecoder());
        assertEquals(30522, c.vocabSize());
        assertEquals(384, c.hiddenSize());
        assertEquals(6, c.numLayers());
        assertEquals(12, c.numHeads());
        assertEquals(12, c.numKvHeads());
        assertEquals(32, c.headDim());
        assertEquals(1536, c.intermediateSize());
        assertEquals(512, c.maxPositions());
        assertEquals(2, c.typeVocabSize());
        assertEquals(1e-12f, c.normEps());
        assertEquals("gelu", c.hiddenAct());
        assertFalse(c.geluTanh());
        assertTrue(c.attentionBias());
        assertEquals(0, c.padTokenId());
        assertNull(c.eosTokenId());
        assertNull(c.ropeScaling());
        assertNull(c.numLabels());
    }

    @Test
    void llama31WithLlama3RopeScalingAndSeveralEos() throws IOException {
        ModelConfig c = load(LLAMA31_8B);
        assertTrue(c.isDecoder());
        assertEquals(8, c.numKvHeads());
        assertEquals(128, c.headDim());
        assertEquals(1e-5f, c.normEps());
        assertEquals("silu", c.hiddenAct());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(new ModelConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), c.ropeScaling());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.attentionBias());
        assertEquals(128000, c.bosTokenId());
        assertEquals(128001, c.eosTokenId());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertNull(c.padTokenId());
        assertEquals(0, c.typeVocabSize());
    }

    @Test
    void qwen2HasQkvBiasesAndTiedEmbeddings() throws IOException {
        ModelConfig c = load(QWEN2_05B);
        assertEquals("qwen2", c.modelType());
        assertEquals(14, c.numHeads());
        assertEquals(2, c.numKvHeads());
        assertEquals(64, c.headDim());
        assertTrue(c.attentionBias());
        assertFalse(c.attentionOutputBias());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(1e-6f, c.normEps());
        assertEquals(1000000.0, c.ropeTheta());
    }

    @Test
    void mistralAndLlamaDefaults() throws IOException {
        ModelConfig m = load(MISTRAL_7B);
        assertEquals("mistral", m.modelType());
        assertEquals(128, m.headDim());
        assertFalse(m.attentionBias());
        ModelConfig t = load(TINYLLAMA);
        assertEquals(10000.0, t.ropeTheta());
        assertNull(t.ropeScaling());
        assertEquals(64, t.headDim());
        assertEquals(4, t.numKvHeads());
        String noTie = TINYLLAMA.replace("\"tie_word_embeddings\": false, ", "");
        assertFalse(load(noTie).tieWordEmbeddings());
    }

    @Test
    void slidingWindowPerArchitecture() throws IOException {
        ModelConfig mistral = load(MISTRAL_7B);
        for (int l = 0; l < mistral.numLayers(); l++) assertEquals(4096, mistral.attentionWindow(l), "mistral layer " + l);
        assertEquals(0, load(MISTRAL_7B.replace("\"sliding_window\": 4096", "\"sliding_window\": null")).attentionWindow(0),
                "Mistral v0.2+: null means full attention");
        assertEquals(0, load(MISTRAL_7B.replace("\"sliding_window\": 4096, ", "")).attentionWindow(31), "absent: full");
        assertEquals(0, load(QWEN2_05B).attentionWindow(23), "qwen2 with use_sliding_window false");
        ModelConfig qwen = load(QWEN2_05B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true")
                .replace("\"max_window_layers\": 24", "\"max_window_layers\": 20"));
        assertEquals(0, qwen.attentionWindow(19), "qwen2 layers below max_window_layers attend fully");
        assertEquals(131072, qwen.attentionWindow(20));
        String types = "\"layer_types\": [" + "\"full_attention\", ".repeat(31) + "\"sliding_attention\"], ";
        ModelConfig listed = load(MISTRAL_7B.replace("\"sliding_window\": 4096, ", "\"sliding_window\": 4096, " + types));
        assertEquals(0, listed.attentionWindow(30));
        assertEquals(4096, listed.attentionWindow(31));
        assertEquals(0, load(TINYLLAMA.replace("\"use_cache\"", "\"sliding_window\": 16, \"use_cache\"")).attentionWindow(0),
                "llama has no sliding window");
        var bad = assertThrows(IllegalArgumentException.class,
                () -> load(MISTRAL_7B.replace("\"sliding_window\": 4096", "\"sliding_window\": 0")));
        assertTrue(bad.getMessage().contains("sliding_window"), bad.getMessage());
    }

    @Test
    void explicitHeadDimAttentionBiasAndTanhGelu() throws IOException {
        ModelConfig c = load(TINYLLAMA.replace("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu_pytorch_tanh\", \"head_dim\": 80, \"attention_bias\": true"));
        assertEquals(80, c.headDim());
        assertTrue(c.attentionBias());
        assertTrue(c.attentionOutputBias());
        assertTrue(c.geluTanh());
    }

    @Test
    void classifierLabels() throws IOException {
        ModelConfig c = load(MINILM.replace("\"pad_token_id\": 0,", "\"pad_token_id\": 0, \"id2label\": {\"0\": \"negative\", \"1\": \"positive\"},"));
        assertEquals(2, c.numLabels());
        assertEquals(Map.of(0, "negative", 1, "positive"), c.id2label());
    }

    @Test
    void editedCopyIsReparsedAndTheOriginalUnchanged() throws IOException {
        ModelConfig c = load(MINILM);
        ModelConfig labelled = c.with(j -> j.putObject("id2label").put("0", "neg").put("1", "pos"));
        assertEquals(2, labelled.numLabels());
        assertNull(c.numLabels());
        assertThrows(IllegalArgumentException.class, () -> c.with(j -> j.put("model_type", "t5")));
    }

    @Test
    void linearRopeScaling() throws IOException {
        ModelConfig c = load(TINYLLAMA.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"));
        assertEquals("linear", c.ropeScaling().type());
        assertEquals(2.0, c.ropeScaling().factor());
    }

    @Test
    void errorsNameTheFileAndTheProblem() throws IOException {
        assertRejected(MINILM.replace("\"bert\"", "\"gpt2\""), "gpt2", "bert, llama, mistral, qwen2");
        assertRejected(TINYLLAMA.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"),
                "yarn", "llama3, linear");
        assertRejected(LLAMA31_8B.replace("\"low_freq_factor\": 1.0, ", ""), "low_freq_factor");
        assertRejected(MINILM.replace("\"hidden_size\": 384,", ""), "hidden_size");
        assertRejected(MINILM.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 10"), "not a multiple");
        assertRejected(MINILM.replace("\"gelu\"", "\"relu\""), "relu");
        assertRejected(MINILM.substring(0, 40), "not valid JSON");
    }

    @Test
    void writeBackKeepsEveryFieldUnchanged() throws IOException {
        ModelConfig c = load(LLAMA31_8B);
        Path out = dir.resolve("out");
        Files.createDirectories(out);
        c.write(out);
        JsonNode original = SafeTensorsHeader.JSON.readTree(LLAMA31_8B);
        JsonNode written = SafeTensorsHeader.JSON.readTree(Files.readString(out.resolve("config.json")));
        assertEquals(original, written);
        assertEquals(c, ModelConfig.load(out));
        // raw() is a copy: changing it does not change the config
        c.raw().put("vocab_size", 1);
        assertEquals(128256, c.raw().get("vocab_size").asInt());
    }

    /** inv_freq against PyTorch (golden/rope/make_rope_inv_freq.py replays transformers' code), bit for bit. */
    @Test
    void ropeInvFreqMatchesTransformersBitForBit() throws IOException {
        JsonNode golden;
        try (InputStream in = getClass().getResourceAsStream("/golden/rope/rope_inv_freq.json")) {
            golden = SafeTensorsHeader.JSON.readTree(in).get("cases");
        }
        String llama2 = TINYLLAMA.replace("\"hidden_size\": 2048", "\"hidden_size\": 4096");
        check(golden, "llama2_default_theta1e4_dim128", load(llama2));
        check(golden, "qwen2_theta1e6_dim64", load(QWEN2_05B));
        check(golden, "linear_factor2_theta1e4_dim64",
                load(TINYLLAMA.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}")));
        check(golden, "llama31_theta5e5_dim128", load(LLAMA31_8B));
        check(golden, "llama32_theta5e5_dim64_factor32", load(LLAMA31_8B
                .replace("\"factor\": 8.0", "\"factor\": 32.0").replace("\"hidden_size\": 4096", "\"hidden_size\": 2048")));
    }

    private static void check(JsonNode golden, String name, ModelConfig c) {
        JsonNode bits = golden.get(name);
        float[] want = new float[bits.size()];
        for (int i = 0; i < want.length; i++) want[i] = Float.intBitsToFloat(bits.get(i).asInt());
        float[] got = c.ropeInvFreq();
        assertEquals(want.length, got.length, name);
        int mismatches = 0;
        for (int i = 0; i < want.length; i++) if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) mismatches++;
        assertArrayEquals(want, got, 0f, name + ": " + mismatches + " of " + want.length + " differ");
    }
}
