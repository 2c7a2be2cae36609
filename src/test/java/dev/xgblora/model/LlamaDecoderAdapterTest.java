package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Adapters inside the decoder: their gradients against finite differences of the loss. */
class LlamaDecoderAdapterTest {
    static final int[][] IDS = {{1, 17, 42, 5, 63, 9}, {1, 30, 11, 0, 0, 0}};
    static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0}};

    @Test
    void adapterGradientsMatchFiniteDifferencesAndLowerLayersStayUntouched() {
        try (LlamaDecoder m = LlamaDecoder.open(LlamaFixtures.modelDir("mistral-bf16"), new ReferenceKernels())) {
            Random rng = new Random(5);
            DecoderLayer top = m.layers().get(1);
            List<LoraAdapter> adapters = new java.util.ArrayList<>();
            for (Linear l : List.of(top.linears().get(0), top.linears().get(2), top.linears().get(6))) { // q, v, down
                LoraAdapter a = LoraAdapter.create(l, 2, 2f, rng);
                Tensor b = a.b().value();
                for (long i = 0; i < b.numel(); i++) b.set(i, (float) rng.nextGaussian() * 0.3f);
                l.attach(a);
                adapters.add(a);
            }
            assertEquals(1, m.lowestBackwardLayer());
            double loss = m.loss(IDS, MASK, null);
            m.backward();
            for (LoraAdapter a : adapters) {
                for (Param p : List.of(a.a(), a.b())) {
                    Tensor v = p.value();
                    for (long i = 0; i < v.numel(); i += Math.max(1, v.numel() / 5)) {
                        float saved = v.get(i);
                        double h = 1e-2;
                        v.set(i, (float) (saved + h));
                        double up = m.loss(IDS, MASK, null);
                        v.set(i, (float) (saved - h));
                        double down = m.loss(IDS, MASK, null);
                        v.set(i, saved);
                        double numeric = (up - down) / (2 * h);
                        double analytic = p.grad().get(i);
                        assertEquals(numeric, analytic, 2e-3 + 2e-2 * Math.abs(numeric), p.name() + "[" + i + "]");
                    }
                }
            }
            assertEquals(loss, m.loss(IDS, MASK, null), 1e-9, "restored weights give the same loss");
            for (Param p : m.params()) assertNull(p.grad(), "frozen " + p.name());
        }
    }

    @Test
    void backwardAccumulatesAndBuffersFollowTheBatchShape() {
        try (LlamaDecoder m = LlamaDecoder.open(LlamaFixtures.modelDir("llama3-gqa"), new ReferenceKernels())) {
            Param norm = m.finalNorm();
            Param head = m.lmHead().weight();
            norm.setTrainable(true);
            head.setTrainable(true);
            assertEquals(m.numLayers(), m.lowestBackwardLayer(), "only the head: no layer runs backward");
            m.loss(IDS, MASK, null);
            m.backward();
            float once = norm.grad().get(3);
            assertNotEquals(0f, once);
            m.backward(0.5f);
            assertEquals(1.5f * once, norm.grad().get(3), 1e-6f * Math.abs(once));

            double full = m.loss(IDS, MASK, null);
            double shorter = m.loss(new int[][]{{1, 17, 42}}, new int[][]{{1, 1, 1}}, null);
            assertEquals(full, m.loss(IDS, MASK, null), 0.0, "same batch after a different shape, same loss");
            assertNotEquals(full, shorter);
        }
    }

    /** backwardFromHidden for L = Σ hidden ⊙ R, against finite differences. */
    @Test
    void backwardFromHiddenGivesGradientsOfAHiddenStateLoss() {
        try (LlamaDecoder m = LlamaDecoder.open(LlamaFixtures.modelDir("qwen2-tied"), new ReferenceKernels())) {
            Random rng = new Random(9);
            long rows = (long) IDS.length * IDS[0].length;
            float[] r = new float[(int) rows * m.dims().hidden()];
            for (int i = 0; i < r.length; i++) r[i] = (float) rng.nextGaussian();
            Tensor weights = Tensor.fromArray(r, rows, m.dims().hidden());
            DecoderLayer first = m.layers().get(0);
            List<Param> checked = List.of(first.params().get(0), first.linears().get(1).bias(), m.finalNorm());
            for (Param p : checked) p.setTrainable(true);
            m.forwardHidden(IDS, MASK);
            m.backwardFromHidden(weights);
            for (Param p : checked) {
                Tensor v = p.value();
                for (long i = 0; i < v.numel(); i += 7) {
                    float saved = v.get(i);
                    double h = 1e-2;
                    v.set(i, (float) (saved + h));
                    double up = dot(m.forwardHidden(IDS, MASK), weights);
                    v.set(i, (float) (saved - h));
                    double down = dot(m.forwardHidden(IDS, MASK), weights);
                    v.set(i, saved);
                    double numeric = (up - down) / (2 * h);
                    assertEquals(numeric, p.grad().get(i), 5e-3 + 2e-2 * Math.abs(numeric), p.name() + "[" + i + "]");
                }
            }
        }
    }

    static double dot(Tensor a, Tensor b) {
        double s = 0;
        for (long i = 0; i < a.numel(); i++) s += (double) a.get(i) * b.get(i);
        return s;
    }

    @Test
    void badBatchesAreRejectedWithClearMessages() {
        try (LlamaDecoder m = LlamaDecoder.open(LlamaFixtures.modelDir("llama3-gqa"), new ReferenceKernels())) {
            var left = assertThrows(IllegalArgumentException.class,
                    () -> m.loss(new int[][]{{0, 5, 6}}, new int[][]{{0, 1, 1}}, null));
            assertTrue(left.getMessage().contains("right-padded"), left.getMessage());
            var vocab = assertThrows(IllegalArgumentException.class,
                    () -> m.loss(new int[][]{{1, 64}}, new int[][]{{1, 1}}, null));
            assertTrue(vocab.getMessage().contains("64"), vocab.getMessage());
            assertThrows(IllegalStateException.class, m::backward);
        }
    }
}
