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
 *
 * <p>With CLS pooling on a model that has BERT's pooler ({@code pooler.dense}, tanh), the CLS
 * state goes through it first and it trains with the head: that is exactly transformers'
 * {@code BertForSequenceClassification}, and only such a model is exported under that name. Every
 * other classifier is exported in the sentence-transformers layout (see {@link ModelExport}).
 */
public final class EncoderClassifier extends BackboneTask {
    public enum PoolingMode {
        MEAN, CLS;

        /** "mean" or "cls" (any case); null stays null. */
        public static PoolingMode parse(String s) {
            if (s == null) return null;
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "mean" -> MEAN;
                case "cls" -> CLS;
                default -> throw new IllegalArgumentException("pooling '" + s + "': expected mean or cls");
            };
        }
    }

    /** Name of the pooler's dense layer in BertForSequenceClassification. */
    public static final String POOLER = "bert.pooler.dense";

    private final BertEncoder encoder;
    private final PoolingMode pooling;
    private final ClassifierHead head;
    private final Linear pooler;
    private Tensor cls, poolerOut, dCls, dPre;
    /** Backs dHidden [B·T, C] for every padded length T (grown to the longest): one device buffer, never re-uploaded. */
    private float[] dHiddenStore = new float[0];

    public EncoderClassifier(BertEncoder encoder, int classes, PoolingMode pooling, long seed) {
        this(encoder, classes, pooling, null, seed);
    }

    /** @param pooler BERT's pooler ({@link #poolerOf}), CLS pooling only; null for none */
    public EncoderClassifier(BertEncoder encoder, int classes, PoolingMode pooling, Linear pooler, long seed) {
        super(encoder);
        if (pooler != null && pooling != PoolingMode.CLS) throw new IllegalArgumentException("BERT's pooler reads the CLS token: use CLS pooling");
        this.encoder = encoder;
        this.pooling = pooling;
        this.pooler = pooler;
        this.head = new ClassifierHead(k, "classifier", classes, encoder.hiddenSize(), true, seed);
    }

    /**
     * BERT's pooler from a weight source ({@code pooler.dense.*} or {@code bert.pooler.dense.*}) as
     * an F32 copy named {@value #POOLER}, or null when the model has none.
     */
    public static Linear poolerOf(java.util.function.Function<String, Tensor> weights, int hidden) {
        for (String prefix : List.of("bert.pooler.dense", "pooler.dense")) {
            Tensor w = weights.apply(prefix + ".weight"), b = weights.apply(prefix + ".bias");
            if (w == null) continue;
            if (b == null) throw new IllegalArgumentException("pooler has " + prefix + ".weight but no " + prefix + ".bias");
            w.named(prefix + ".weight").requireShape(hidden, hidden);
            b.named(prefix + ".bias").requireShape(hidden);
            Param pw = new Param(POOLER + ".weight", w.copy(), true), pb = new Param(POOLER + ".bias", b.copy(), false);
            return new Linear(POOLER, -1, "pooler", pw, pb);
        }
        return null;
    }

    public PoolingMode pooling() {
        return pooling;
    }

    /** The pooler (CLS → dense → tanh) when the classifier has one, else null. */
    public Linear pooler() {
        return pooler;
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
        if (pooler == null) return List.of(head.linear().weight(), head.linear().bias());
        return List.of(pooler.weight(), pooler.bias(), head.linear().weight(), head.linear().bias());
    }

    /**
     * BertForSequenceClassification keeps the encoder under "bert."; the sentence-transformers
     * layout holds a plain BertModel (no prefix). Heads keep their names.
     */
    @Override
    public String exportName(String name) {
        if (name.startsWith("classifier") || name.startsWith(POOLER)) return name;
        String bare = name.startsWith("bert.") ? name.substring(5) : name;
        return pooler != null ? "bert." + bare : bare;
    }

    /** BertForSequenceClassification with a pooler, else the BertModel inside the sentence-transformers layout. */
    @Override
    public String architecture() {
        return pooler != null ? "BertForSequenceClassification" : "BertModel";
    }

    /** SEQ_CLS over BertForSequenceClassification; FEATURE_EXTRACTION over the BertModel of the ST layout. */
    @Override
    public String peftTaskType() {
        return pooler != null ? "SEQ_CLS" : "FEATURE_EXTRACTION";
    }

    /** PEFT modules_to_save: the classifier and the pooler (both train); none in the ST layout (head saved beside). */
    @Override
    public List<String> headModules() {
        return pooler != null ? List.of("classifier", POOLER) : List.of();
    }

    /**
     * Encoder, pooling and head; pooling and the pooler's tanh are backend ops on the flat mask, so a
     * device backend keeps the last hidden state on the device (only the loss comes back).
     */
    private Tensor forward(EncodedBatch t) {
        int[][] ids = rows(t.ids(), t.batch(), t.seqLen());
        int[][] mask = rows(t.mask(), t.batch(), t.seqLen());
        int[][] types = t.typeIds() == null ? null : rows(t.typeIds(), t.batch(), t.seqLen());
        Tensor hidden = encoder.forward(ids, mask, types);
        Tensor pooled = head.pooled(t.batch());
        if (pooling == PoolingMode.MEAN) {
            k.meanPoolForward(hidden, t.mask(), pooled);
        } else if (pooler == null) {
            k.clsPoolForward(hidden, t.seqLen(), pooled);
        } else {
            cls = sized(cls, t.batch(), encoder.hiddenSize());
            k.clsPoolForward(hidden, t.seqLen(), cls);
            pooler.forward(k, cls, pooled);
            k.tanhForward(pooled, pooled);
            poolerOut = pooled;
        }
        head.forward();
        return hidden;
    }

    /** {@code t} when it has the shape (kept across steps: a device backend keeps it resident), else a new zero tensor. */
    private static Tensor sized(Tensor t, long... shape) {
        return t != null && java.util.Arrays.equals(t.shape(), shape) ? t : Tensor.zeros(shape);
    }

    /**
     * A zeroed gradient shaped like {@code hidden}, a view over the start of {@link #dHiddenStore}:
     * ragged batches reuse one array, so a device backend zeroes it in place instead of uploading
     * a new zero tensor whenever the padded length changes.
     */
    private Tensor zeroedGradientOf(Tensor hidden) {
        if (dHiddenStore.length < hidden.numel()) dHiddenStore = new float[Math.toIntExact(hidden.numel())];
        Tensor d = Tensor.of(java.lang.foreign.MemorySegment.ofArray(dHiddenStore), dev.xgblora.tensor.DType.F32, hidden.shape());
        d.zero();
        return d;
    }

    @Override
    public double trainStep(Batch batch, float gradScale) {
        EncodedBatch t = batch.tokens();
        Tensor hidden = forward(t);
        ClassifierHead.LossAndGrad g = head.backward(batch.labels(), gradScale);
        if (encoder.firstLayerNeedingGrad() < encoder.numLayers() || encoder.embeddingsTrainable()) {
            Tensor dHidden = zeroedGradientOf(hidden);
            if (pooling == PoolingMode.MEAN) k.meanPoolBackward(g.dPooled(), t.mask(), dHidden);
            else k.clsPoolBackward(poolerBackward(g.dPooled(), true), t.seqLen(), dHidden);
            encoder.backward(dHidden);
        } else if (pooler != null) {
            poolerBackward(g.dPooled(), false);
        }
        return g.loss();
    }

    @Override
    public Prediction predict(Batch batch) {
        forward(batch.tokens());
        return head.predict(batch.labels());
    }

    /** Through tanh and the pooler's dense (its gradients accumulate); returns d(CLS state) when asked, else null. */
    private Tensor poolerBackward(Tensor dPooled, boolean wantInput) {
        if (pooler == null) return dPooled;
        dPre = sized(dPre, dPooled.shape());
        dPre.zero();
        k.tanhBackward(dPooled, poolerOut, dPre);
        if (!wantInput) {
            pooler.backward(k, dPre, cls, null);
            return null;
        }
        dCls = sized(dCls, dPre.shape());
        dCls.zero();
        pooler.backward(k, dPre, cls, dCls);
        return dCls;
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
