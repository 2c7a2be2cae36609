package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.MergeMode;
import dev.xgblora.io.WeightStore;
import dev.xgblora.tensor.DType;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    private static Trainer fresh(Preset p, Path ckpt, int every) {
        Dataset d = TinyModels.sentiment(48, 1);
        TrainConfig c = TrainerTest.cfg(14).batchSize(8).checkpointDir(ckpt).checkpointEvery(every);
        // adapter dropout on: its masks must repeat after a resume too
        return new Trainer(TinyModels.classifier(11), TinyModels.data(d), null,
                BoostConfig.of(p).stepsPerRound(4).layersPerRound(2).dropout(p == Preset.XGBLORA ? 0.2f : 0f), c, new ReferenceKernels());
    }

    @Test
    void resumedXgbloraRunReachesTheSameLossAsAnUninterruptedOne() {
        Trainer full = fresh(Preset.XGBLORA, null, 0);
        full.run();
        // killed after step 6 (mid-round: rounds are 4 steps), checkpoints every 3 steps
        Path ckpt = dir.resolve("ckpt");
        Trainer first = fresh(Preset.XGBLORA, ckpt, 3);
        first.run(7);
        assertEquals("checkpoint-6", Checkpoint.latest(ckpt).getFileName().toString());
        first = null; // everything in memory is dropped
        Trainer resumed = fresh(Preset.XGBLORA, ckpt, 3);
        Checkpoint.restore(resumed, ckpt);
        assertEquals(6, resumed.step());
        resumed.run();
        assertEquals(full.losses(), resumed.losses(), "identical loss curve, steps 0..13");
        assertEquals(full.scheduler().boosters().size(), resumed.scheduler().boosters().size());
        assertEquals(full.scheduler().cumulativeParams(), resumed.scheduler().cumulativeParams());
    }

    private static Trainer freshBf16(Path ckpt, int every) {
        TrainConfig c = TrainerTest.cfg(24).batchSize(8).checkpointDir(ckpt).checkpointEvery(every);
        EncoderClassifier m = new EncoderClassifier(TinyModels.bert(TinyModels.bertWeights(11, DType.BF16), new ReferenceKernels()), 2,
                EncoderClassifier.PoolingMode.MEAN, Trainer.headSeed(11));
        return new Trainer(m, TinyModels.data(TinyModels.sentiment(48, 1)), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(2).layersPerRound(2).merge(MergeMode.FACTORED), c, new ReferenceKernels());
    }

    @Test
    void factoredCheckpointsHoldNoBaseWeightAndResumeExactly() throws Exception {
        Trainer full = freshBf16(null, 0);
        full.run();
        Path ckpt = dir.resolve("fact");
        Trainer first = freshBf16(ckpt, 6);
        first.run(19);
        assertEquals("checkpoint-18", Checkpoint.latest(ckpt).getFileName().toString());
        long boosterBytes = 0;
        for (var b : first.scheduler().boosters()) boosterBytes += 4L * b.rank() * (b.in() + b.out());
        java.util.Set<String> base = new java.util.HashSet<>();
        for (Param p : first.model().backboneParams()) base.add(p.name());
        long[] sizes = new long[2];
        int[] counts = new int[2];
        for (int i = 0; i < 2; i++) {
            Path state = ckpt.resolve("checkpoint-" + (12 + 6 * i)).resolve(Checkpoint.STATE);
            sizes[i] = Files.size(state);
            try (WeightStore st = WeightStore.open(state)) {
                for (String n : st.names()) {
                    assertFalse(n.startsWith("touched/"), n);
                    assertFalse(base.contains(n.substring(n.indexOf('/') + 1)), "base weight in the checkpoint: " + n);
                    if (n.startsWith("booster/") && n.endsWith("/a")) counts[i]++;
                }
            }
        }
        // 3 more rounds between step 12 and 18: the file grew by their factors (and their header lines) only
        long perBooster = 4L * (16 + 16) + 400;
        assertTrue(counts[1] > counts[0]);
        assertTrue(sizes[1] - sizes[0] <= (counts[1] - counts[0]) * perBooster + 4 * 64 * 16,
                "growth " + (sizes[1] - sizes[0]) + " bytes for " + (counts[1] - counts[0]) + " boosters");
        assertTrue(sizes[1] < boosterBytes + 64 * 1024, "checkpoint " + sizes[1] + " bytes");
        Trainer resumed = freshBf16(ckpt, 6);
        Checkpoint.restore(resumed, ckpt);
        assertEquals(18, resumed.step());
        resumed.run();
        assertEquals(full.losses(), resumed.losses(), "identical loss curve after a resume of a factored run");
        for (int i = 0; i < full.model().linears().size(); i++) {
            Linear a = full.model().linears().get(i), b = resumed.model().linears().get(i);
            assertEquals(DType.BF16, b.weight().value().dtype());
            if (a.mergedFactors() == null) continue;
            assertArrayEquals(a.mergedFactors().b().value().toFloatArray(), b.mergedFactors().b().value().toFloatArray(), a.name());
        }
    }

    @Test
    void resumedFullFineTuningMatches() {
        Trainer full = fresh(Preset.FULL, null, 0);
        full.run();
        Path ckpt = dir.resolve("f");
        fresh(Preset.FULL, ckpt, 5).run(11);
        Trainer resumed = fresh(Preset.FULL, ckpt, 5);
        Checkpoint.restore(resumed, ckpt);
        assertEquals(10, resumed.step());
        resumed.run();
        assertEquals(full.losses(), resumed.losses());
    }

    @Test
    void checkpointsAreAtomicAndPruned() throws Exception {
        Path ckpt = dir.resolve("c");
        fresh(Preset.LORA, ckpt, 2).run(13);
        try (var s = Files.list(ckpt)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(List.of("checkpoint-10", "checkpoint-12", "latest"), names, "no temporaries left, two kept");
        }
        Trainer other = new Trainer(TinyModels.classifier(11), TinyModels.data(TinyModels.sentiment(48, 1)), null,
                BoostConfig.of(Preset.LORA), TrainerTest.cfg(20), new ReferenceKernels());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.restore(other, ckpt));
        assertTrue(e.getMessage().contains("different run"), e.getMessage());
    }

    /** A model whose loss turns NaN on chosen calls. */
    private static final class Poisoned implements TaskModel {
        final EncoderClassifier inner = TinyModels.classifier(11);
        final java.util.function.IntPredicate bad;
        int calls;

        Poisoned(java.util.function.IntPredicate bad) {
            this.bad = bad;
        }

        public int numLayers() { return inner.numLayers(); }
        public List<Linear> linears() { return inner.linears(); }
        public List<Param> backboneParams() { return inner.backboneParams(); }
        public List<Param> headParams() { return inner.headParams(); }
        public Prediction predict(Batch b) { return inner.predict(b); }
        public String architecture() { return inner.architecture(); }
        public String peftTaskType() { return inner.peftTaskType(); }
        public List<String> headModules() { return inner.headModules(); }

        public double trainStep(Batch b, float s) {
            double l = inner.trainStep(b, s);
            if (bad.test(calls++)) inner.headParams().get(0).grad().set(0, Float.NaN);
            return l;
        }
    }

    @Test
    void nonFiniteStepsAreSkippedThenTheRunStops() {
        Dataset d = TinyModels.sentiment(48, 1);
        Poisoned m = new Poisoned(c -> c == 2 || c == 3);
        Trainer t = new Trainer(m, TinyModels.data(d), null, BoostConfig.of(Preset.LORA), TrainerTest.cfg(6), new ReferenceKernels());
        float headBefore = m.inner.headParams().get(0).value().get(0);
        t.run();
        assertTrue(Double.isNaN(t.losses().get(2)) && Double.isNaN(t.losses().get(3)), "steps 2, 3 skipped");
        assertTrue(Double.isFinite(t.losses().get(4)), "training went on");
        assertEquals(6, t.losses().size());
        for (Param p : m.inner.headParams()) for (float v : p.value().toFloatArray()) assertTrue(Float.isFinite(v), "no NaN reached the weights");
        assertNotEquals(headBefore, m.inner.headParams().get(0).value().get(0));

        Path ckpt = dir.resolve("n");
        Poisoned always = new Poisoned(c -> c >= 4);
        TrainConfig c = TrainerTest.cfg(12).maxBadSteps(3).checkpointDir(ckpt).checkpointEvery(2);
        Trainer t2 = new Trainer(always, TinyModels.data(d), null, BoostConfig.of(Preset.LORA), c, new ReferenceKernels());
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t2::run);
        assertTrue(e.getMessage().contains("3 consecutive") && e.getMessage().contains("step 6"), e.getMessage());
        assertEquals("checkpoint-4", Checkpoint.latest(ckpt).getFileName().toString(), "last good checkpoint intact");
    }
}
