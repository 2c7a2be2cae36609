package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

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
            // h = 1e-2 in float32 through a 2-layer net: rounding and truncation stay below 1 % of
            // the gradient scale; a wrong formula (a missing residual, a transposed weight, a wrong
            // mask) is off by far more.
            KernelTestSupport.assertGradient(p.name(), p.value(), p.grad(), loss, 1e-2, 1e-4, 1e-2);
        }
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
