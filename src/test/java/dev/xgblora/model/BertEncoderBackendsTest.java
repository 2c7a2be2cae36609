package dev.xgblora.model;

import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vector kernels give the reference kernels' encoder output and gradients (hidden state,
 * every trainable param, adapters) within float32 tolerance, on a model big enough to exercise the
 * vector kernels' blocked paths and tails (hidden 72, 3 heads of 24, FFN 136, odd lengths).
 */
class BertEncoderBackendsTest {

    private record Result(Tensor hidden, List<Tensor> grads) {
    }

    private static Result run(Kernels kn) {
        BertConfig cfg = new BertConfig(72, 2, 3, 136, 97, 40, 2, 1e-12f, "gelu");
        Map<String, Tensor> w = TinyBert.weights(cfg, 31);
        BertEncoder enc = new BertEncoder(cfg, w::get, kn);
        Random r = new Random(2);
        List<Param> trained = new ArrayList<>();
        for (Param p : enc.params()) {
            if (p.name().contains("layer.1.") || p.name().startsWith("embeddings.")) {
                p.setTrainable(true);
                trained.add(p);
            }
        }
        LoraAdapter a = TinyBert.adapter(enc.linears().get(1), 1, 16f, r); // layer 0 key
        trained.add(a.a());
        trained.add(a.b());
        int b = 3, t = 29;
        int[][] ids = new int[b][t], mask = new int[b][t], types = new int[b][t];
        int[] lengths = {29, 17, 5};
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < lengths[i]; j++) {
                ids[i][j] = r.nextInt(cfg.vocabSize());
                mask[i][j] = 1;
                types[i][j] = j > lengths[i] / 2 ? 1 : 0;
            }
        }
        Tensor h = enc.forward(ids, mask, types).copy();
        Tensor dHidden = KernelTestSupport.randn(new Random(6), 1f, h.shape());
        enc.backward(dHidden);
        List<Tensor> grads = new ArrayList<>();
        for (Param p : trained) grads.add(p.grad().copy().named(p.name()));
        return new Result(h, grads);
    }

    @Test
    void vectorKernelsMatchReferenceThroughTheEncoder() {
        Result ref = run(new ReferenceKernels());
        Result vec;
        try (VectorKernels vk = new VectorKernels(2)) {
            vec = run(vk);
        }
        KernelTestSupport.assertClose("last hidden state", ref.hidden, vec.hidden, 1e-4, 1e-4);
        for (int i = 0; i < ref.grads.size(); i++) {
            Tensor e = ref.grads.get(i);
            double scale = KernelTestSupport.maxAbs(e);
            // atol floor: the key bias gradient is zero up to rounding (softmax shift invariance)
            KernelTestSupport.assertClose(e.name(), e, vec.grads.get(i), 1e-5 + 1e-4 * scale, 1e-3);
        }
    }
}
