package dev.xgblora.io;

import static org.junit.jupiter.api.Assertions.*;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.xgblora.kernels.Backends;
import dev.xgblora.model.BertConfig;
import dev.xgblora.model.BertEncoder;
import dev.xgblora.model.SentenceEmbedder;
import dev.xgblora.tensor.Tensor;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The importer is not MiniLM-specific: bge-small-en-v1.5 (12 layers; its jar is a test dependency)
 * imports from its Maven jar, and our forward of the imported model matches ONNX Runtime running
 * the original graph from the same jar: the last hidden state, and bge's sentence embedding (CLS
 * token, L2-normalised) as {@link SentenceEmbedder} computes it from the pooling the import records.
 */
class OnnxImporterBgeTest {
    static final List<String> SENTENCES = List.of("it 's a charming and often affecting journey .",
            "unflinchingly bleak and desperate", "allows us to hope that nolan is poised to embark a major career as a commercial yet inventive filmmaker .",
            "the acting , costumes , music , cinematography and sound are all astounding given the production 's austere locales .",
            "it 's slow -- very , very slow .", "a sometimes tedious film .", "hello world", "xgblora merges rank-1 boosters");

    @TempDir
    Path dir;

    @Test
    void importsBgeSmallAndMatchesOnnxRuntime() throws Exception {
        OnnxModels.Known bge = OnnxModels.BGE_SMALL;
        OnnxImporter.importKnown(bge, dir);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(12, c.numLayers());
        assertEquals(384, c.hiddenSize());
        assertEquals(12, c.numHeads());
        assertEquals(1536, c.intermediateSize());
        assertEquals(30522, c.vocabSize());
        assertEquals("gelu", c.hiddenAct());
        assertEquals("BAAI/bge-small-en-v1.5", ModelIdentity.hubId(dir), "the Hugging Face id is kept with the import");
        assertEquals(SentencePooling.Mode.CLS, SentencePooling.ofModel(dir), "the import records bge's CLS pooling");
        float[][][] ours, ort;
        float[][] embeddings;
        int[][] mask;
        try (SentenceEmbedder e = SentenceEmbedder.open(dir, Backends.defaults(), 64)) {
            embeddings = e.embedBatch(SENTENCES);
        }
        try (Tokenizer t = Tokenizer.load(dir); WeightStore ws = WeightStore.open(dir)) {
            assertArrayEquals(new int[] {101, 7592, 2088, 102}, t.encode("hello world", true));
            Tokenizer.Batch b = t.encodeBatch(SENTENCES, null, 64);
            mask = b.attentionMask();
            Tensor h = BertEncoder.fromStore(BertConfig.from(c), ws, Backends.defaults()).forward(b.ids(), mask, b.typeIds());
            int batch = b.ids().length, len = b.ids()[0].length;
            ours = new float[batch][len][384];
            for (int i = 0; i < batch; i++) for (int j = 0; j < len; j++) for (int k = 0; k < 384; k++) ours[i][j][k] = h.get((long) i * len + j, k);
            ort = onnxRuntime(bge, b);
        }
        double worstHidden = 0, worstEmbedding = 0;
        for (int i = 0; i < ours.length; i++) {
            for (int j = 0; j < ours[i].length; j++) {
                if (mask[i][j] == 0) continue;
                for (int k = 0; k < 384; k++) worstHidden = Math.max(worstHidden, Math.abs(ours[i][j][k] - ort[i][j][k]) / Math.max(1, Math.abs(ort[i][j][k])));
            }
            double[] e = normalized(ort[i][0]);  // bge: CLS token, L2-normalised
            for (int k = 0; k < 384; k++) worstEmbedding = Math.max(worstEmbedding, Math.abs(embeddings[i][k] - e[k]));
        }
        System.out.printf("bge-small-en-v1.5 vs ONNX Runtime, %d sentences: last hidden max rel |Δ| = %.3g, CLS embedding max |Δ| = %.3g%n",
                SENTENCES.size(), worstHidden, worstEmbedding);
        assertTrue(worstHidden <= 1e-4, "last hidden state differs from ONNX Runtime by " + worstHidden);
        assertTrue(worstEmbedding <= 1e-4, "CLS embedding differs from ONNX Runtime by " + worstEmbedding);
    }

    private static double[] normalized(float[] v) {
        double ss = 0;
        for (float x : v) ss += (double) x * x;
        double n = Math.max(Math.sqrt(ss), 1e-12);
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] / n;
        return out;
    }

    /** The original graph from the jar under ONNX Runtime: last hidden state [B][T][C]. */
    private static float[][][] onnxRuntime(OnnxModels.Known m, Tokenizer.Batch b) throws Exception {
        byte[] graph;
        try (InputStream in = m.open(m.onnxEntry())) {
            graph = in.readAllBytes();
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(1);
        try (OrtSession s = env.createSession(graph, opts)) {
            Map<String, OnnxTensor> in = new LinkedHashMap<>();
            in.put("input_ids", OnnxTensor.createTensor(env, toLong(b.ids())));
            in.put("attention_mask", OnnxTensor.createTensor(env, toLong(b.attentionMask())));
            if (s.getInputNames().contains("token_type_ids")) in.put("token_type_ids", OnnxTensor.createTensor(env, toLong(b.typeIds())));
            try (OrtSession.Result r = s.run(in)) {
                OnnxValue out = r.get("last_hidden_state").orElseGet(() -> r.get(0));
                return (float[][][]) out.getValue();
            } finally {
                for (OnnxTensor t : in.values()) t.close();
            }
        }
    }

    private static long[][] toLong(int[][] a) {
        long[][] out = new long[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = new long[a[i].length];
            for (int j = 0; j < a[i].length; j++) out[i][j] = a[i][j];
        }
        return out;
    }
}
