package dev.xgblora.io;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Imports the real all-MiniLM-L6-v2 ONNX graph once and checks the result against the graph itself. */
class OnnxImporterTest {
    @TempDir
    static Path dir;
    static OnnxGraph graph;

    @BeforeAll
    static void importOnce() throws Exception {
        OnnxImporter.importMiniLm(dir);
        try (InputStream in = MiniLmSource.open(MiniLmSource.ONNX)) {
            graph = OnnxGraph.parse(in.readAllBytes(), "minilm");
        }
    }

    @Test
    void writesTheThreeFilesAndNoTemporaries() throws Exception {
        try (var s = Files.list(dir)) {
            assertEquals(java.util.Set.of("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling", "2_Normalize"),
                    s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toSet()));
        }
    }

    @Test
    void configHasTheRealMiniLmHyperParameters() {
        ModelConfig c = ModelConfig.load(dir);
        assertEquals("bert", c.modelType());
        assertFalse(c.isDecoder());
        assertEquals(6, c.numLayers());
        assertEquals(384, c.hiddenSize());
        assertEquals(12, c.numHeads());
        assertEquals(12, c.numKvHeads());
        assertEquals(32, c.headDim());
        assertEquals(1536, c.intermediateSize());
        assertEquals(30522, c.vocabSize());
        assertEquals(512, c.maxPositions());
        assertEquals(2, c.typeVocabSize());
        assertEquals(1e-12f, c.normEps());
        assertEquals("gelu", c.hiddenAct());
        assertEquals(0, c.padTokenId());
    }

    @Test
    void tensorsHaveHfNamesAndOutInShapes() {
        try (WeightStore ws = WeightStore.open(dir)) {
            assertEquals(5 + 6 * 16, ws.names().size());
            assertArrayEquals(new long[]{30522, 384}, ws.tensor("embeddings.word_embeddings.weight").shape());
            assertArrayEquals(new long[]{512, 384}, ws.tensor("embeddings.position_embeddings.weight").shape());
            assertArrayEquals(new long[]{2, 384}, ws.tensor("embeddings.token_type_embeddings.weight").shape());
            long params = 0;
            for (String n : ws.names()) {
                assertEquals(DType.F32, ws.tensor(n).dtype(), n);
                params += ws.tensor(n).numel();
            }
            long embeddings = (30522L + 512 + 2) * 384 + 2 * 384;
            long perLayer = 4 * (384L * 384 + 384) + (384L * 1536 + 1536) + (1536L * 384 + 384) + 2 * 2 * 384;
            assertEquals(embeddings + 6 * perLayer, params); // BertModel without pooler: 22,565,376
            Map<String, long[]> expected = Map.of(
                    "attention.self.query.weight", new long[]{384, 384},
                    "attention.self.key.weight", new long[]{384, 384},
                    "attention.self.value.weight", new long[]{384, 384},
                    "attention.output.dense.weight", new long[]{384, 384},
                    "intermediate.dense.weight", new long[]{1536, 384},
                    "intermediate.dense.bias", new long[]{1536},
                    "output.dense.weight", new long[]{384, 1536});
            for (int l = 0; l < 6; l++) {
                for (String t : OnnxImporter.LAYER_TENSORS) {
                    String name = "encoder.layer." + l + "." + t;
                    assertTrue(ws.has(name), name);
                    long[] want = expected.getOrDefault(t, new long[]{384});
                    assertArrayEquals(want, ws.tensor(name).shape(), name);
                }
            }
        }
    }

    @Test
    void clsEmbeddingRowEqualsTheInitializerBytes() {
        OnnxGraph.Initializer init = graph.initializers().get("embeddings.word_embeddings.weight");
        try (WeightStore ws = WeightStore.open(dir)) {
            Tensor w = ws.tensor("embeddings.word_embeddings.weight");
            Tensor src = init.tensor();
            int cls = 101;
            for (int j = 0; j < 384; j++) {
                assertEquals(Float.floatToRawIntBits(src.get(cls, j)), Float.floatToRawIntBits(w.get(cls, j)), "col " + j);
            }
        }
    }

    @Test
    void linearWeightsAreTheMatMulInitializersTransposed() {
        // Follow the graph independently: the MatMul feeding the Add with layer 3's value bias.
        String bias = "encoder.layer.3.attention.self.value.bias";
        OnnxGraph.Node add = graph.nodes().stream().filter(n -> n.inputs().contains(bias)).findFirst().orElseThrow();
        String mmOut = add.inputs().stream().filter(i -> !i.equals(bias)).findFirst().orElseThrow();
        OnnxGraph.Node mm = graph.producer(mmOut);
        assertEquals("MatMul", mm.opType());
        Tensor src = graph.initializers().get(mm.inputs().get(1)).tensor(); // [in, out]
        try (WeightStore ws = WeightStore.open(dir)) {
            Tensor w = ws.tensor("encoder.layer.3.attention.self.value.weight"); // [out, in]
            for (int o = 0; o < 384; o += 37) {
                for (int i = 0; i < 384; i += 41) assertEquals(src.get(i, o), w.get(o, i), "w[" + o + "," + i + "]");
            }
            // and it is not the key weight of the same layer
            assertFalse(ws.tensor("encoder.layer.3.attention.self.key.weight").get(0, 0) == w.get(0, 0)
                    && ws.tensor("encoder.layer.3.attention.self.key.weight").get(1, 1) == w.get(1, 1));
        }
    }

    @Test
    void importedTokenizerEncodesHelloWorld() {
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertArrayEquals(new int[]{101, 7592, 2088, 102}, tok.encode("hello world", true));
        }
    }

    @Test
    void summaryDescribesTheModel() {
        String s = ModelSummary.describe(dir);
        assertTrue(s.contains("bert (encoder)"), s);
        assertTrue(s.contains("22,565,376"), s);
        assertTrue(s.contains("F32 x101"), s);
    }

    @Test
    void cacheImportsOnceIntoXgbloraHome(@TempDir Path home) throws Exception {
        String old = System.getProperty("xgblora.home");
        System.setProperty("xgblora.home", home.toString());
        try {
            Path first = ModelCache.miniLm();
            assertEquals(home.resolve("models").resolve("all-minilm-l6-v2"), first);
            long stamp = Files.getLastModifiedTime(first.resolve("model.safetensors")).toMillis();
            Path again = ModelCache.miniLm();
            assertEquals(first, again);
            assertEquals(stamp, Files.getLastModifiedTime(again.resolve("model.safetensors")).toMillis());
            try (var s = Files.list(home.resolve("models"))) {
                assertEquals(1, s.count()); // no leftover temporary directory
            }
        } finally {
            if (old == null) System.clearProperty("xgblora.home");
            else System.setProperty("xgblora.home", old);
        }
    }

    @Test
    void aGraphWithAnUnsupportedOpIsRefusedNamingTheFileNodeAndOp() {
        var nodes = new java.util.ArrayList<>(graph.nodes());
        nodes.add(5, new OnnxGraph.Node("/encoder/layer.0/attention/self/Custom", "FancyAttention", java.util.List.of("x"),
                java.util.List.of("y"), null));
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> OnnxImporter.requireSupportedOps(new OnnxGraph(nodes, graph.initializers()), "my-model.onnx"));
        assertTrue(e.getMessage().contains("my-model.onnx") && e.getMessage().contains("/encoder/layer.0/attention/self/Custom")
                && e.getMessage().contains("FancyAttention"), e.getMessage());
        OnnxImporter.requireSupportedOps(graph, "minilm"); // the real graph passes
    }

    @Test
    void theImportKeepsTheHuggingFaceIdAndThePooling() {
        assertEquals(ModelIdentity.MINILM_HUB_ID, ModelIdentity.hubId(dir));
        assertEquals(SentencePooling.Mode.MEAN, SentencePooling.ofModel(dir));
    }
}
