package dev.xgblora.train;

import dev.xgblora.model.LlamaDecoder;
import dev.xgblora.model.Param;
import java.util.List;
import java.util.Locale;

/**
 * Causal language modelling (tasks sft and lm) on a Llama-family decoder with its own lm_head.
 * Batches carry next-token targets per position (IGNORE where no loss counts: prompt and padding
 * for sft); the decoder shifts labels itself, so they are handed over unshifted
 * (label[t+1] = target[t]); the target of a row's last position has no slot and is dropped.
 */
public final class DecoderLm extends BackboneTask {
    private final LlamaDecoder decoder;

    public DecoderLm(LlamaDecoder decoder) {
        super(decoder);
        this.decoder = decoder;
    }

    public LlamaDecoder decoder() {
        return decoder;
    }

    @Override
    public List<Param> headParams() {
        return List.of();
    }

    /** Unshifted labels: label[t+1] = target[t], label[0] = IGNORE. */
    static int[][] labels(Batch b) {
        int n = b.size(), t = b.tokens().seqLen();
        int[][] out = new int[n][t];
        for (int i = 0; i < n; i++) {
            out[i][0] = Batch.IGNORE;
            for (int j = 0; j + 1 < t; j++) out[i][j + 1] = b.labels()[i * t + j];
        }
        return out;
    }

    /** Packed rows' document ids per row, or null when each row is one document. */
    static int[][] segments(Batch b) {
        return b.segments() == null ? null : EncoderClassifier.rows(b.segments(), b.size(), b.tokens().seqLen());
    }

    /** Labels the decoder's loss counts: real tokens, not the first of a packed document (it has no prefix in its document). */
    static int counted(int[][] labels, int[][] mask, int[][] segments) {
        int c = 0;
        for (int i = 0; i < labels.length; i++) {
            for (int j = 1; j < labels[i].length; j++) {
                boolean sameDocument = segments == null || segments[i][j] == segments[i][j - 1];
                if (labels[i][j] != Batch.IGNORE && mask[i][j] != 0 && sameDocument) c++;
            }
        }
        return c;
    }

    @Override
    public double trainStep(Batch batch, float gradScale) {
        EncodedBatch t = batch.tokens();
        int[][] ids = EncoderClassifier.rows(t.ids(), t.batch(), t.seqLen());
        int[][] mask = EncoderClassifier.rows(t.mask(), t.batch(), t.seqLen());
        double loss = decoder.loss(ids, mask, segments(batch), labels(batch));
        decoder.backward(gradScale);
        return loss;
    }

    @Override
    public Prediction predict(Batch batch) {
        EncodedBatch t = batch.tokens();
        int[][] ids = EncoderClassifier.rows(t.ids(), t.batch(), t.seqLen());
        int[][] mask = EncoderClassifier.rows(t.mask(), t.batch(), t.seqLen());
        int[][] labels = labels(batch);
        int[][] segments = segments(batch);
        double loss = decoder.loss(ids, mask, segments, labels);
        int n = counted(labels, mask, segments);
        return new Prediction(loss * n, n, null);
    }

    @Override
    public String architecture() {
        return DecoderClassifier.family(decoder.config().modelType()) + "ForCausalLM";
    }

    @Override
    public String peftTaskType() {
        return "CAUSAL_LM";
    }

    @Override
    public List<String> headModules() {
        return List.of();
    }

    static String capitalized(String s) {
        return s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1);
    }
}
