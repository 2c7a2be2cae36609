package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.tensor.Tensor;
import dev.xgblora.io.SyntheticModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --recompute gives the same numbers with less held; the memory estimate matches the buffers and stops what cannot fit. */
class RecomputeAndEstimateTest {
    private static final int[][] IDS = {{1, 17, 42, 5, 9, 33, 7}, {2, 8, 19, 11, 0, 0, 0}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};

    /** Loss, every gradient (params, input embeddings, adapters) and the activation bytes held after backward. */
    private record Outcome(double loss, List<float[]> grads, long held) {
    }

    @TempDir
    static Path tmp;

    /** Three layers (a stale scratch would go unnoticed with two: the last forward leaves the top layer's there). */
    private static Path model() {
        Path dir = tmp.resolve("tiny");
        if (!Files.exists(dir)) SyntheticModel.write(SyntheticModel.shape("tiny"), dir, 4, 1L << 30);
        return dir;
    }

    private static Outcome run(Kernels k, boolean recompute) {
        try (LlamaDecoder m = LlamaDecoder.open(model(), k)) {
            m.setRecompute(recompute);
            m.setInputGradWanted(true);
            for (Param p : m.params()) p.setTrainable(true);
            List<Param> adapters = new ArrayList<>();
            Random r = new Random(5);
            for (Linear l : m.linears()) {
                LoraAdapter a = LoraAdapter.create(l, 2, 2f, r);
                for (long i = 0; i < a.b().numel(); i++) a.b().value().set(i, (float) r.nextGaussian() * 0.1f);
                a.setDropout(0.3f, 77); // the recomputed forward must draw the same mask
                l.attach(a);
                adapters.add(a.a());
                adapters.add(a.b());
            }
            double loss = m.loss(IDS, MASK, null);
            m.backward();
            List<float[]> g = new ArrayList<>();
            for (Param p : m.params()) g.add(p.grad().toFloatArray());
            for (Param p : adapters) g.add(p.grad().toFloatArray());
            g.add(m.inputEmbeddingGrad().toFloatArray());
            return new Outcome(loss, g, m.activationBytesHeld());
        }
    }

    @Test
    void recomputeGivesBitwiseTheSameLossAndGradientsWithFewerActivations() {
        ReferenceKernels ref = new ReferenceKernels();
        for (Kernels k : List.of(ref, new VectorKernels(2, ref))) {
            Outcome kept = run(k, false), recomputed = run(k, true);
            assertEquals(kept.loss(), recomputed.loss(), 0.0, k.name());
            for (int i = 0; i < kept.grads().size(); i++) assertArrayEquals(kept.grads().get(i), recomputed.grads().get(i), k.name() + " gradient " + i);
            assertTrue(recomputed.held() < kept.held(), k.name() + ": " + recomputed.held() + " vs " + kept.held() + " bytes");
        }
    }

    /**
     * XGBLoRA's shape of a step (frozen model, adapters on one layer, dropout on): recompute gives the
     * same bits and runs no down_proj product in backward, the next layer's input being kept.
     */
    @Test
    void recomputeSkipsTheDownProjectionProductsAndKeepsTheBits() {
        ReferenceKernels ref = new ReferenceKernels();
        for (Kernels k : List.of(ref, new VectorKernels(2, ref))) {
            DownProducts kept = adaptedMiddleLayer(k, false), recomputed = adaptedMiddleLayer(k, true);
            assertEquals(kept.loss, recomputed.loss, 0.0, k.name());
            for (int i = 0; i < kept.grads.size(); i++) {
                assertArrayEquals(kept.grads.get(i), recomputed.grads.get(i), k.name() + " gradient " + i);
            }
            assertEquals(3, kept.forward, k.name() + ": one down_proj product per layer in forward");
            assertEquals(3, recomputed.forward, k.name());
            assertEquals(0, recomputed.backward, k.name() + ": recompute ran down_proj products in backward");
        }
    }

    private record DownProducts(double loss, List<float[]> grads, int forward, int backward) {
    }

