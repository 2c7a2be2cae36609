package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * With an adapter only in layer 2 of 3, backward touches nothing below layer 2 (no kernel call,
 * no kept activations), and the adapter's gradients equal those of a run that backpropagates
 * through every layer down to the embeddings.
 */
class BertEncoderGradientScopeTest {

    /** Counts kernel calls by method name. */
    static Kernels counting(Kernels inner, Map<String, AtomicInteger> calls) {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, method, args) -> {
                    calls.computeIfAbsent(method.getName(), k -> new AtomicInteger()).incrementAndGet();
                    try {
                        return method.invoke(inner, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private record Run(float[] gradA, float[] gradB, Map<String, AtomicInteger> backwardCalls, BertEncoder enc) {
    }

    private Run run(boolean everythingTrainable) {
        BertConfig cfg = TinyBert.config(3, "gelu");
        Map<String, Tensor> w = TinyBert.weights(cfg, 21);
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        BertEncoder enc = new BertEncoder(cfg, w::get, counting(new ReferenceKernels(), calls));
        Linear target = enc.linears().get(2 * 6 + 1); // layer 2 key
        assertEquals(2, target.layer());
        LoraAdapter a = TinyBert.adapter(target, 1, 8f, new Random(4));
        if (everythingTrainable) enc.embeddingParams().get(3).setTrainable(true); // embedding LayerNorm γ
        int[][] mask = TinyBert.mask();
        Tensor h = enc.forward(TinyBert.ids(), mask, TinyBert.types());
        Tensor dHidden = KernelTestSupport.randn(new Random(8), 1f, h.shape());
        calls.clear();
        enc.backward(dHidden);
        return new Run(a.a().grad().toFloatArray(), a.b().grad().toFloatArray(), Map.copyOf(calls), enc);
    }

    @Test
    void noGradientBelowTheLowestTrainableLayer() {
        Run scoped = run(false);
        Run full = run(true);
        assertEquals(2, scoped.enc.firstLayerNeedingGrad());
        assertEquals(0, full.enc.firstLayerNeedingGrad());

        // layer 2 only: 3 input grads (output, intermediate, attn_out; q/k/v need no dx below) vs
        // 6 per layer for all 3 layers; LayerNorm backward 2 vs 2·3 + embedding LN.
        assertEquals(3, count(scoped.backwardCalls, "linearBackwardInput"));
        assertEquals(18, count(full.backwardCalls, "linearBackwardInput"));
        assertEquals(2, count(scoped.backwardCalls, "layerNormBackward"));
        assertEquals(7, count(full.backwardCalls, "layerNormBackward"));
        assertEquals(1, count(scoped.backwardCalls, "attentionBackward"));
        assertEquals(0, count(scoped.backwardCalls, "linearBackwardWeight")); // every weight frozen

        for (int l = 0; l < 2; l++) {
            assertFalse(scoped.enc.keepsActivations(l), "layer " + l + " keeps activations");
            assertTrue(full.enc.keepsActivations(l));
        }
        assertTrue(scoped.enc.keepsActivations(2));
        assertTrue(scoped.enc.activationFloats() < full.enc.activationFloats());
        for (Param p : scoped.enc.params()) assertNull(p.grad(), p.name());

        // the adapter sees exactly the same gradient either way
        assertArrayEquals(full.gradA, scoped.gradA, 1e-6f);
        assertArrayEquals(full.gradB, scoped.gradB, 1e-6f);
        assertTrue(KernelTestSupport.maxAbs(Tensor.fromArray(scoped.gradA, scoped.gradA.length)) > 1e-4);
    }

    private static int count(Map<String, AtomicInteger> calls, String op) {
        AtomicInteger n = calls.get(op);
        return n == null ? 0 : n.get();
    }
}
