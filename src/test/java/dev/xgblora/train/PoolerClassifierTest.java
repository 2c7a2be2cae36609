package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** CLS + BERT pooler (dense, tanh) + classifier: gradients of the pooler, the head and the encoder against finite differences. */
class PoolerClassifierTest {
    @Test
    void gradientsThroughThePoolerMatchFiniteDifferences() {
        Map<String, Tensor> w = TinyModels.bertWeights(4, DType.F32);
        Random r = new Random(9);
        w.put("pooler.dense.weight", KernelTestSupport.randn(r, 0.4f, 16, 16));
        w.put("pooler.dense.bias", KernelTestSupport.randn(r, 0.1f, 16));
        Linear pooler = EncoderClassifier.poolerOf(w::get, 16);
        assertNotNull(pooler);
        assertEquals(EncoderClassifier.POOLER + ".weight", pooler.weight().name());
        EncoderClassifier m = new EncoderClassifier(TinyModels.bert(w, new ReferenceKernels()), 2, EncoderClassifier.PoolingMode.CLS, pooler, 5);
        assertEquals("BertForSequenceClassification", m.architecture());
        assertEquals("bert.encoder.layer.0.output.dense", m.exportName("encoder.layer.0.output.dense"));
        assertEquals(List.of("classifier", EncoderClassifier.POOLER), m.headModules());
        for (Param p : m.headParams()) p.setTrainable(true);
        Param query = null;
        for (Param p : m.backboneParams()) if (p.name().equals("encoder.layer.2.attention.self.query.weight")) query = p;
        query.setTrainable(true);
        Batch b = TinyModels.data(TinyModels.sentiment(6, 2)).batch(new int[] {0, 1, 2, 3, 4, 5});
        m.trainStep(b, 1f);
        for (Param p : List.of(pooler.weight(), pooler.bias(), m.head().weight(), query)) {
            Tensor v = p.value();
            for (long i : new long[] {0, 7, v.numel() - 1}) {
                float orig = v.get(i);
                double h = 1e-2;
                v.set(i, (float) (orig + h));
                double plus = meanLoss(m, b);
                v.set(i, (float) (orig - h));
                double minus = meanLoss(m, b);
                v.set(i, orig);
                double numeric = (plus - minus) / (2 * h), analytic = p.grad().get(i);
                assertEquals(numeric, analytic, 2e-3 + 2e-2 * Math.abs(numeric), p.name() + "[" + i + "]");
            }
        }
    }

    private static double meanLoss(EncoderClassifier m, Batch b) {
        TaskModel.Prediction p = m.predict(b);
        return p.lossSum() / p.count();
    }

    @Test
    void poolerNeedsClsPoolingAndAModelWithoutOneHasNone() {
        Map<String, Tensor> w = TinyModels.bertWeights(4, DType.F32);
        assertNull(EncoderClassifier.poolerOf(w::get, 16));
        w.put("bert.pooler.dense.weight", Tensor.zeros(16, 16));
        w.put("bert.pooler.dense.bias", Tensor.zeros(16));
        Linear p = EncoderClassifier.poolerOf(w::get, 16);
        assertThrows(IllegalArgumentException.class,
                () -> new EncoderClassifier(TinyModels.bert(w, new ReferenceKernels()), 2, EncoderClassifier.PoolingMode.MEAN, p, 1));
        EncoderClassifier st = TinyModels.classifier(3);
        assertEquals("BertModel", st.architecture(), "mean pooling is exported in the sentence-transformers layout");
        assertEquals("encoder.layer.0.output.dense", st.exportName("encoder.layer.0.output.dense"));
    }
}
