package dev.xgblora.model;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The tiled LM loss against full logits + the reference cross-entropy, and the decoder with tiny tiles. */
class ChunkedLmLossTest {
    private static final int IGNORE = -100;

    @Test
    void tiledLossAndGradientsEqualTheFullLogitsPath() {
        ReferenceKernels ref = new ReferenceKernels();
        for (Kernels k : List.of(ref, new VectorKernels(2, ref))) {
            for (DType dt : List.of(DType.F32, DType.BF16)) {
                Random r = new Random(3);
                int m = 37, c = 12, v = 53;
                Tensor hidden = randn(r, 1f, m, c);
                Tensor w = randn(r, 0.7f, DType.BF16 == dt ? DType.BF16 : DType.F32, v, c);
                int[] targets = new int[m];
                for (int i = 0; i < m; i++) targets[i] = i % 5 == 0 ? IGNORE : r.nextInt(v);

                Tensor logits = Tensor.zeros(m, v);
                ref.linearForward(hidden, w, null, logits);
                double want = ref.crossEntropyForward(logits, targets, IGNORE, null);
                Tensor dlogits = Tensor.zeros(m, v);
                ref.crossEntropyBackward(logits, targets, IGNORE, 0.25f, dlogits);
                Tensor dhWant = Tensor.zeros(m, c), dwWant = Tensor.zeros(v, c);
                ref.linearBackwardInput(dlogits, w, dhWant);
                ref.linearBackwardWeight(dlogits, hidden, dwWant);

                for (int[] chunk : new int[][] {{4, 7}, {37, 53}, {256, 8192}, {1, 1}}) {
                    ChunkedLmLoss loss = new ChunkedLmLoss(chunk[0], chunk[1]);
                    String what = k.name() + " " + dt + " tiles " + chunk[0] + "x" + chunk[1];
                    assertEquals(want, loss.forward(k, hidden, w, targets, IGNORE), 1e-5 * Math.abs(want), what + " loss");
                    Tensor dh = Tensor.zeros(m, c), dw = Tensor.zeros(v, c);
                    dh.fill(0.5f); // backward accumulates
                    dw.fill(-0.25f);
                    loss.backward(k, hidden, w, targets, IGNORE, 0.25f, dh, dw);
                    ref.accumulate(constant(m, c, 0.5f), -1f, dh);
                    ref.accumulate(constant(v, c, -0.25f), -1f, dw);
                    assertClose(what + " dhidden", dhWant, dh, 1e-6, 1e-5);
                    assertClose(what + " dweight", dwWant, dw, 1e-6, 1e-5);
                }
            }
        }
    }

    private static Tensor constant(long rows, long cols, float v) {
        Tensor t = Tensor.zeros(rows, cols);
        t.fill(v);
        return t;
    }

    @Test
    void targetsOutsideTheVocabularyAreNamed() {
        ChunkedLmLoss loss = new ChunkedLmLoss(4, 4);
        var e = assertThrows(IllegalArgumentException.class,
                () -> loss.forward(new ReferenceKernels(), Tensor.zeros(2, 3), Tensor.zeros(5, 3), new int[] {1, 5}, IGNORE));
        assertEquals(true, e.getMessage().contains("target 5 of row 1"), e.getMessage());
    }

    /** Tiny tiles (many partial ones) give the decoder the same loss and gradients as one tile, and no [B·T, V] buffer. */
    @Test
    void decoderLossWithTinyTilesMatchesOneTile() {
        for (String name : List.of("llama3-gqa", "qwen2-tied")) {
            try (LlamaDecoder m = LlamaDecoder.open(LlamaFixtures.modelDir(name), new ReferenceKernels())) {
                int[][] ids = {{1, 17, 42, 5, 9, 33}, {2, 8, 19, 0, 0, 0}};
                int[][] mask = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0}};
                for (Param p : m.params()) p.setTrainable(true);
                double one = m.loss(ids, mask, null);
                m.backward();
                List<Tensor> want = new ArrayList<>();
                for (Param p : m.params()) {
                    want.add(p.grad().copy());
                    p.grad().zero();
                }
                m.setLmLossChunks(3, 7);
                double tiled = m.loss(ids, mask, null);
                m.backward();
                assertEquals(one, tiled, 1e-6 * Math.abs(one), name + " loss");
                for (int i = 0; i < want.size(); i++) {
                    assertClose(name + " grad " + m.params().get(i).name(), want.get(i), m.params().get(i).grad(), 1e-6, 1e-5);
                }
                assertNull(m.fullLogitsBuffer(), "training never allocates [B·T, V] logits");
            }
        }
    }
}
