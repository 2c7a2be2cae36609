package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A 20-step XGBLoRA run on OpenCL (PoCL in CI) against the same run on the CPU's vector kernels:
 * same losses within 1e-4, same merged weights within 1e-5. The tiny BERT of {@link TinyModels}
 * (3 layers, width 16, BF16 weights) rather than MiniLM: MiniLM's step takes tens of seconds on
 * PoCL's compile-to-CPU path with this session's correctness-first kernels, too slow for CI.
 * Four rounds of 5 steps, so boosters are merged into the weights three times and the resident
 * weight cache must notice each merge.
 */
class OpenClTrainingTest {
    static final int STEPS = 20;

    static Trainer trainer(Kernels k) {
        return trainer(k, null);
    }

    /** The run of this test, checkpointing into {@code checkpoints} when not null. */
    static Trainer trainer(Kernels k, java.nio.file.Path checkpoints) {
        EncoderClassifier model = new EncoderClassifier(TinyModels.bert(TinyModels.bertWeights(11, DType.BF16), k), 2,
                EncoderClassifier.PoolingMode.MEAN, Trainer.headSeed(11));
        TrainConfig cfg = new TrainConfig().steps(STEPS).batchSize(8).maxLength(16).lr(2e-2).headLr(5e-3).warmupSteps(2)
                .seed(3).logEvery(1).checkpointDir(checkpoints);
        Dataset d = TinyModels.sentiment(96, 1);
        return new Trainer(model, TinyModels.data(d), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(5).layersPerRound(1).rank(2), cfg, k);
    }

    static List<Param> weights(Trainer t) {
        EncoderClassifier m = (EncoderClassifier) t.model();
        List<Param> all = new ArrayList<>(m.encoder().params());
        all.addAll(m.headParams());
        return all;
    }

    @Test
    void twentyStepXgbloraRunMatchesTheCpu() {
        Trainer cl = trainer(OpenClTestSupport.kernels());
        Trainer cpu;
        try (VectorKernels vk = new VectorKernels(2)) {
            cpu = trainer(vk);
            cpu.run();
        }
        cl.run();
        assertEquals(STEPS, cpu.losses().size());
        assertEquals(STEPS, cl.losses().size());
        for (int i = 0; i < STEPS; i++) {
            assertEquals(cpu.losses().get(i), cl.losses().get(i), 1e-4, "loss of step " + (i + 1));
        }
        assertTrue(cpu.losses().get(STEPS - 1) < cpu.losses().get(0), "the run trained: " + cpu.losses());
        assertTrue(cpu.scheduler().boosters().size() >= 3 * 6, "several rounds were merged");
        List<Param> a = weights(cpu), b = weights(cl);
        assertEquals(a.size(), b.size());
        double worst = 0;
        for (int p = 0; p < a.size(); p++) {
            float[] x = a.get(p).value().toFloatArray(), y = b.get(p).value().toFloatArray();
            assertEquals(x.length, y.length, a.get(p).name());
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
                assertEquals(x[i], y[i], 1e-5, a.get(p).name() + "[" + i + "] after the run");
            }
        }
        System.out.println("opencl vs cpu, 20-step XGBLoRA: max |Δ weight| = " + worst + ", losses " + cl.losses());
    }
}
