package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.adapt.LayerSelection;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Param;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layer choice by gradient signal, and the head-only warm start. */
class BoosterChoiceTest {
    @TempDir
    Path dir;

    static BoostConfig gradient() {
        return BoostConfig.of(Preset.XGBLORA).stepsPerRound(4).layersPerRound(1).selection(LayerSelection.GRADIENT);
    }

    static List<int[]> roundLayers(Path log) throws Exception {
        List<int[]> out = new ArrayList<>();
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String line : Files.readAllLines(log)) {
            var n = json.readTree(line);
            if (!"round".equals(n.path("type").asText())) continue;
            int[] l = new int[n.path("layers").size()];
            for (int i = 0; i < l.length; i++) l[i] = n.path("layers").get(i).asInt();
            out.add(l);
        }
        return out;
    }

    @Test
    void eachRoundKeepsTheLayerWhoseCandidateBoosterHasTheLargestGradient() throws Exception {
        Dataset train = TinyModels.sentiment(64, 1);
        Path log = dir.resolve("run.jsonl");
        Trainer t = TrainerTest.trainer(gradient(), TrainerTest.cfg(4).logFile(log), train, null);
        t.run();
        int[] chosen = roundLayers(log).get(0);

        // independently: a fresh model, candidate boosters on every layer, the probe batch, per-layer gradient norms
        EncoderClassifier m = TinyModels.classifier(11);
        for (Param p : m.headParams()) p.setTrainable(true);
        BoostConfig b = gradient().seedIfUnset(3);
        BoostingScheduler s = new BoostingScheduler(b, m.linears(), m.numLayers(), 4);
        s.beginCandidates(0);
        m.trainStep(TinyModels.data(train).batch(t.probeUnits(0)), 1f);
        double[] score = new double[m.numLayers()];
        for (Param p : s.roundParams()) {
            int layer = Integer.parseInt(p.name().replaceAll(".*layer\\.(\\d+)\\..*", "$1"));
            for (float g : p.grad().toFloatArray()) score[layer] += (double) g * g;
        }
        int best = 0;
        for (int l = 1; l < score.length; l++) if (score[l] > score[best]) best = l;
        assertTrue(score[best] > 0, Arrays.toString(score));
        assertArrayEquals(new int[] {best}, chosen, "scores " + Arrays.toString(score));
        // the booster trained is the candidate that was scored: per-round parameters count only the kept layer
        assertEquals(4 * 32 + 48 + 48, t.scheduler().cumulativeParams(), "one layer's six rank-1 boosters");
    }

    @Test
    void gradientChoiceDiffersFromRandomAndResumesToTheSameRun() throws Exception {
        Dataset train = TinyModels.sentiment(64, 1);
        Path log = dir.resolve("whole.jsonl");
        TrainConfig c = TrainerTest.cfg(22).logFile(log);
        Trainer whole = TrainerTest.trainer(gradient(), c, train, null);
        whole.run();
        List<int[]> chosen = roundLayers(log);
        assertEquals(6, chosen.size());
        long differ = 0;
        for (int r = 0; r < chosen.size(); r++) {
            if (!Arrays.equals(chosen.get(r), LayerSelection.RANDOM.choose(r, 1, 3, 3))) differ++;
        }
        assertTrue(differ > 0, "gradient choice is not the random one");

        // stopped mid-round (checkpoint at step 10, inside round 2), resumed: the saved round layers are reused
        Path cp = dir.resolve("cp");
        Trainer first = TrainerTest.trainer(gradient(), TrainerTest.cfg(22).checkpointEvery(10).checkpointDir(cp), train, null);
        first.run(11);
        Trainer resumed = TrainerTest.trainer(gradient(), TrainerTest.cfg(22), train, null);
        Checkpoint.restore(resumed, Checkpoint.latest(cp));
        assertEquals(10, resumed.step());
        assertArrayEquals(chosen.get(2), resumed.scheduler().currentLayers());
        resumed.run();
        assertEquals(whole.losses(), resumed.losses());
    }

    @Test
    void headWarmStartTrainsTheHeadAloneThenBoosts() {
        Dataset train = TinyModels.sentiment(64, 1);
        EncoderClassifier m = TinyModels.classifier(11);
        float[] w0 = m.linears().get(0).weight().value().toFloatArray();
        float[] h0 = m.headParams().get(0).value().toFloatArray();
        BoostConfig b = BoostConfig.of(Preset.XGBLORA).stepsPerRound(4).layersPerRound(1).headWarmupSteps(5);
        Trainer t = new Trainer(m, TinyModels.data(train), null, b, TrainerTest.cfg(17), new ReferenceKernels());
        assertEquals(3, t.scheduler().plan().rounds(), "12 steps after the warm start: 3 rounds of 4");
        t.run(5);
        assertFalse(t.scheduler().inRound());
        assertTrue(t.scheduler().boosters().isEmpty());
        assertArrayEquals(w0, m.linears().get(0).weight().value().toFloatArray(), "backbone untouched in the warm start");
        assertFalse(Arrays.equals(h0, m.headParams().get(0).value().toFloatArray()), "the head trained");
        t.run();
        assertEquals(17, t.step());
        assertEquals(3, t.scheduler().boosters().stream().mapToInt(x -> x.round()).max().getAsInt() + 1);
        assertThrows(IllegalArgumentException.class, () -> BoostConfig.of(Preset.FULL).headWarmupSteps(3).plan(10, 3));
    }
}
