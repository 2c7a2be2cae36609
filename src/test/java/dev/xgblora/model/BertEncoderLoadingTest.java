package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Weight naming variants load to the same model; missing or misshapen weights are named in the error. */
class BertEncoderLoadingTest {
    private final BertConfig cfg = TinyBert.config(2, "gelu");
    private final Map<String, Tensor> canonical = TinyBert.weights(cfg, 3);

    private Tensor forward(Map<String, Tensor> w) {
        BertEncoder enc = new BertEncoder(cfg, w::get, new ReferenceKernels());
        return enc.forward(TinyBert.ids(), TinyBert.mask(), TinyBert.types()).copy();
    }

    @Test
    void prefixedAndGammaBetaNamesGiveTheSameModel() {
        Map<String, Tensor> renamed = new HashMap<>();
        canonical.forEach((k, v) -> renamed.put("bert." + k.replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta"), v));
        Tensor expected = forward(canonical);
        assertEquals(0.0, KernelTestSupport.maxAbsDiff(expected, forward(renamed)));
        BertEncoder enc = new BertEncoder(cfg, renamed::get, new ReferenceKernels());
        assertTrue(enc.params().stream().anyMatch(p -> p.name().equals("bert.encoder.layer.1.output.LayerNorm.weight")));
        assertEquals(cfg.numLayers() * 16 + 5, enc.params().size());
        assertEquals(cfg.numLayers() * BertEncoder.MODULES.size(), enc.linears().size());
        assertEquals("bert.encoder.layer.1.attention.output.dense", enc.linears().get(9).name());
        assertEquals(BertEncoder.ATTN_OUT, enc.linears().get(9).module());
    }

    @Test
    void paddingDoesNotChangeRealTokens() {
        // the second sequence alone (length 3) gives the same hidden states as inside the padded batch
        BertEncoder enc = new BertEncoder(cfg, canonical::get, new ReferenceKernels());
        Tensor batch = enc.forward(TinyBert.ids(), TinyBert.mask(), TinyBert.types()).copy();
        Tensor alone = enc.forward(new int[][] {{1, 13, 2}}, new int[][] {{1, 1, 1}}, new int[][] {{0, 1, 1}}).copy();
        assertEquals(0.0, KernelTestSupport.maxAbsDiff(batch.slice(5, 3), alone), 1e-6);
    }

    @Test
    void missingAndMisshapenWeightsAreNamed() {
        Map<String, Tensor> w = new HashMap<>(canonical);
        w.remove("encoder.layer.1.intermediate.dense.bias");
        var e = assertThrows(IllegalArgumentException.class, () -> forward(w));
        assertTrue(e.getMessage().contains("encoder.layer.1.intermediate.dense.bias"), e.getMessage());

        Map<String, Tensor> w2 = new HashMap<>(canonical);
        w2.put("encoder.layer.0.attention.self.key.weight", Tensor.zeros(16, 15));
        var e2 = assertThrows(IllegalArgumentException.class, () -> forward(w2));
        assertTrue(e2.getMessage().contains("encoder.layer.0.attention.self.key.weight"), e2.getMessage());

        BertEncoder enc = new BertEncoder(cfg, canonical::get, new ReferenceKernels());
        var e3 = assertThrows(IllegalArgumentException.class,
                () -> enc.forward(new int[][] {{1, 50}}, new int[][] {{1, 1}}, null));
        assertTrue(e3.getMessage().contains("token id 50"), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class,
                () -> enc.forward(new int[][] {{1, 2}, {3}}, new int[][] {{1, 1}, {1}}, null));
        assertTrue(e4.getMessage().contains("row 1"), e4.getMessage());
    }
}
