package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.io.Tokenizer;
import dev.xgblora.kernels.Backends;
import dev.xgblora.kernels.Kernels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Side-by-side embedding throughput on the same machine: our BERT forward (+ mean pooling + L2)
 * against ONNX Runtime on the original all-MiniLM-L6-v2 graph, over the 872 SST-2 dev sentences in
 * batches of 32 (max 128 tokens), with the same token ids and the same thread count. Tokenization is
 * done once up front and not timed. Counts non-padding tokens. Prints wall time and process CPU time
 * per pass (CPU time is the fairer figure on a shared machine). Not a unit test.
 *
 * <pre>
 * source ci/find-jdk.sh &amp;&amp; mvn -o test -Dxgblora.excludedGroups=none -Dgroups=bench -Dtest=MiniLmThroughputBench
 * </pre>
 */
@Tag("bench")
class MiniLmThroughputBench {
    static final int BATCH = 32, MAX_LEN = 128, PASSES = 3;

    @Test
    void embeddingThroughputVersusOnnxRuntime() throws Exception {
        Path dir = MiniLmFixture.modelDir();
        List<String> sentences = MiniLmFixture.sst2Dev(Integer.MAX_VALUE);
        Kernels kernels = Backends.defaults();
        int threads = kernels.threads();

        long t0 = System.nanoTime();
        try (SentenceEmbedder ours = SentenceEmbedder.open(dir, kernels, MAX_LEN)) {
            long tLoaded = System.nanoTime();
            List<Tokenizer.Batch> batches = new ArrayList<>();
            long tokens = 0, padded = 0;
            for (int s = 0; s < sentences.size(); s += BATCH) {
                Tokenizer.Batch b = ours.tokenizer().encodeBatch(sentences.subList(s, Math.min(sentences.size(), s + BATCH)), null, MAX_LEN);
                batches.add(b);
                for (int[] row : b.attentionMask()) for (int m : row) tokens += m;
                padded += (long) b.size() * b.length();
            }
            long tFirst0 = System.nanoTime();
            Tokenizer.Batch first = batches.getFirst();
            ours.embedTokens(first.ids(), first.attentionMask(), first.typeIds());
            long tFirst1 = System.nanoTime();
            System.out.printf("%nMiniLM load %.2f s, first forward (batch %d, %d tokens padded) %.2f s, kernels %s x%d%n",
                    (tLoaded - t0) / 1e9, first.size(), (long) first.size() * first.length(), (tFirst1 - tFirst0) / 1e9,
                    kernels.name(), threads);
            System.out.printf("%d sentences, %d batches, %d real tokens (%d with padding)%n",
                    sentences.size(), batches.size(), tokens, padded);

            float[][][] oursOut = new float[batches.size()][][];
            float[][][] onnxOut = new float[batches.size()][][];
            double[] oursSecs = new double[PASSES], onnxSecs = new double[PASSES];
            double[] oursCpu = new double[PASSES], onnxCpu = new double[PASSES];
            try (MiniLmFixture.Onnx onnx = new MiniLmFixture.Onnx(threads)) {
                for (int pass = 0; pass < PASSES; pass++) {
                    double ca = cpuSeconds();
                    long a = System.nanoTime();
                    for (int i = 0; i < batches.size(); i++) {
                        Tokenizer.Batch b = batches.get(i);
                        oursOut[i] = ours.embedTokens(b.ids(), b.attentionMask(), b.typeIds());
                    }
                    long m = System.nanoTime();
                    double cm = cpuSeconds();
                    for (int i = 0; i < batches.size(); i++) {
                        Tokenizer.Batch b = batches.get(i);
                        onnxOut[i] = MiniLmFixture.Onnx.meanNormalize(onnx.lastHidden(b.ids(), b.attentionMask(), b.typeIds()), b.attentionMask());
                    }
                    long e = System.nanoTime();
                    double ce = cpuSeconds();
                    oursSecs[pass] = (m - a) / 1e9;
                    onnxSecs[pass] = (e - m) / 1e9;
                    oursCpu[pass] = cm - ca;
                    onnxCpu[pass] = ce - cm;
                    System.out.printf("pass %d: xgblora %.2f s wall, %.2f s CPU (%.0f tokens/s)   onnxruntime %.2f s wall, %.2f s CPU (%.0f tokens/s)   xgblora/onnxruntime wall %.2f, CPU %.2f%n",
                            pass + 1, oursSecs[pass], oursCpu[pass], tokens / oursSecs[pass], onnxSecs[pass], onnxCpu[pass],
                            tokens / onnxSecs[pass], oursSecs[pass] / onnxSecs[pass], oursCpu[pass] / onnxCpu[pass]);
                }
            }
            double worst = 0;
            for (int i = 0; i < batches.size(); i++) {
                for (int j = 0; j < oursOut[i].length; j++) {
                    for (int k = 0; k < oursOut[i][j].length; k++) worst = Math.max(worst, Math.abs(oursOut[i][j][k] - onnxOut[i][j][k]));
                }
            }
            double bestOurs = min(oursSecs), bestOnnx = min(onnxSecs);
            System.out.printf("best of %d: xgblora %.0f tokens/s, onnxruntime %.0f tokens/s (xgblora/onnxruntime wall %.2f); "
                    + "CPU per 1000 tokens: xgblora %.3f s, onnxruntime %.3f s (ratio %.2f); max |diff| %.2g%n%n",
                    PASSES, tokens / bestOurs, tokens / bestOnnx, bestOurs / bestOnnx,
                    1000 * min(oursCpu) / tokens, 1000 * min(onnxCpu) / tokens, min(oursCpu) / min(onnxCpu), worst);
            assertTrue(worst <= 1e-4, "embeddings differ by " + worst);
        }
    }

    /** CPU time of the whole process (all threads: ours, ONNX Runtime's, GC and JIT), robust to a shared machine. */
    private static double cpuSeconds() {
        return ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos() / 1e9;
    }

    private static double min(double[] v) {
        double m = Double.MAX_VALUE;
        for (double x : v) m = Math.min(m, x);
        return m;
    }
}
