package dev.xgblora.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.xgblora.io.ModelCache;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Shared pieces of the MiniLM tests: the imported model directory, SST-2 dev sentences, and an
 * ONNX Runtime session over the ORIGINAL graph from the all-minilm jar (the independent oracle).
 */
final class MiniLmFixture {
    static final String ONNX_RESOURCE = "/all-minilm-l6-v2.onnx";

    private MiniLmFixture() {
    }

    /**
     * The imported HF-style MiniLM directory (imported into the tests' own model cache, see the
     * pom's xgblora.home, on first use). Skipped only when the model's jar is not on the class
     * path; a failing import fails the test: it is the code under test.
     */
    static Path modelDir() {
        assumeTrue(MiniLmFixture.class.getResource(ONNX_RESOURCE) != null,
                "all-minilm-l6-v2 jar not on the class path: MiniLM tests skipped");
        return ModelCache.miniLm();
    }

    /** The first {@code n} sentences of SST-2 dev (all when n exceeds its 872), or skip when absent. */
    static List<String> sst2Dev(int n) {
        String data = System.getProperty("xgblora.data", "../shared/data");
        Path file = Path.of(data, "sst2", "dev.tsv");
        assumeTrue(Files.isRegularFile(file), "no SST-2 dev set at " + file.toAbsolutePath()
                + " (set -Dxgblora.data): test skipped");
        try {
            List<String> lines = Files.readAllLines(file);
            if (!lines.getFirst().startsWith("label\t")) throw new IllegalStateException(file + ": unexpected header " + lines.getFirst());
            List<String> out = new ArrayList<>();
            for (String line : lines.subList(1, lines.size())) {
                if (line.isBlank()) continue;
                int tab = line.indexOf('\t');
                out.add(line.substring(tab + 1));
                if (out.size() == n) break;
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs the original ONNX graph: last hidden state [B][T][C] for a padded batch. */
    static final class Onnx implements AutoCloseable {
        final OrtEnvironment env = OrtEnvironment.getEnvironment();
        final OrtSession session;

        Onnx(int threads) throws OrtException {
            byte[] graph;
            try (InputStream in = MiniLmFixture.class.getResourceAsStream(ONNX_RESOURCE)) {
                graph = in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            session = env.createSession(graph, opts);
        }

        float[][][] lastHidden(int[][] ids, int[][] mask, int[][] types) throws OrtException {
            try (OnnxTensor tIds = OnnxTensor.createTensor(env, toLong(ids));
                 OnnxTensor tMask = OnnxTensor.createTensor(env, toLong(mask));
                 OnnxTensor tTypes = OnnxTensor.createTensor(env, toLong(types));
                 OrtSession.Result r = session.run(Map.of("input_ids", tIds, "attention_mask", tMask,
                         "token_type_ids", tTypes))) {
                OnnxValue out = r.get("last_hidden_state").orElseGet(() -> r.get(0));
                return (float[][][]) out.getValue();
            }
        }

        /** Mean pooling over the mask and L2 normalization, as sentence-transformers does, in double. */
        static float[][] meanNormalize(float[][][] h, int[][] mask) {
            float[][] out = new float[h.length][];
            for (int b = 0; b < h.length; b++) {
                int c = h[b][0].length;
                double[] acc = new double[c];
                double n = 0;
                for (int t = 0; t < h[b].length; t++) {
                    if (mask[b][t] == 0) continue;
                    n++;
                    for (int k = 0; k < c; k++) acc[k] += h[b][t][k];
                }
                double ss = 0;
                for (int k = 0; k < c; k++) {
                    acc[k] /= Math.max(n, 1e-9);
                    ss += acc[k] * acc[k];
                }
                double norm = Math.max(Math.sqrt(ss), 1e-12);
                out[b] = new float[c];
                for (int k = 0; k < c; k++) out[b][k] = (float) (acc[k] / norm);
            }
            return out;
        }

        private static long[][] toLong(int[][] a) {
            long[][] out = new long[a.length][];
            for (int i = 0; i < a.length; i++) {
                out[i] = new long[a[i].length];
                for (int j = 0; j < a[i].length; j++) out[i][j] = a[i][j];
            }
            return out;
        }

        @Override
        public void close() throws OrtException {
            session.close();
        }
    }
}
