package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.device.cuda.CudaKernels;
import dev.xgblora.device.cuda.CudaStubDriver;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.model.LlamaDecoder;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A short XGBLoRA run of the tiny BERT (3 layers, width 16, BF16 weights) on {@code cuda} through the
 * stub driver, whose cuLaunchKernel runs the committed PTX in the test interpreter, against the same
 * run on the CPU's vector kernels: same losses within 1e-4, same merged weights within 1e-5. Two
 * steps per round, so boosters are merged into the (device-cached) weights twice and the cache must
 * notice. Six steps keep the interpreted run to seconds. The same for the tiny Llama fixture (GQA,
 * causal attention in training, RoPE on the CPU side), four steps.
 */
class CudaTrainingTest {
    static final int STEPS = 6;

    static Trainer trainer(Kernels k) {
        EncoderClassifier model = new EncoderClassifier(TinyModels.bert(TinyModels.bertWeights(11, DType.BF16), k), 2,
                EncoderClassifier.PoolingMode.MEAN, Trainer.headSeed(11));
        TrainConfig cfg = new TrainConfig().steps(STEPS).batchSize(4).maxLength(12).lr(2e-2).headLr(5e-3).warmupSteps(1)
                .seed(3).logEvery(1);
        return new Trainer(model, TinyModels.data(TinyModels.sentiment(48, 1)), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(2).layersPerRound(1).rank(2), cfg, k);
    }

    @Test
    void aShortXgbloraRunOnTheStubGpuMatchesTheCpu() {
        Trainer cpu;
        try (VectorKernels vk = new VectorKernels(1)) {
            cpu = trainer(vk);
            cpu.run();
        }
        Trainer gpu;
        try (CudaKernels cuda = CudaStubDriver.kernels(new VectorKernels(1))) {
            gpu = trainer(cuda);
            gpu.run();
            assertTrue(CudaStubDriver.launches() > 50, "the step's GEMMs and attention ran as PTX: " + CudaStubDriver.launches());
            assertTrue(cuda.residentBytes() > 0, "the frozen weights stayed on the device");
            System.out.println("cuda (stub + PTX interpreter) vs cpu, " + STEPS + "-step XGBLoRA: " + CudaStubDriver.launches()
                    + " launches, " + CudaStubDriver.instructions() + " PTX instructions, peak device memory "
                    + CudaStubDriver.peakBytes() + " bytes, losses " + gpu.losses());
        }
        assertEquals(STEPS, gpu.losses().size());
        for (int i = 0; i < STEPS; i++) {
            assertEquals(cpu.losses().get(i), gpu.losses().get(i), 1e-4, "loss of step " + (i + 1));
        }
        assertTrue(cpu.scheduler().boosters().size() >= 2, "rounds were merged: " + cpu.scheduler().boosters().size());
        List<Param> a = OpenClTrainingTest.weights(cpu), b = OpenClTrainingTest.weights(gpu);
        assertEquals(a.size(), b.size());
        for (int p = 0; p < a.size(); p++) {
            float[] x = a.get(p).value().toFloatArray(), y = b.get(p).value().toFloatArray();
            for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 1e-5, a.get(p).name() + "[" + i + "] after the run");
        }
    }

    /** Losses of 4 XGBLoRA steps of the tiny Llama fixture (2 layers, 4 query heads over 2 kv heads) on {@code k}. */
    static List<Double> decoderLosses(Kernels k) throws Exception {
        try (LlamaDecoder dec = LlamaDecoder.open(DecoderTaskTest.fixture(), k)) {
            TaskData data = DecoderTaskTest.lmData();
            TrainConfig c = new TrainConfig().steps(4).batchSize(2).maxLength(12).lr(1e-2).warmupSteps(0).seed(1).logEvery(0);
            Trainer t = new Trainer(new DecoderLm(dec), data, null, BoostConfig.of(Preset.XGBLORA).stepsPerRound(2).layersPerRound(1), c, k);
            t.run();
            return List.copyOf(t.losses());
        }
    }

    @Test
    void aShortDecoderRunOnTheStubGpuMatchesTheCpu() throws Exception {
        List<Double> cpu, gpu;
        try (VectorKernels vk = new VectorKernels(1)) {
            cpu = decoderLosses(vk);
        }
        try (CudaKernels cuda = CudaStubDriver.kernels(new VectorKernels(1))) {
            gpu = decoderLosses(cuda);
            assertTrue(CudaStubDriver.launches() > 20, "launches: " + CudaStubDriver.launches());
        }
        assertEquals(4, gpu.size());
        for (int i = 0; i < cpu.size(); i++) assertEquals(cpu.get(i), gpu.get(i), 1e-4, "decoder loss of step " + (i + 1));
        assertTrue(cpu.get(3) < cpu.get(0), "the decoder trained: " + cpu);
    }
}
