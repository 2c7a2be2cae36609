package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.tensor.Tensor;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** KV-cache decoding, generation and scoring against full forwards over the growing sequence. */
class DecoderSessionTest {

    static LlamaDecoder open(String name) {
        return LlamaDecoder.open(LlamaFixtures.modelDir(name), new ReferenceKernels());
    }

    /** Logits of the last position of a full (cache-free) forward over {@code seq}. */
    static float[] fullForwardLast(LlamaDecoder m, int[] seq) {
        Tensor logits = m.inferLogits(new int[][]{seq}, new int[][]{LlamaDecoder.filledOnes(seq.length)});
        int v = m.dims().vocab();
        float[] out = new float[v];
        for (int j = 0; j < v; j++) out[j] = logits.get(seq.length - 1, j);
        return out;
    }

    static double maxRel(float[] a, float[] b) {
        double diff = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff / scale;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3-gqa", "qwen2-tied", "mistral-bf16", "mistral-window"})
    void cachedLogitsEqualFullForwardOverGrowingSequence(String name) {
        try (LlamaDecoder m = open(name)) {
            checkCacheAgainstFullForward(name + " reference", m);
        }
        try (VectorKernels vk = new VectorKernels(2, new ReferenceKernels());
             LlamaDecoder m = LlamaDecoder.open(LlamaFixtures.modelDir(name), vk)) {
            checkCacheAgainstFullForward(name + " vector", m);
        }
    }

    static void checkCacheAgainstFullForward(String name, LlamaDecoder m) {
        {
            int[] seq = {1, 17, 42, 5, 63, 9, 30, 11, 2, 50};
            DecoderSession s = m.newSession(seq.length);
            int prompt = 4;
            double worst = maxRel(s.append(Arrays.copyOf(seq, prompt)), fullForwardLast(m, Arrays.copyOf(seq, prompt)));
            for (int n = prompt + 1; n <= seq.length; n++) {
                float[] cached = s.append(new int[]{seq[n - 1]});
                worst = Math.max(worst, maxRel(cached, fullForwardLast(m, Arrays.copyOf(seq, n))));
            }
            System.out.printf("kv-cache %-23s max rel diff vs full forward %.2e%n", name, worst);
            assertTrue(worst <= 1e-5, "cached vs full logits rel diff " + worst);
            assertEquals(seq.length, s.length());
            assertThrows(IllegalStateException.class, () -> s.append(new int[]{3}), "cache full");
        }
    }

    @Test
    void greedyGenerationFollowsArgmaxOfFullForward() {
        try (LlamaDecoder m = open("llama3-gqa")) {
            int[] prompt = {1, 7, 23};
            int[] got = m.generate(prompt, 6, 1f, 0f, 0L);
            int[] seq = prompt.clone();
            int[] expected = new int[0];
            for (int i = 0; i < 6; i++) {
                int next = TokenSampler.greedy(fullForwardLast(m, seq));
                expected = append(expected, next);
                if (next == 2) break; // eos
                seq = append(seq, next);
            }
            assertArrayEquals(expected, got);
        }
    }

    @Test
    void seededSamplingIsReproducibleAndSeedDependent() {
        try (LlamaDecoder m = open("qwen2-tied")) {
            int[] prompt = {1, 7, 23};
            int[] a = m.generate(prompt, 8, 0.95f, 1.5f, 42L);
            assertArrayEquals(a, m.generate(prompt, 8, 0.95f, 1.5f, 42L), "same seed, same tokens");
            Set<String> outputs = new HashSet<>();
            for (long seed = 0; seed < 6; seed++) outputs.add(Arrays.toString(m.generate(prompt, 8, 0.95f, 1.5f, seed)));
            assertTrue(outputs.size() > 1, "different seeds gave identical samples: " + outputs);
            assertFalse(a.length == 0);
        }
    }

    @Test
    void logLikelihoodSumsLogSoftmaxOfNextTokens() {
        try (LlamaDecoder m = open("mistral-bf16")) {
            int[] ids = {1, 33, 12, 60, 4, 4, 19};
            Tensor logits = m.inferLogits(new int[][]{ids}, new int[][]{LlamaDecoder.filledOnes(ids.length)});
            double expected = 0;
            for (int t = 0; t + 1 < ids.length; t++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < m.dims().vocab(); j++) max = Math.max(max, logits.get(t, j));
                for (int j = 0; j < m.dims().vocab(); j++) sum += Math.exp(logits.get(t, j) - max);
                expected += logits.get(t, ids[t + 1]) - max - Math.log(sum);
            }
            double got = m.logLikelihood(ids);
            assertEquals(expected, got, 1e-6 * Math.abs(expected));
            assertTrue(got < 0);
            assertEquals(0.0, m.logLikelihood(new int[]{5}));
        }
    }

    static int[] append(int[] a, int v) {
        int[] out = Arrays.copyOf(a, a.length + 1);
        out[a.length] = v;
        return out;
    }
}
