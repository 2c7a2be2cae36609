package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.device.opencl.OpenClKernels;
import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.io.ModelCache;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.LlamaDecoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With pooling, the classifier head, the LM loss and gradient clipping on the device, a training
 * step moves its inputs (token ids, mask, targets) and the loss/norm scalars, nothing else: the
 * bytes of a steady-state step (mid round) of a MiniLM classify job and of a tiny decoder LM job
 * stay below bounds that the design with host-side heads exceeded (MiniLM 50.3 KB, see
 * i11-resident: last hidden state down, its gradient up; decoder: the logits tile down twice and up once).
 */
class OpenClHeadResidencyTest {
    @TempDir
    Path dir;

    /** MiniLM (batch 2, ≤ 16 tokens): ids, positions, types, the attention and pooling masks, labels, the loss rows and the norm. */
    static final long MINILM_BOUND = 4 * 1024;
    /** Tiny decoder (batch 2 × 12 tokens, vocab 64): ids, positions, mask, targets, the loss and the norm. */
    static final long DECODER_BOUND = 4 * 1024;

    /** Bytes moved by each step (deltas between progress reports, which come after each step's update). */
    static final class StepBytes implements ProgressListener {
        final OpenClKernels k;
        final List<OpenClKernels.Transfers> steps = new ArrayList<>();
        OpenClKernels.Transfers last;

        StepBytes(OpenClKernels k) {
            this.k = k;
            this.last = k.transfers();
        }

        @Override
        public void onStep(StepInfo info) {
            OpenClKernels.Transfers now = k.transfers();
            steps.add(now.minus(last));
            last = now;
        }
    }

    @Test
    void aMiniLmClassifyStepMovesOnlyItsInputsAndTheLoss() throws Exception {
        ModelCache.miniLm();
        StringBuilder tsv = new StringBuilder("label\tsentence\n");
        String[] pos = {"a wonderful film", "great acting and a moving story"}, neg = {"a dull mess", "boring and far too long"};
        for (int i = 0; i < 4; i++) tsv.append("1\t").append(pos[i % 2]).append('\n').append("0\t").append(neg[i % 2]).append('\n');
        Path train = dir.resolve("train.tsv");
        Files.writeString(train, tsv.toString());
        TrainConfig cfg = new TrainConfig().steps(5).batchSize(2).maxLength(16).lr(2e-3).headLr(1e-3).warmupSteps(2).seed(5)
                .logEvery(1).maxGradNorm(1.0);
        try (OpenClKernels k = OpenClTestSupport.fresh(true)) {
            StepBytes bytes = new StepBytes(k);
            FineTune.run(new FineTune.Job(ModelCache.miniLmDir(), train, null, DataOptions.classify(),
                    BoostConfig.of(Preset.XGBLORA).stepsPerRound(10), cfg, dir.resolve("out"), false, true, false), k, bytes);
            System.out.println("MiniLM classify, bytes per step host→device / device→host: " + bytes.steps);
            for (int s = 2; s < 5; s++) { // steps 3-5: mid round (step 1 uploads the model, step 2 a new batch shape)
                OpenClKernels.Transfers t = bytes.steps.get(s);
                assertTrue(t.total() < MINILM_BOUND, "MiniLM step " + (s + 1) + " moved " + t + ", bound " + MINILM_BOUND);
                assertTrue(t.deviceToHost() <= 64, "MiniLM step " + (s + 1) + " read back " + t.deviceToHost() + " bytes: more than the loss and the norm");
            }
        }
    }

    static TaskData lmData() {
        StringBuilder text = new StringBuilder();
        String[] words = {"to", "be", "or", "not", "that", "is", "the", "question"};
        for (int i = 0; i < 60; i++) text.append(words[i % words.length]).append(' ');
        Dataset d = new Dataset(Path.of("t.txt"), Task.LM, List.of(Example.text(text.toString(), 1)), new LabelMap(), 0);
        return new TaskData(d, new FakeEncoder(64), 12);
    }

    static Trainer lmTrainer(LlamaDecoder dec, Kernels k) {
        TrainConfig c = new TrainConfig().steps(6).batchSize(2).maxLength(12).lr(1e-2).warmupSteps(0).seed(1).logEvery(0).maxGradNorm(0.5);
        return new Trainer(new DecoderLm(dec), lmData(), null, BoostConfig.of(Preset.XGBLORA).stepsPerRound(5).layersPerRound(1), c, k);
    }

    /** A tiny Llama (2 layers, vocab 64, the PyTorch fixture) LM step on OpenCL: its bytes, and the same losses as the reference kernels. */
    @Test
    void aDecoderLmStepMovesOnlyItsInputsAndTheLoss() throws Exception {
        List<Double> want;
        try (LlamaDecoder dec = DecoderTaskTest.decoder()) {
            Trainer t = lmTrainer(dec, new ReferenceKernels());
            t.run();
            want = t.losses();
        }
        try (OpenClKernels k = OpenClTestSupport.fresh(true); LlamaDecoder dec = LlamaDecoder.open(DecoderTaskTest.fixture(), k)) {
            Trainer t = lmTrainer(dec, k);
            t.run(3);
            OpenClKernels.Transfers before = k.transfers();
            t.run(4);
            OpenClKernels.Transfers step = k.transfers().minus(before);
            t.run();
            System.out.println("tiny decoder LM, bytes of step 4 host→device / device→host: " + step + "; losses " + t.losses()
                    + " vs reference " + want);
            assertTrue(step.total() < DECODER_BOUND, "decoder step 4 moved " + step + ", bound " + DECODER_BOUND);
            assertTrue(step.deviceToHost() <= 16, "decoder step 4 read back " + step.deviceToHost() + " bytes: more than the loss and the norm");
            assertEquals(want.size(), t.losses().size());
            for (int i = 0; i < want.size(); i++) assertEquals(want.get(i), t.losses().get(i), 1e-4, "loss of step " + (i + 1));
        }
    }
}
