package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Backends;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * all-MiniLM-L6-v2 imported from the langchain4j jar, against ONNX Runtime running the original
 * ONNX graph from the same jar: sentence embeddings (mean pooling + L2 normalization) over SST-2
 * dev sentences agree to 1e-4; and loading maps the weights instead of copying them to the heap.
 */
class MiniLmOnnxTest {

    @Test
    void sentenceEmbeddingsMatchOnnxRuntime() throws Exception {
        Path dir = MiniLmFixture.modelDir();
        List<String> sentences = MiniLmFixture.sst2Dev(64);
        assertEquals(64, sentences.size());
        double worst = 0;
        try (SentenceEmbedder ours = SentenceEmbedder.open(dir, Backends.defaults(), 128);
             MiniLmFixture.Onnx onnx = new MiniLmFixture.Onnx(1)) {
            for (int start = 0; start < sentences.size(); start += 32) {
                List<String> part = sentences.subList(start, start + 32);
                var batch = ours.tokenizer().encodeBatch(part, null, 128);
                float[][] expected = MiniLmFixture.Onnx.meanNormalize(
                        onnx.lastHidden(batch.ids(), batch.attentionMask(), batch.typeIds()), batch.attentionMask());
                float[][] actual = ours.embedBatch(part);
                assertEquals(expected.length, actual.length);
                for (int i = 0; i < actual.length; i++) {
                    assertEquals(384, actual[i].length);
                    for (int k = 0; k < 384; k++) worst = Math.max(worst, Math.abs(actual[i][k] - expected[i][k]));
                }
            }
        }
        System.out.printf("MiniLM vs ONNX Runtime, 64 SST-2 dev sentences: max |Δ| = %.3g%n", worst);
        assertTrue(worst <= 1e-4, "max abs difference to ONNX Runtime " + worst + " > 1e-4");
    }

    @Test
    void lengthSortedBatchingKeepsInputOrderAndValues() {
        Path dir = MiniLmFixture.modelDir();
        List<String> sentences = MiniLmFixture.sst2Dev(20);
        try (SentenceEmbedder ours = SentenceEmbedder.open(dir, Backends.defaults(), 128)) {
            float[][] sorted = ours.embed(sentences, 6);
            double worst = 0;
            for (int i = 0; i < sentences.size(); i++) {
                float[] alone = ours.embedBatch(List.of(sentences.get(i)))[0];
                for (int k = 0; k < alone.length; k++) worst = Math.max(worst, Math.abs(alone[k] - sorted[i][k]));
            }
            // padding changes nothing but float rounding order
            assertTrue(worst < 1e-5, "batched (sorted) and single-sentence embeddings differ by " + worst);
        }
    }

    @Test
    void loadingMapsWeightsInsteadOfCopyingThem() {
        Path dir = MiniLmFixture.modelDir();
        ModelConfig mc = ModelConfig.load(dir);
        // the kernels' own buffers (JIT warm-up, per-thread pack buffers) are not the model's
        var kernels = Backends.defaults();
        long before = settledHeap();
        try (WeightStore store = WeightStore.open(dir)) {
            BertEncoder enc = BertEncoder.fromStore(BertConfig.from(mc), store, kernels);
            long after = settledHeap();
            long weights = 0;
            for (Param p : enc.params()) weights += p.numel() * p.value().dtype().bytes();
            System.out.printf("MiniLM load: heap +%d KiB for %d KiB of mapped tensors%n",
                    (after - before) >> 10, store.mappedBytes() >> 10);
            assertTrue(weights > 80_000_000L, "MiniLM should hold ~90 MB of f32 weights, found " + weights);
            assertTrue(store.mappedBytes() >= weights);
            assertTrue(after - before < weights / 20,
                    "heap grew by " + (after - before) + " bytes while loading " + weights + " bytes of weights");
            // the weights really are the file: a frozen param is a view of mapped memory, not a heap array
            Tensor w = enc.linears().getFirst().weight().value();
            assertTrue(w.data().isNative() && w.heapArray() == null, "weight is not file-backed: " + w);
            java.lang.ref.Reference.reachabilityFence(enc);
        }
    }

    /** Heap in use after full collections (Runtime's view; java.management is not in our module graph). */
    private static long settledHeap() {
        Runtime rt = Runtime.getRuntime();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            used = Math.min(used, rt.totalMemory() - rt.freeMemory());
        }
        return used;
    }
}
