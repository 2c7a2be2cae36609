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
    private final Linear head;
    private final int classes;
    private Tensor pooled, logits;
    private int[] last;

    public DecoderClassifier(LlamaDecoder decoder, int classes, long seed) {
        super(decoder);
        this.decoder = decoder;
        this.classes = classes;
        this.head = ClassifierHead.create("score", classes, decoder.config().hiddenSize(), false, seed);
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
        return head;
    }

    public Tensor lastLogits() {
        return logits;
    }

    @Override
    public List<Param> headParams() {
        return List.of(head.weight());
    }

    private Tensor forward(EncodedBatch t) {
        int[][] ids = EncoderClassifier.rows(t.ids(), t.batch(), t.seqLen());
        int[][] mask = EncoderClassifier.rows(t.mask(), t.batch(), t.seqLen());
        Tensor hidden = decoder.forwardHidden(ids, mask);
        int c = decoder.config().hiddenSize();
        if (pooled == null || pooled.dim(0) != t.batch()) {
            pooled = Tensor.zeros(t.batch(), c);
            logits = Tensor.zeros(t.batch(), classes);
        }
        last = new int[t.batch()];
        for (int i = 0; i < t.batch(); i++) {
            int n = 0;
            for (int j = 0; j < t.seqLen(); j++) n += mask[i][j] != 0 ? 1 : 0;
            last[i] = i * t.seqLen() + Math.max(0, n - 1);
            for (int x = 0; x < c; x++) pooled.set(i, x, hidden.get(last[i], x));
        }
        head.forward(k, pooled, logits);
        return hidden;
    }

    @Override
    public double trainStep(Batch batch, float gradScale) {
        EncodedBatch t = batch.tokens();
        Tensor hidden = forward(t);
        double loss = k.crossEntropyForward(logits, batch.labels(), Batch.IGNORE, null);
        Tensor dLogits = Tensor.zeros(t.batch(), classes);
        k.crossEntropyBackward(logits, batch.labels(), Batch.IGNORE, gradScale / t.batch(), dLogits);
        Tensor dPooled = Tensor.zeros(t.batch(), decoder.config().hiddenSize());
        head.backward(k, dLogits, pooled, dPooled);
        if (decoder.lowestBackwardLayer() < decoder.numLayers() || decoder.finalNorm().trainable()) {
            Tensor dHidden = Tensor.zeros(hidden.shape());
            for (int i = 0; i < t.batch(); i++) {
                for (int x = 0; x < dPooled.dim(1); x++) dHidden.set(last[i], x, dPooled.get(i, x));
            }
            decoder.backwardFromHidden(dHidden);
        }
        return loss;
    }

    @Override
    public Prediction predict(Batch batch) {
        forward(batch.tokens());
        double loss = k.crossEntropyForward(logits, batch.labels(), Batch.IGNORE, null);
        int n = batch.size();
        return new Prediction(loss * n, n, ClassifierHead.argmax(logits, n));
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
