package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoosterInit;
import dev.xgblora.adapt.Preset;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LoraAdapter;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Boosters whose A starts on the top singular directions of their module's gradient
 * ({@code --booster-init gradient}), checked against one subspace iteration computed here in double
 * from the weight gradient of an independent full backward on the same probe batch.
 */
class GradientBoosterInitTest {
    @TempDir
    Path dir;

    static BoostConfig config(BoosterInit init, int rank) {
        return BoostConfig.of(Preset.XGBLORA).stepsPerRound(4).layersPerRound(1).rank(rank).init(init);
    }

    @ParameterizedTest(name = "rank {0}")
    @ValueSource(ints = {1, 2})
    void eachBoosterStartsOnOneSubspaceIterationOfItsModuleGradient(int rank) {
        Dataset train = TinyModels.sentiment(64, 1);
        Trainer random = TrainerTest.trainer(config(BoosterInit.RANDOM, rank), TrainerTest.cfg(8), train, null);
        random.beginRound(0);
        Trainer aligned = TrainerTest.trainer(config(BoosterInit.GRADIENT, rank), TrainerTest.cfg(8), train, null);
        aligned.beginRound(0);
        int layer = aligned.scheduler().currentLayers()[0];
        assertArrayEquals(random.scheduler().currentLayers(), aligned.scheduler().currentLayers());

        // independently: the weight gradients of the round's modules on the probe batch
        EncoderClassifier m = TinyModels.classifier(11);
        for (Param p : m.headParams()) p.setTrainable(true);
        List<Linear> modules = new ArrayList<>();
        for (Linear lin : m.linears()) if (lin.layer() == layer) modules.add(lin);
        for (Linear lin : modules) lin.weight().setTrainable(true);
        m.trainStep(TinyModels.data(train).batch(aligned.probeUnits(0)), 1f);

        List<Linear> randomMods = adapted(random), alignedMods = adapted(aligned);
        assertEquals(modules.size(), alignedMods.size());
        for (int i = 0; i < modules.size(); i++) {
            LoraAdapter a0 = randomMods.get(i).adapter(), a1 = alignedMods.get(i).adapter();
            double[][] g = matrix(modules.get(i).weight().grad());
            double[][] expected = oneSubspaceIteration(g, matrix(a0.a().value()));
            double[][] got = matrix(a1.a().value());
            for (int j = 0; j < rank; j++) {
                String what = modules.get(i) + " row " + j;
                assertEquals(norm(matrix(a0.a().value())[j]), norm(got[j]), 1e-5, what + ": the drawn norm is kept");
                assertTrue(Math.abs(cos(expected[j], got[j])) > 0.999, what + ": cos " + cos(expected[j], got[j]));
                assertTrue(Math.abs(cos(matrix(a0.a().value())[j], got[j])) < 0.99, what + ": moved from the random draw");
            }
            for (float b : a1.b().value().toFloatArray()) assertEquals(0f, b, "B starts at 0: the model is unchanged");
            for (float d : a1.a().grad().toFloatArray()) assertEquals(0f, d, "the probes' gradients are cleared");
        }
    }

    @Test
    void aGradientStartedRunDiffersFromARandomOneAndResumesToTheSameBytes() throws Exception {
        Dataset train = TinyModels.sentiment(64, 1);
        Trainer whole = TrainerTest.trainer(config(BoosterInit.GRADIENT, 1), TrainerTest.cfg(22), train, null);
        whole.run();
        Trainer random = TrainerTest.trainer(config(BoosterInit.RANDOM, 1), TrainerTest.cfg(22), train, null);
        random.run();
        assertNotEquals(random.losses(), whole.losses());

        Path cp = dir.resolve("cp"); // stopped inside round 2, resumed: A and B come from the checkpoint
        Trainer first = TrainerTest.trainer(config(BoosterInit.GRADIENT, 1), TrainerTest.cfg(22).checkpointEvery(10).checkpointDir(cp), train, null);
        first.run(11);
        Trainer resumed = TrainerTest.trainer(config(BoosterInit.GRADIENT, 1), TrainerTest.cfg(22), train, null);
        Checkpoint.restore(resumed, Checkpoint.latest(cp));
        assertEquals(10, resumed.step());
        resumed.run();
        assertEquals(whole.losses(), resumed.losses());
    }

    private static List<Linear> adapted(Trainer t) {
        List<Linear> out = new ArrayList<>();
        for (Linear lin : t.model.linears()) if (lin.adapter() != null) out.add(lin);
        return out;
    }

    /** Rows of orth(orth(G·A0ᵀ)ᵀ·G), each scaled to its row of A0's norm. */
    static double[][] oneSubspaceIteration(double[][] g, double[][] a0) {
        int r = a0.length, out = g.length, in = g[0].length;
        double[][] u = new double[r][out];
        for (int j = 0; j < r; j++) for (int o = 0; o < out; o++) for (int c = 0; c < in; c++) u[j][o] += g[o][c] * a0[j][c];
        gramSchmidt(u);
        double[][] v = new double[r][in];
        for (int j = 0; j < r; j++) for (int o = 0; o < out; o++) for (int c = 0; c < in; c++) v[j][c] += u[j][o] * g[o][c];
        gramSchmidt(v);
        for (int j = 0; j < r; j++) {
            double n = norm(a0[j]);
            for (int c = 0; c < in; c++) v[j][c] *= n;
        }
        return v;
    }

    private static void gramSchmidt(double[][] v) {
        for (int j = 0; j < v.length; j++) {
            for (int q = 0; q < j; q++) {
                double d = dot(v[j], v[q]);
                for (int i = 0; i < v[j].length; i++) v[j][i] -= d * v[q][i];
            }
            double n = norm(v[j]);
            for (int i = 0; i < v[j].length; i++) v[j][i] /= n;
        }
    }

    private static double[][] matrix(Tensor t) {
        double[][] out = new double[(int) t.dim(0)][(int) t.dim(1)];
        for (int i = 0; i < out.length; i++) for (int j = 0; j < out[i].length; j++) out[i][j] = t.get(i, j);
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    private static double cos(double[] a, double[] b) {
        return dot(a, b) / (norm(a) * norm(b));
    }
}
