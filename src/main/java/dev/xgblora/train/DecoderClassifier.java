package dev.xgblora.train;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LlamaDecoder;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.util.List;
import java.util.Random;

/**
 * Sequence classification on a Llama-family decoder, as transformers' *ForSequenceClassification:
 * the final hidden state of each row's last non-padding token (right padding) goes through a
 * bias-free head {@code score} [classes, hidden] initialised N(0, 0.02).
 */
public final class DecoderClassifier implements TaskModel {
    private final LlamaDecoder decoder;
    private final Kernels k;
    private final Linear head;
    private final int classes;
    private Tensor pooled, logits;
    private int[] last;

    public DecoderClassifier(LlamaDecoder decoder, int classes, long seed) {
        if (classes < 2) throw new IllegalArgumentException("classification needs at least 2 classes, got " + classes);
        this.decoder = decoder;
        this.k = decoder.kernels();
        this.classes = classes;
        int c = decoder.config().hiddenSize();
        Random rng = new Random(seed);
        float[] w = new float[classes * c];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextGaussian() * 0.02);
        Param weight = new Param("score.weight", Tensor.fromArray(w, classes, c), true);
        weight.setTrainable(true);
        this.head = new Linear("score", -1, "score", weight, null);
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
    public int numLayers() {
        return decoder.numLayers();
    }

    @Override
    public List<Linear> linears() {
        return decoder.linears();
    }

    @Override
    public List<Param> backboneParams() {
        return decoder.params();
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
        int[] pred = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int c = 1; c < classes; c++) if (logits.get(i, c) > logits.get(i, best)) best = c;
            pred[i] = best;
        }
        return new Prediction(loss * n, n, pred);
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
