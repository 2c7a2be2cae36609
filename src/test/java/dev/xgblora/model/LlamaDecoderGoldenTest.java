package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import dev.xgblora.kernels.VectorKernels;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LlamaDecoder against PyTorch: logits, mean loss, the gradient of every weight and of the input
 * embeddings. Relative difference of a tensor = max|java − torch| / max|torch|; must be ≤ 1e-4.
 */
class LlamaDecoderGoldenTest {
    static final double TOLERANCE = 1e-4;
    final Kernels kernels = new ReferenceKernels();
    static VectorKernels vector;

    @BeforeAll
    static void startVector() {
        vector = new VectorKernels(2, new ReferenceKernels());
    }

    @AfterAll
    static void stopVector() {
        vector.close();
    }

    static Stream<Arguments> modelsAndBackends() {
        return Stream.of("reference", "vector").flatMap(b -> Stream.of(LlamaFixtures.MODELS).map(m -> Arguments.of(m, b)));
    }

    @ParameterizedTest
    @MethodSource("modelsAndBackends")
    void forwardAndBackwardMatchPyTorch(String name, String backend) {
        Kernels kernels = backend.equals("vector") ? vector : this.kernels;
        try (WeightStore exp = LlamaFixtures.expected(name);
             LlamaDecoder model = LlamaDecoder.open(LlamaFixtures.modelDir(name), kernels)) {
            int[][] ids = LlamaFixtures.ints(exp.tensor("input_ids"));
            int[][] mask = LlamaFixtures.ints(exp.tensor("attention_mask"));
            int[][] labels = LlamaFixtures.ints(exp.tensor("labels"));

            // Frozen weights as stored (bf16 for mistral-bf16: widened inside the kernels).
            DType stored = model.layers().get(0).linears().get(0).weight().value().dtype();
            double frozenLogits = rel(model.inferLogits(ids, mask), exp.tensor("logits"));

            for (Param p : model.params()) p.setTrainable(true);
            model.setInputGradWanted(true);
            double loss = model.loss(ids, mask, labels);
            double logits = rel(model.logits(ids, mask), exp.tensor("logits"));
            model.loss(ids, mask, labels);
            model.backward();
            double lossRel = Math.abs(loss - exp.tensor("loss").get(0)) / Math.abs(exp.tensor("loss").get(0));
            double worstGrad = rel(model.inputEmbeddingGrad(), exp.tensor("grad.inputs_embeds"));
            String worstName = "inputs_embeds";
            for (Param p : model.params()) {
                double r = rel(p.grad(), exp.tensor("grad." + p.name()));
                if (r > worstGrad) {
                    worstGrad = r;
                    worstName = p.name();
                }
            }
            assertEquals(exp.names().stream().filter(n -> n.startsWith("grad.")).count(), model.params().size() + 1,
                    "every weight gradient in the fixture is compared");
            System.out.printf("golden %-9s %-13s logits(frozen %s weights) %.2e  logits(f32) %.2e  loss %.2e  grads max %.2e (%s)%n",
                    backend, name, stored, frozenLogits,
                    logits, lossRel, worstGrad, worstName);
            assertTrue(frozenLogits <= TOLERANCE, "frozen logits rel diff " + frozenLogits);
            assertTrue(logits <= TOLERANCE, "logits rel diff " + logits);
            assertTrue(lossRel <= TOLERANCE, "loss rel diff " + lossRel);
            assertTrue(worstGrad <= TOLERANCE, "gradient of " + worstName + " rel diff " + worstGrad);
        }
    }

    /** Only layer 1 trainable: its gradients match, layer 0 gets none and keeps nothing. */
    @ParameterizedTest
    @ValueSource(strings = {"llama3-gqa", "qwen2-tied"})
    void frozenLowerLayersGetNoGradient(String name) {
        try (WeightStore exp = LlamaFixtures.expected(name);
             LlamaDecoder model = LlamaDecoder.open(LlamaFixtures.modelDir(name), kernels)) {
            int[][] ids = LlamaFixtures.ints(exp.tensor("input_ids"));
            int[][] mask = LlamaFixtures.ints(exp.tensor("attention_mask"));
            int[][] labels = LlamaFixtures.ints(exp.tensor("labels"));
            for (Param p : model.layers().get(1).params()) p.setTrainable(true);
            assertEquals(1, model.lowestBackwardLayer());
            model.loss(ids, mask, labels);
            assertFalse(model.keepsActivations(0), "layer 0 runs forward only");
            assertTrue(model.keepsActivations(1));
            model.backward();
            for (Param p : model.layers().get(1).params()) {
                double r = rel(p.grad(), exp.tensor("grad." + p.name()));
                assertTrue(r <= TOLERANCE, p.name() + " rel diff " + r);
            }
            for (Param p : model.layers().get(0).params()) assertNull(p.grad(), p.name());
            assertNull(model.embeddings().grad());
        }
    }

    /**
     * mistral-window (sliding_window 3 over 9 tokens) matches PyTorch above; the same weights with
     * the window removed from config.json must not, or the fixture would not test the window.
     */
    @Test
    void slidingWindowChangesTheFixtureResult() {
        String name = "mistral-window";
        ModelConfig config = ModelConfig.load(LlamaFixtures.modelDir(name));
        assertEquals(3, config.attentionWindow(0));
        ModelConfig full = config.with(j -> j.putNull("sliding_window"));
        assertEquals(0, full.attentionWindow(0));
        try (WeightStore exp = LlamaFixtures.expected(name);
             WeightStore weights = WeightStore.open(LlamaFixtures.modelDir(name))) {
            LlamaDecoder model = new LlamaDecoder(full, n -> weights.has(n) ? weights.tensor(n) : null, kernels);
            double r = rel(model.inferLogits(LlamaFixtures.ints(exp.tensor("input_ids")),
                    LlamaFixtures.ints(exp.tensor("attention_mask"))), exp.tensor("logits"));
            assertTrue(r > 1e-2, "logits without the window differ from PyTorch's windowed ones by only " + r);
        }
    }

    static double rel(Tensor actual, Tensor expected) {
        return KernelTestSupport.maxRelDiff(actual, expected);
    }
}
