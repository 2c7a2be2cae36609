package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every weight kind of a tiny BERT (embeddings, LayerNorms, q/k/v/o, FFN, LoRA adapters) gets the
 * gradient that central finite differences give, for the loss Σ(normalize(meanpool(h)) ⊙ R) over
 * a padded batch of two sequences of different lengths.
 */
class BertEncoderGradientTest {

    @ParameterizedTest
    @ValueSource(strings = {"gelu", "gelu_new"})
    void everyParamAndAdapterMatchesFiniteDifferences(String act) {
        BertConfig cfg = TinyBert.config(2, act);
        Map<String, Tensor> w = TinyBert.weights(cfg, 11);
        BertEncoder enc = new BertEncoder(cfg, w::get, new ReferenceKernels());
        Random r = new Random(5);
        LoraAdapter a0 = TinyBert.adapter(enc.linears().get(4), 2, 2f, r);  // layer 0 intermediate
        LoraAdapter a1 = TinyBert.adapter(enc.linears().get(8), 1, 4f, r);  // layer 1 value
        List<Param> checked = new ArrayList<>(enc.params());
        checked.addAll(List.of(a0.a(), a0.b(), a1.a(), a1.b()));
        for (Param p : enc.params()) p.setTrainable(true);
        assertEquals(0, enc.firstLayerNeedingGrad());

        int[][] ids = TinyBert.ids(), mask = TinyBert.mask(), types = TinyBert.types();
        Tensor pooled = Tensor.zeros(2, cfg.hiddenSize());
        Tensor normed = Tensor.zeros(2, cfg.hiddenSize());
        Tensor norms = Tensor.zeros(2);
        Tensor rWeights = KernelTestSupport.randn(new Random(3), 1f, 2, cfg.hiddenSize());
        Runnable forward = () -> {
            Tensor h = enc.forward(ids, mask, types);
            Pooling.meanForward(h, mask, pooled);
            Pooling.l2NormalizeForward(pooled, normed, norms);
        };
        KernelTestSupport.Loss loss = KernelTestSupport.weightedSum(forward, normed, rWeights);

        forward.run();
        Tensor dPooled = Tensor.zeros(2, cfg.hiddenSize());
        Pooling.l2NormalizeBackward(rWeights, normed, norms, dPooled);
        Tensor dHidden = Tensor.zeros(10, cfg.hiddenSize());
        Pooling.meanBackward(dPooled, mask, dHidden);
        enc.backward(dHidden);

        for (Param p : checked) {
            assertNotNull(p.grad(), p.name());
            // the tanh form changes only the FFN; check the rest once, with exact GELU
            if (act.equals("gelu_new") && !p.name().contains("intermediate") && !p.name().contains("output.dense")) continue;
            if (p.name().endsWith("key.bias")) {
                // softmax is invariant to a shift of every score of a query: the key bias gets no gradient
                assertTrue(KernelTestSupport.maxAbs(p.grad()) < 1e-5, p.name() + " gradient should vanish");
                continue;
            }
            // Measured worst error is ~1.3e-4 of the gradient scale (float32 rounding, h = 1e-2);
            // a wrong formula (missing residual, transposed weight, unmasked padding) is off by far more.
            assertSampledGradient(p, loss, 1e-2, 2e-5, 1e-3);
        }
    }

    /**
     * Central differences on every element of small tensors and on 64 seeded random elements of
     * larger ones (a wrong formula shows up in most elements; this keeps the test fast). The
     * tolerance is atol + rtol·max|numeric| over the checked elements.
     */
    private static void assertSampledGradient(Param p, KernelTestSupport.Loss loss, double h, double atol, double rtol) {
        Tensor x = p.value(), g = p.grad();
        long n = x.numel();
        long[] idx;
        if (n <= 64) {
            idx = java.util.stream.LongStream.range(0, n).toArray();
        } else {
            idx = new Random(p.name().hashCode()).longs(64, 0, n).toArray();
        }
        double scale = 0, worst = 0;
        long worstAt = -1;
        double[] numeric = new double[idx.length];
        for (int i = 0; i < idx.length; i++) {
            float orig = x.get(idx[i]);
            float up = (float) (orig + h), down = (float) (orig - h);
            x.set(idx[i], up);
            double lp = loss.eval();
            x.set(idx[i], down);
            double lm = loss.eval();
            x.set(idx[i], orig);
            numeric[i] = (lp - lm) / ((double) up - down);
            scale = Math.max(scale, Math.abs(numeric[i]));
        }
        loss.eval();
        assertTrue(scale > 1e-6, p.name() + ": sampled gradient is zero, the check would be vacuous");
        for (int i = 0; i < idx.length; i++) {
            double err = Math.abs(numeric[i] - g.get(idx[i]));
            if (err > worst) {
                worst = err;
                worstAt = idx[i];
            }
        }
        double tol = atol + rtol * scale;
        assertTrue(worst <= tol, p.name() + ": element " + worstAt + " analytic " + g.get(worstAt)
                + " differs from finite differences by " + worst + " (tolerance " + tol + ")");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void poolingBackwardMatchesFiniteDifferences(boolean cls) {
        int[][] mask = TinyBert.mask();
        Random r = new Random(9);
        Tensor hidden = KernelTestSupport.randn(r, 1f, 10, 6);
        Tensor pooled = Tensor.zeros(2, 6), normed = Tensor.zeros(2, 6), norms = Tensor.zeros(2);
        Tensor rw = KernelTestSupport.randn(r, 1f, 2, 6);
        Runnable forward = () -> {
            if (cls) Pooling.clsForward(hidden, 5, pooled);
            else Pooling.meanForward(hidden, mask, pooled);
            Pooling.l2NormalizeForward(pooled, normed, norms);
        };
        forward.run();
        Tensor dPooled = Tensor.zeros(2, 6), dHidden = Tensor.zeros(10, 6);
        Pooling.l2NormalizeBackward(rw, normed, norms, dPooled);
        if (cls) Pooling.clsBackward(dPooled, 5, dHidden);
        else Pooling.meanBackward(dPooled, mask, dHidden);
        KernelTestSupport.assertGradient(cls ? "cls+l2" : "mean+l2", hidden, dHidden,
                KernelTestSupport.weightedSum(forward, normed, rw), 1e-3, 1e-5, 2e-3);
        // padded rows get nothing from mean pooling; CLS feeds only row 0 of each sequence
        for (int k = 0; k < 6; k++) {
            assertEquals(0f, dHidden.get(8, k));
            assertEquals(0f, dHidden.get(9, k));
        }
    }
}
