package dev.xgblora.train;

import dev.xgblora.model.Linear;
import dev.xgblora.model.LlamaDecoder;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.util.List;

/**
 * Sequence classification on a Llama-family decoder, as transformers' *ForSequenceClassification:
 * the final hidden state of each row's last non-padding token (right padding) goes through a
 * bias-free head {@code score} [classes, hidden] initialised N(0, 0.02).
 */
public final class DecoderClassifier extends BackboneTask {
    private final LlamaDecoder decoder;
    private final ClassifierHead head;
    private int[] last;

    public DecoderClassifier(LlamaDecoder decoder, int classes, long seed) {
        super(decoder);
        this.decoder = decoder;
        this.head = new ClassifierHead(k, "score", classes, decoder.config().hiddenSize(), false, seed);
    }

    static String family(String modelType) {
        return switch (modelType) {
            case "llama" -> "Llama";
            case "mistral" -> "Mistral";
            case "qwen2" -> "Qwen2";
            default -> DecoderLm.capitalized(modelType);
        };
    }

    public Linear head() {
        return head.linear();
    }

    public Tensor lastLogits() {
        return head.logits();
    }

    @Override
    public List<Param> headParams() {
        return List.of(head.linear().weight());
    }

    private Tensor forward(EncodedBatch t) {
        int[][] ids = EncoderClassifier.rows(t.ids(), t.batch(), t.seqLen());
        int[][] mask = EncoderClassifier.rows(t.mask(), t.batch(), t.seqLen());
        Tensor hidden = decoder.forwardHidden(ids, mask);
        int c = decoder.config().hiddenSize();
        Tensor pooled = head.pooled(t.batch());
        last = new int[t.batch()];
        for (int i = 0; i < t.batch(); i++) {
            int n = 0;
            for (int j = 0; j < t.seqLen(); j++) n += mask[i][j] != 0 ? 1 : 0;
            last[i] = i * t.seqLen() + Math.max(0, n - 1);
            for (int x = 0; x < c; x++) pooled.set(i, x, hidden.get(last[i], x));
        }
        head.forward();
        return hidden;
    }

    @Override
    public double trainStep(Batch batch, float gradScale) {
        Tensor hidden = forward(batch.tokens());
        ClassifierHead.LossAndGrad g = head.backward(batch.labels(), gradScale);
        if (decoder.lowestBackwardLayer() < decoder.numLayers() || decoder.finalNorm().trainable()) {
            Tensor dHidden = Tensor.zeros(hidden.shape());
            Tensor dPooled = g.dPooled();
            for (int i = 0; i < last.length; i++) {
                for (int x = 0; x < dPooled.dim(1); x++) dHidden.set(last[i], x, dPooled.get(i, x));
            }
            decoder.backwardFromHidden(dHidden);
        }
        return g.loss();
    }

    @Override
    public Prediction predict(Batch batch) {
        forward(batch.tokens());
        return head.predict(batch.labels());
    }

    @Override
    public String architecture() {
        return family(decoder.config().modelType()) + "ForSequenceClassification";
    }

    @Override
    public String peftTaskType() {
        return "SEQ_CLS";
    }

    @Override
    public List<String> headModules() {
        return List.of("score");
    }
}