    private static DownProducts adaptedMiddleLayer(Kernels k, boolean recompute) {
        java.util.Set<Tensor> downs = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        int[] count = new int[1];
        Kernels counting = (Kernels) java.lang.reflect.Proxy.newProxyInstance(Kernels.class.getClassLoader(),
                new Class<?>[] {Kernels.class}, (proxy, method, args) -> {
                    if (method.getName().startsWith("linear") && method.getName().endsWith("Forward")
                            && downs.contains(args[1])) count[0]++;
                    try {
                        return method.invoke(k, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        try (LlamaDecoder m = LlamaDecoder.open(model(), counting)) {
            m.setRecompute(recompute);
            m.setInputGradWanted(true);
            List<Param> adapters = new ArrayList<>();
            Random r = new Random(9);
            for (Linear l : m.linears()) {
                if (l.name().contains("down_proj")) downs.add(l.weight().value());
                if (!l.name().contains("layers.1.")) continue;
                LoraAdapter a = LoraAdapter.create(l, 1, 2f, r);
                for (long i = 0; i < a.b().numel(); i++) a.b().value().set(i, (float) r.nextGaussian() * 0.1f);
                a.setDropout(0.3f, 78);
                l.attach(a);
                adapters.add(a.a());
                adapters.add(a.b());
            }
            double loss = m.loss(IDS, MASK, null);
            int forward = count[0];
            m.backward();
            List<float[]> g = new ArrayList<>();
            for (Param p : adapters) g.add(p.grad().toFloatArray());
            g.add(m.inputEmbeddingGrad().toFloatArray());
            return new DownProducts(loss, g, forward, count[0] - forward);
        }
    }

    @Test
    void aKvCachePastHeapTensorLimitsIsRefusedClearly() {
        try (LlamaDecoder m = LlamaDecoder.open(model(), new ReferenceKernels())) {
            // heads · capacity² = 4 · 2^40 elements: an int product would wrap silently
            var e = assertThrows(IllegalArgumentException.class, () -> m.newSession(1 << 20));
            assertTrue(e.getMessage().contains("KV cache of 1048576 tokens"), e.getMessage());
            assertEquals(0, m.newSession(64).length());
        }
    }

    @Test
    void layerActivationEstimateIsWhatTheBuffersHold() {
        DecoderDims d = new DecoderDims(24, 4, 2, 6, 40, 50, 1e-5f, new float[3]);
        LayerActivations a = new LayerActivations(d, 3, 5);
        long bytes = 0;
        for (Tensor t : List.of(a.n1, a.rstd1, a.q, a.k, a.v, a.lse, a.att, a.h, a.n2, a.rstd2, a.gate, a.up, a.act)) bytes += t.numel() * 4;
        assertEquals(bytes, MemoryEstimate.layerActivationBytes(d, 3, 5));
    }

    @Test
    void aRunThatCannotFitStopsWithWhatItNeedsAndWhatToChange() {
        // the Llama-3.1-8B shape at 8 x 4096 tokens on a 24 GiB machine with a 16 GiB heap
        DecoderDims d = new DecoderDims(4096, 32, 8, 128, 14336, 128256, 1e-5f, new float[64]);
        long gib = 1L << 30;
        MemoryEstimate e = MemoryEstimate.decoderTraining(d, 32, 16 * gib, 8, 4096, false, 3_000_000);
        var err = assertThrows(IllegalArgumentException.class, () -> e.check(16 * gib, 24 * gib));
        assertTrue(err.getMessage().contains("--recompute") && err.getMessage().contains("--batch-size")
                && err.getMessage().contains("8 x 4096 tokens"), err.getMessage());
        MemoryEstimate r = MemoryEstimate.decoderTraining(d, 32, 16 * gib, 8, 4096, true, 3_000_000);
        assertTrue(r.activations() < e.activations() / 5, "recompute keeps one layer's activations (plus every layer's input)");
        var err2 = assertThrows(IllegalArgumentException.class, () -> r.check(16 * gib, 24 * gib));
        assertFalse(err2.getMessage().contains("add --recompute"), err2.getMessage());
        // one sequence of 512 tokens fits: weights mapped, a few GiB of heap
        MemoryEstimate one = MemoryEstimate.decoderTraining(d, 32, 16 * gib, 1, 512, true, 3_000_000);
        one.check(6 * gib, 24 * gib);
        assertTrue(one.heapBytes() < 2 * gib, one.describe());
    }
}
