package dev.xgblora.cli;

import dev.xgblora.model.BertEncoder;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LoraAdapter;

import java.util.Set;

/**
 * Model FLOPs of one BERT training step: the matrix products the method needs (2 FLOPs per
 * multiply-add), not what an implementation happens to run. Elementwise work (norms, GELU,
 * softmax, AdamW) is left out: it is a few percent at these shapes and is memory-bound.
 *
 * <p>Per token, a linear in→out costs 2·in·out forward; below {@link BertEncoder#firstLayerNeedingGrad()}
 * nothing runs backward. From there up each linear propagates dX (2·in·out), except the
 * q/k/v of the lowest recorded layer when the embeddings are frozen (nobody needs the gradient of
 * their input), and a trainable weight adds dW (2·in·out). A rank-r adapter costs 2·r·(in+out)
 * forward, as much again for its share of dX, and as much for dA and dB. Attention costs
 * 4·seq·hidden per token forward (Q·Kᵀ and P·V) and twice that backward.
 */
record StepFlops(double forward, double backward) {
    private static final Set<String> QKV = Set.of("query", "key", "value");

    double total() {
        return forward + backward;
    }

    static StepFlops of(BertEncoder encoder, int batch, int seq) {
        double n = (double) batch * seq;
        int gs = encoder.firstLayerNeedingGrad(), hidden = encoder.config().hiddenSize();
        boolean embeddingsTrain = encoder.embeddingParams().stream().anyMatch(p -> p.trainable());
        double fwd = 0, bwd = 0;
        for (Linear lin : encoder.linears()) {
            double base = 2.0 * n * lin.in() * lin.out();
            LoraAdapter a = lin.adapter();
            double adapter = a == null ? 0 : 2.0 * n * a.rank() * (lin.in() + lin.out());
            fwd += base + adapter;
            if (lin.layer() < gs) continue;
            boolean needsDx = embeddingsTrain || lin.layer() > gs || !QKV.contains(lin.module());
            if (needsDx) bwd += base + adapter;
            if (lin.weight().trainable()) bwd += base;
            if (a != null) bwd += adapter;
        }
        for (int l = 0; l < encoder.numLayers(); l++) {
            double attention = 4.0 * n * seq * hidden;
            fwd += attention;
            if (l >= gs) bwd += 2 * attention;
        }
        return new StepFlops(fwd, bwd);
    }
}
