package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.io.ModelCache;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.VectorKernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The acceptance on the real model: a 20-step all-MiniLM-L6-v2 XGBLoRA job on OpenCL
 * (PoCL in CI) against the same job on the CPU's vector kernels — the same step losses within 1e-4
 * and the same merged model (the export, after four rounds and their merges) within 1e-5. Kept
 * small (2 sentences of at most 16 tokens per step) so PoCL runs it in CI time.
 */
class OpenClMiniLmTest {
    @TempDir
    Path dir;

    static final int STEPS = 20;

    FineTune.Result run(Kernels k, Path train, String name) {
        TrainConfig cfg = new TrainConfig().steps(STEPS).batchSize(2).maxLength(16).lr(2e-3).headLr(1e-3).warmupSteps(2)
                .seed(5).logEvery(1);
        return FineTune.run(new FineTune.Job(ModelCache.miniLmDir(), train, null, DataOptions.classify(),
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(5), cfg, dir.resolve(name), false, true, false), k, ProgressListener.NONE);
    }

    @Test
    void twentyStepMiniLmJobMatchesTheCpu() throws Exception {
        ModelCache.miniLm(); // imports into the tests' own cache when missing: never a skip
        Kernels cl = OpenClTestSupport.kernels();
        StringBuilder tsv = new StringBuilder("label\tsentence\n");
        String[] pos = {"a wonderful film", "great acting and a moving story", "i loved it", "charming and funny"};
        String[] neg = {"a dull mess", "boring and far too long", "i hated it", "the plot makes no sense"};
        for (int i = 0; i < 8; i++) tsv.append("1\t").append(pos[i % 4]).append('\n').append("0\t").append(neg[i % 4]).append('\n');
        Path train = dir.resolve("train.tsv");
        Files.writeString(train, tsv.toString());

        FineTune.Result cpu;
        try (VectorKernels vk = new VectorKernels(2)) {
            cpu = run(vk, train, "cpu");
        }
        FineTune.Result dev = run(cl, train, "opencl");
        List<Double> a = cpu.trainer().losses(), b = dev.trainer().losses();
        assertEquals(STEPS, a.size());
        assertEquals(STEPS, b.size());
        for (int i = 0; i < STEPS; i++) assertEquals(a.get(i), b.get(i), 1e-4, "loss of step " + (i + 1));

        double worst = 0;
        try (WeightStore x = WeightStore.open(dir.resolve("cpu/merged")); WeightStore y = WeightStore.open(dir.resolve("opencl/merged"))) {
            assertEquals(x.names(), y.names());
            for (String name : x.names()) {
                float[] u = x.tensor(name).toFloatArray(), v = y.tensor(name).toFloatArray();
                for (int i = 0; i < u.length; i++) {
                    worst = Math.max(worst, Math.abs(u[i] - v[i]));
                    if (Math.abs(u[i] - v[i]) > 1e-5) assertEquals(u[i], v[i], 1e-5, name + "[" + i + "] of the merged model");
                }
            }
        }
        System.out.println("MiniLM 20-step XGBLoRA, opencl vs cpu: max |Δloss| = "
                + java.util.stream.IntStream.range(0, STEPS).mapToDouble(i -> Math.abs(a.get(i) - b.get(i))).max().orElse(0)
                + ", max |Δ merged weight| = " + worst);
    }
}
