package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.adapt.Booster;
import dev.xgblora.adapt.Merge;
import dev.xgblora.adapt.MergeMode;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MergeTest {
    private static Batch batch() {
        List<Example> ex = List.of(Example.classify("good film the plot", null, 1, 1), Example.classify("bad", null, 0, 2),
                Example.classify("a scene was good bad actor", null, 1, 3));
        return TinyModels.data(new Dataset(java.nio.file.Path.of("x"), Task.CLASSIFY, ex, new LabelMap(), 0)).batch(new int[] {0, 1, 2});
    }

    private static void randomizeAdapters(BoostingScheduler s, Random r) {
        for (Param p : s.roundParams()) {
            Tensor v = p.value();
            for (long i = 0; i < v.numel(); i++) v.set(i, (float) (r.nextGaussian() * 0.05));
        }
    }

    @Test
    void mergedModelEqualsModelWithAdaptersAttached() {
        EncoderClassifier m = TinyModels.classifier(5);
        BoostingScheduler s = new BoostingScheduler(BoostConfig.of(Preset.XGBLORA).layersPerRound(2).rank(2), m.linears(), 3, 100);
        Batch b = batch();
        for (int round = 0; round < 3; round++) {
            s.begin(round);
            randomizeAdapters(s, new Random(round));
            m.predict(b);
            float[] attached = m.lastLogits().toFloatArray();
            BoostingScheduler.RoundSummary sum = s.end();
            assertTrue(sum.deltaNorm() > 0);
            m.predict(b);
            float[] merged = m.lastLogits().toFloatArray();
            for (int i = 0; i < attached.length; i++) assertEquals(attached[i], merged[i], 1e-5, "round " + round + " logit " + i);
            for (Linear l : m.linears()) assertNull(l.adapter(), "detached after merge");
        }
        assertEquals(3 * 2 * 6, s.boosters().size());
    }

    @Test
    void deltaNormIsFrobeniusOfTheUpdate() {
        Random r = new Random(1);
        int rank = 3, in = 7, out = 5;
        float[] a = new float[rank * in], b = new float[out * rank];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        Param w = new Param("w", Tensor.zeros(out, in), true);
        Merge.into(w, a, b, rank, 1.5f);
        double ss = 0;
        for (float v : w.value().toFloatArray()) ss += (double) v * v;
        assertEquals(Math.sqrt(ss), Merge.frobenius(a, b, rank, in, out, 1.5f), 1e-4);
    }

    @Test
    void bf16BaseMergesAccumulateInFloat32AndLeaveTheSourceAlone() {
        Map<String, Tensor> weights = TinyModels.bertWeights(9, DType.BF16);
        String name = "encoder.layer.1.attention.self.query.weight";
        Tensor source = weights.get(name);
        float[] original = source.toFloatArray();
        EncoderClassifier m = new EncoderClassifier(TinyModels.bert(weights, new ReferenceKernels()), 2,
                EncoderClassifier.PoolingMode.MEAN, 1);
        Linear q = m.linears().stream().filter(l -> l.name().equals("encoder.layer.1.attention.self.query")).findFirst().orElseThrow();
        BoostingScheduler s = new BoostingScheduler(BoostConfig.of(Preset.XGBLORA).layersPerRound(3).stepsPerRound(1).merge(MergeMode.DENSE),
                m.linears(), 3, 40);
        double[] expected = new double[original.length];
        for (int i = 0; i < expected.length; i++) expected[i] = original[i];
        Random r = new Random(4);
        for (int round = 0; round < 40; round++) {
            s.begin(round);
            for (Param p : s.roundParams()) {
                for (long i = 0; i < p.numel(); i++) p.value().set(i, (float) (r.nextGaussian() * 1e-3));
            }
            s.end();
            Booster bq = s.boosters().stream().filter(x -> x.module().equals(q.name())).reduce((x, y) -> y).orElseThrow();
            for (int i = 0; i < q.out(); i++) {
                for (int j = 0; j < q.in(); j++) expected[i * q.in() + j] += (double) bq.factor() * bq.b()[i] * bq.a()[j];
            }
        }
        assertEquals(DType.F32, q.weight().value().dtype(), "touched weight became an F32 working copy");
        assertArrayEquals(original, source.toFloatArray(), "the BF16 source tensor is never written");
        double maxErr = 0, maxBf16Step = 0;
        float[] w = q.weight().value().toFloatArray();
        for (int i = 0; i < w.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(w[i] - expected[i]));
            maxBf16Step = Math.max(maxBf16Step, Math.abs(expected[i]) / 256);
        }
        // 40 rank-1 updates of ~1e-3·1e-3·16 each; bf16 re-rounding would lose them entirely
        assertTrue(maxErr < 1e-6, "float32 accumulation error " + maxErr + " (a bf16 step is ~" + maxBf16Step + ")");
        assertTrue(s.touchedWeights().contains(q.weight()));
    }

    private static EncoderClassifier bf16Classifier() {
        return new EncoderClassifier(TinyModels.bert(TinyModels.bertWeights(9, DType.BF16), new ReferenceKernels()), 2,
                EncoderClassifier.PoolingMode.MEAN, 1);
    }

    /** AUTO folds small F32 weights held off the heap (as mapped safetensors are) at once: no factors to run per step. */
    @Test
    void autoFoldsSmallMappedF32WeightsDensely() {
        Map<String, Tensor> w = TinyModels.bertWeights(9, DType.F32);
        java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofAuto();
        w.replaceAll((name, t) -> name.endsWith("dense.weight") || name.contains("attention.self") && name.endsWith(".weight")
                ? t.toDType(DType.F32, arena) : t); // off-heap F32, as a mapped file's
        EncoderClassifier auto = new EncoderClassifier(TinyModels.bert(w, new ReferenceKernels()), 2, EncoderClassifier.PoolingMode.MEAN, 1);
        EncoderClassifier dense = new EncoderClassifier(TinyModels.bert(TinyModels.bertWeights(9, DType.F32), new ReferenceKernels()), 2,
                EncoderClassifier.PoolingMode.MEAN, 1);
        assertFalse(auto.linears().get(0).weight().value().isHeapF32(), "the test needs an off-heap F32 weight");
        BoostingScheduler sa = new BoostingScheduler(BoostConfig.of(Preset.XGBLORA).layersPerRound(2).merge(MergeMode.AUTO), auto.linears(), 3, 100);
        BoostingScheduler sd = new BoostingScheduler(BoostConfig.of(Preset.XGBLORA).layersPerRound(2).merge(MergeMode.DENSE), dense.linears(), 3, 100);
        for (int round = 0; round < 3; round++) {
            for (BoostingScheduler s : List.of(sa, sd)) {
                s.begin(round);
                randomizeAdapters(s, new Random(round));
                s.end();
            }
        }
        for (Linear l : auto.linears()) {
            assertNull(l.mergedFactors(), "a small F32 module keeps no factors: " + l.name());
            if (sa.touchedWeights().contains(l.weight())) assertTrue(l.weight().value().isHeapF32(), "folded into a heap copy: " + l.name());
        }
        Batch b = batch();
        auto.predict(b);
        dense.predict(b);
        assertArrayEquals(dense.lastLogits().toFloatArray(), auto.lastLogits().toFloatArray(), 1e-5f);
        // the rule: F32 up to 16 MiB per module folds; a 1B decoder's 2048x8192 MLP or any BF16 weight stays mapped
        assertTrue(MergeMode.foldsAtOnce(false, true, 384, 1536));
        assertFalse(MergeMode.foldsAtOnce(false, true, 2048, 8192));
        assertFalse(MergeMode.foldsAtOnce(false, false, 384, 384));
    }

    @Test
    void factoredAndAutoMergesAreTheDenseModelAndKeepBf16WeightsMapped() {
        MergeMode[] modes = {MergeMode.DENSE, MergeMode.FACTORED, MergeMode.AUTO};
        EncoderClassifier[] m = new EncoderClassifier[3];
        BoostingScheduler[] s = new BoostingScheduler[3];
        for (int i = 0; i < 3; i++) {
            m[i] = bf16Classifier();
            s[i] = new BoostingScheduler(BoostConfig.of(Preset.XGBLORA).layersPerRound(2).rank(2).merge(modes[i]), m[i].linears(), 3, 100);
        }
        List<Tensor> sources = m[1].linears().stream().map(l -> l.weight().value()).toList();
        Batch b = batch();
        for (int round = 0; round < 6; round++) {
            float[][] logits = new float[3][];
            for (int i = 0; i < 3; i++) {
                s[i].begin(round);
                randomizeAdapters(s[i], new Random(round));
                s[i].end();
                m[i].predict(b);
                logits[i] = m[i].lastLogits().toFloatArray();
            }
            for (int i = 1; i < 3; i++) {
                for (int j = 0; j < logits[0].length; j++) {
                    assertEquals(logits[0][j], logits[i][j], 1e-5, modes[i] + " vs dense, round " + round + " logit " + j);
                }
            }
        }
        int maxK = 0;
        for (int j = 0; j < m[1].linears().size(); j++) {
            Linear l = m[1].linears().get(j);
            assertSame(sources.get(j), l.weight().value(), "factored merge never replaces the weight: " + l.name());
            assertEquals(DType.BF16, l.weight().value().dtype());
            if (l.mergedFactors() != null) maxK = Math.max(maxK, l.mergedFactors().rank());
        }
        assertTrue(maxK >= 6, "some module holds >= 3 stacked rank-2 boosters: " + maxK);
        // auto: a 16x16 module folds at k = 4 (k·32 >= 256/2), so some weights became F32 and lost their factors
        long folded = m[2].linears().stream().filter(l -> l.weight().value().dtype() == DType.F32).count();
        long kept = m[2].linears().stream().filter(l -> l.mergedFactors() != null).count();
        assertTrue(folded > 0 && kept > 0, "auto folded " + folded + " and kept factors on " + kept);
        for (Linear l : m[2].linears()) {
            if (l.mergedFactors() != null) assertTrue(!MergeMode.factorsTooLarge(l.mergedFactors().rank(), l.in(), l.out()), l.name());
        }

        // backward: the next round's adapter gradients and the head's flow through the factors as through the dense weights
        for (int i = 0; i < 2; i++) {
            s[i].begin(6);
            randomizeAdapters(s[i], new Random(6));
            m[i].trainStep(b, 1f);
        }
        List<Param> pd = s[0].roundParams(), pf = s[1].roundParams();
        double maxDiff = 0, maxGrad = 0;
        for (int j = 0; j < pd.size(); j++) {
            float[] gd = pd.get(j).grad().toFloatArray(), gf = pf.get(j).grad().toFloatArray();
            for (int q = 0; q < gd.length; q++) {
                maxDiff = Math.max(maxDiff, Math.abs(gd[q] - gf[q]));
                maxGrad = Math.max(maxGrad, Math.abs(gd[q]));
            }
        }
        assertTrue(maxGrad > 1e-4, "gradients are not all zero: " + maxGrad);
        assertTrue(maxDiff <= 1e-5 * Math.max(1, maxGrad), "adapter gradients, factored vs dense: " + maxDiff);
    }
}
