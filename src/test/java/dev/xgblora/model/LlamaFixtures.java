package dev.xgblora.model;

import dev.xgblora.io.WeightStore;
import dev.xgblora.tensor.Tensor;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/**
 * The golden fixtures made by src/test/resources/fixtures/llama/make_fixtures.py (plain PyTorch):
 * DIR/config.json + DIR/model.safetensors, and DIR-expected.safetensors with inputs and outputs.
 */
final class LlamaFixtures {
    static final String[] MODELS = {"llama3-gqa", "qwen2-tied", "mistral-bf16", "mistral-window"};

    private LlamaFixtures() {
    }

    static Path modelDir(String name) {
        URL url = LlamaFixtures.class.getResource("/fixtures/llama/" + name + "/config.json");
        if (url == null) throw new IllegalStateException("fixture " + name + " missing from the test class path");
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static WeightStore expected(String name) {
        return WeightStore.open(modelDir(name).resolveSibling(name + "-expected.safetensors"));
    }

    /** A [B, T] F32 tensor of small integers as int rows. */
    static int[][] ints(Tensor t) {
        int b = (int) t.dim(0), n = (int) t.dim(1);
        int[][] out = new int[b][n];
        for (int i = 0; i < b; i++) for (int j = 0; j < n; j++) out[i][j] = Math.round(t.get((long) i * n + j));
        return out;
    }
}
