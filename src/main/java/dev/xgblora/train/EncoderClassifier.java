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
    private final ClassifierHead head;
    private int[][] mask;

    public EncoderClassifier(BertEncoder encoder, int classes, PoolingMode pooling, long seed) {
        super(encoder);
        this.encoder = encoder;
        this.pooling = pooling;
        this.head = new ClassifierHead(k, "classifier", classes, encoder.hiddenSize(), true, seed);
    }

    public BertEncoder encoder() {
        return encoder;
    }

    public Linear head() {
        return head.linear();
    }

    public int classes() {
        return head.classes();
    }

    @Override
    public List<Param> headParams() {
        return List.of(head.linear().weight(), head.linear().bias());
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

    private Tensor forward(EncodedBatch t) {
        int[][] ids = rows(t.ids(), t.batch(), t.seqLen());
        mask = rows(t.mask(), t.batch(), t.seqLen());
        int[][] types = t.typeIds() == null ? null : rows(t.typeIds(), t.batch(), t.seqLen());
        Tensor hidden = encoder.forward(ids, mask, types);
        Tensor pooled = head.pooled(t.batch());
        if (pooling == PoolingMode.MEAN) Pooling.meanForward(hidden, mask, pooled);
        else Pooling.clsForward(hidden, t.seqLen(), pooled);
        head.forward();
        return hidden;
    }

    @Override
    public double trainStep(Batch batch, float gradScale) {
        EncodedBatch t = batch.tokens();
        Tensor hidden = forward(t);
        ClassifierHead.LossAndGrad g = head.backward(batch.labels(), gradScale);
        if (encoder.firstLayerNeedingGrad() < encoder.numLayers() || encoder.embeddingsTrainable()) {
            Tensor dHidden = Tensor.zeros(hidden.shape());
            if (pooling == PoolingMode.MEAN) Pooling.meanBackward(g.dPooled(), mask, dHidden);
            else Pooling.clsBackward(g.dPooled(), t.seqLen(), dHidden);
            encoder.backward(dHidden);
        }
        return g.loss();
    }

    @Override
    public Prediction predict(Batch batch) {
        forward(batch.tokens());
        return head.predict(batch.labels());
    }

    /** The logits of the last forward [batch, classes] (tests). */
    public Tensor lastLogits() {
        return head.logits();
    }

    static int[][] rows(int[] flat, int b, int t) {
        int[][] out = new int[b][t];
        for (int i = 0; i < b; i++) System.arraycopy(flat, i * t, out[i], 0, t);
        return out;
    }
}
