package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.adapt.Booster;
import dev.xgblora.adapt.Merge;
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
        BoostingScheduler s = new BoostingScheduler(BoostConfig.of(Preset.XGBLORA).layersPerRound(3).stepsPerRound(1), m.linears(), 3, 40);
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
}
