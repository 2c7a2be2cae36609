package dev.xgblora.train;

import dev.xgblora.model.BertEncoder;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import dev.xgblora.model.Pooling;
import dev.xgblora.tensor.Tensor;
import java.util.List;

/**
 * Sequence classification on a BERT-family encoder: mean (over the mask) or CLS pooling, then a
 * linear head {@code classifier} [classes, hidden] initialised N(0, 0.02) with zero bias
 * (transformers' names), cross-entropy loss.
 */
public final class EncoderClassifier extends BackboneTask {
    public enum PoolingMode { MEAN, CLS }

    private final BertEncoder encoder;
    private final PoolingMode pooling;
    private final Linear head;
    private final int classes;

    public EncoderClassifier(BertEncoder encoder, int classes, PoolingMode pooling, long seed) {
        super(encoder);
        this.encoder = encoder;
        this.pooling = pooling;
        this.classes = classes;
        this.head = ClassifierHead.create("classifier", classes, encoder.hiddenSize(), true, seed);
    }

    public BertEncoder encoder() {
        return encoder;
    }

    public Linear head() {
        return head;
    }

    public int classes() {
        return classes;
    }

    @Override
    public List<Param> headParams() {
        return List.of(head.weight(), head.bias());
    }

    /** BertForSequenceClassification keeps the encoder under "bert."; heads are "classifier.*". */
    @Override
    public String exportName(String name) {
        return name.startsWith("bert.") || name.startsWith("classifier") ? name : "bert." + name;
    }

    @Override
    public String architecture() {
        return "BertForSequenceClassification";
    }

    @Override
    public String peftTaskType() {
        return "SEQ_CLS";
    }

    @Override
    public List<String> headModules() {
        return List.of("classifier");
    }

    private int[][] mask;
    private Tensor pooled, logits;

    private Tensor forward(EncodedBatch t) {
        int[][] ids = rows(t.ids(), t.batch(), t.seqLen());
        mask = rows(t.mask(), t.batch(), t.seqLen());
        int[][] types = t.typeIds() == null ? null : rows(t.typeIds(), t.batch(), t.seqLen());
        Tensor hidden = encoder.forward(ids, mask, types);
        if (pooled == null || pooled.dim(0) != t.batch()) {
            pooled = Tensor.zeros(t.batch(), encoder.hiddenSize());
            logits = Tensor.zeros(t.batch(), classes);
        }
        if (pooling == PoolingMode.MEAN) Pooling.meanForward(hidden, mask, pooled);
        else Pooling.clsForward(hidden, t.seqLen(), pooled);
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
        Tensor dPooled = Tensor.zeros(t.batch(), encoder.hiddenSize());
        head.backward(k, dLogits, pooled, dPooled);
        if (encoder.firstLayerNeedingGrad() < encoder.numLayers() || encoder.embeddingsTrainable()) {
            Tensor dHidden = Tensor.zeros(hidden.shape());
            if (pooling == PoolingMode.MEAN) Pooling.meanBackward(dPooled, mask, dHidden);
            else Pooling.clsBackward(dPooled, t.seqLen(), dHidden);
            encoder.backward(dHidden);
        }
        return loss;
    }

    @Override
    public Prediction predict(Batch batch) {
        EncodedBatch t = batch.tokens();
        forward(t);
        double loss = k.crossEntropyForward(logits, batch.labels(), Batch.IGNORE, null);
        return new Prediction(loss * t.batch(), t.batch(), ClassifierHead.argmax(logits, t.batch()));
    }

    /** The logits of the last forward [batch, classes] (tests). */
    public Tensor lastLogits() {
        return logits;
    }

    static int[][] rows(int[] flat, int b, int t) {
        int[][] out = new int[b][t];
        for (int i = 0; i < b; i++) System.arraycopy(flat, i * t, out[i], 0, t);
        return out;
    }
}
