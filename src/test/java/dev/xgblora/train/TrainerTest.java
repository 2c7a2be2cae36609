package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.LayerSelection;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    @TempDir
    Path dir;

    static TrainConfig cfg(int steps) {
        return new TrainConfig().steps(steps).batchSize(8).maxLength(16).lr(5e-3).headLr(5e-3).warmupSteps(2).seed(3).logEvery(1);
    }

    static Trainer trainer(BoostConfig b, TrainConfig c, Dataset train, Dataset valid) {
        return new Trainer(TinyModels.classifier(11), TinyModels.data(train), valid == null ? null : TinyModels.data(valid),
                b, c, new ReferenceKernels());
    }

    @Test
    void xgbloraWithOneBoosterOnAllLayersIsLora() {
        Dataset d = TinyModels.sentiment(64, 1);
        int steps = 6;
        Trainer lora = trainer(BoostConfig.of(Preset.LORA).rank(8), cfg(steps), d, null);
        lora.run();
        Trainer xgb = trainer(BoostConfig.of(Preset.XGBLORA).rank(8).stepsPerRound(steps).selection(LayerSelection.ALL), cfg(steps), d, null);
        xgb.run();
        assertEquals(steps, lora.losses().size());
        assertEquals(lora.losses(), xgb.losses(), "identical loss curves");
        assertEquals(18, xgb.scheduler().boosters().size(), "one round over 3 layers x 6 modules");
        // trained: every merged booster moved its weight (B starts at zero, so an untrained one merges nothing)
        for (var b : xgb.scheduler().boosters()) assertTrue(b.deltaNorm() > 0, b.module() + " merged a zero update");
    }

    @Test
    void xgbloraLearnsAndLogsRounds() throws Exception {
        Dataset train = TinyModels.sentiment(200, 1), valid = TinyModels.sentiment(80, 2);
        Path log = dir.resolve("run.jsonl");
        TrainConfig c = cfg(60).lr(2e-2).logFile(log).evalEvery(30).evalEachRound(true);
        Trainer t = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(10).layersPerRound(1), c, train, valid);
        EvalResult before = t.evaluate();
        t.run();
        EvalResult after = t.evals().get(t.evals().size() - 1);
        assertEquals(36, t.scheduler().boosters().size(), "6 rounds of 6 modules on 1 layer");
        assertTrue(after.loss() < before.loss(), "eval loss " + before.loss() + " -> " + after.loss());
        assertTrue(after.accuracy() > 0.75, "toy accuracy " + after.accuracy());
        List<String> lines = Files.readAllLines(log);
        assertEquals(6, lines.stream().filter(l -> l.contains("\"type\":\"round\"")).count());
        assertEquals(2, lines.stream().filter(l -> l.contains("\"type\":\"eval\"")).count());
        assertEquals(5, lines.stream().filter(l -> l.contains("\"type\":\"round\"") && l.contains("\"eval_accuracy\"")).count(),
                "every round but the last (the final eval covers it) carries its metric");
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"delta_norm\"") && l.contains("\"layers\"")));
        // per-round params: 1 layer x 6 modules x r(in+out); in/out 16/16 x4, 16/32, 32/16
        long perRound = 4 * 32 + 48 + 48;
        assertEquals(6 * perRound, t.scheduler().cumulativeParams());
        assertEquals(perRound + 2 * 16 + 2, t.trainableParamsPerStep(), "one round's adapters + head");
        assertEquals(6 * perRound + 2 * 16 + 2, t.cumulativeTrainableParams());
    }

    @Test
    void fullFineTuningTrainsEveryWeight() {
        Dataset d = TinyModels.sentiment(32, 1);
        EncoderClassifier m = TinyModels.classifier(11);
        float before = m.encoder().params().get(0).value().get(0);
        Trainer t = new Trainer(m, TinyModels.data(d), null, BoostConfig.of(Preset.FULL), cfg(3), new ReferenceKernels());
        t.run();
        assertTrue(m.encoder().params().stream().allMatch(p -> p.trainable()));
        assertNotEquals(before, m.encoder().params().get(0).value().get(0));
        assertTrue(t.scheduler().boosters().isEmpty());
    }

    @Test
    void headOnlyTrainsTheHeadAndLeavesTheBackboneBitForBit() {
        Dataset d = TinyModels.sentiment(32, 1);
        EncoderClassifier m = TinyModels.classifier(11);
        List<float[]> backbone = m.backboneParams().stream().map(p -> p.value().toFloatArray()).toList();
        float[] head = m.headParams().get(0).value().toFloatArray();
        Trainer t = new Trainer(m, TinyModels.data(d), null, BoostConfig.of(Preset.HEAD), cfg(4), new ReferenceKernels());
        t.run();
        for (int i = 0; i < backbone.size(); i++) {
            assertArrayEquals(backbone.get(i), m.backboneParams().get(i).value().toFloatArray(), m.backboneParams().get(i).name());
            assertFalse(m.backboneParams().get(i).trainable(), m.backboneParams().get(i).name());
        }
        assertFalse(java.util.Arrays.equals(head, m.headParams().get(0).value().toFloatArray()), "the head trained");
        assertEquals(2 * 16 + 2, t.trainableParamsPerStep(), "head weight [2,16] + bias [2]");
        assertEquals(t.trainableParamsPerStep(), t.cumulativeTrainableParams());
        assertTrue(t.scheduler().boosters().isEmpty());
    }

    @Test
    void accumulatedHalfBatchesGiveTheFullBatchGradient() {
        List<Example> ex = new java.util.ArrayList<>();
        String[] words = {"good", "bad", "film", "plot"};
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < 8; i++) ex.add(Example.classify(words[r.nextInt(4)] + " " + words[r.nextInt(4)] + " the", null, i % 2, i));
        TaskData td = TinyModels.data(new Dataset(dir, Task.CLASSIFY, ex, new LabelMap(), 0));
        EncoderClassifier m = TinyModels.classifier(2);
        new dev.xgblora.adapt.BoostingScheduler(BoostConfig.of(Preset.LORA), m.linears(), m.numLayers(), 1).begin(0);
        m.linears().get(0).adapter().b().value().fill(0.1f);
        java.util.List<dev.xgblora.model.Param> ps = new java.util.ArrayList<>(m.headParams());
        ps.add(m.linears().get(0).adapter().a());
        double full = m.trainStep(td.batch(new int[] {0, 1, 2, 3, 4, 5, 6, 7}), 1f);
        float[][] g1 = ps.stream().map(p -> p.grad().toFloatArray()).toArray(float[][]::new);
        ps.forEach(p -> p.grad().zero());
        double half = m.trainStep(td.batch(new int[] {0, 1, 2, 3}), 0.5f) / 2 + m.trainStep(td.batch(new int[] {4, 5, 6, 7}), 0.5f) / 2;
        assertEquals(full, half, 1e-6);
        for (int i = 0; i < ps.size(); i++) {
            float[] g2 = ps.get(i).grad().toFloatArray();
            double max = 0;
            for (float v : g1[i]) max = Math.max(max, Math.abs(v));
            assertTrue(max > 0, "gradient of " + ps.get(i).name() + " is not zero");
            for (int j = 0; j < g2.length; j++) assertEquals(g1[i][j], g2[j], 1e-6 + 1e-5 * max, ps.get(i).name() + "[" + j + "]");
        }
    }
}
