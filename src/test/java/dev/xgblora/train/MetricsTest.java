package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class MetricsTest {
    @Test
    void binaryMetricsMatchTheTextbookFormulas() {
        int[] truth = {1, 1, 1, 1, 0, 0, 0, 0, 0, 1};
        int[] pred = {1, 1, 1, 0, 0, 0, 1, 0, 0, 0};
        // tp 3, fn 2, fp 1, tn 4
        Metrics.Classification c = Metrics.classification(pred, truth, 2);
        assertEquals(0.7, c.accuracy(), 1e-12);
        assertEquals(2 * 3.0 / (2 * 3 + 1 + 2), c.f1(), 1e-12);
        double mcc = (3 * 4 - 1 * 2) / Math.sqrt((3 + 1) * (3 + 2) * (4 + 1) * (4 + 2));
        assertEquals(mcc, c.mcc(), 1e-12);
    }

    @Test
    void multiClassAndDegenerateCases() {
        int[] t = {0, 1, 2, 2, 1, 0};
        Metrics.Classification perfect = Metrics.classification(t, t, 3);
        assertEquals(1, perfect.accuracy());
        assertEquals(1, perfect.f1(), 1e-12);
        assertEquals(1, perfect.mcc(), 1e-12);
        Metrics.Classification constant = Metrics.classification(new int[] {0, 0, 0, 0, 0, 0}, t, 3);
        assertEquals(0, constant.mcc(), "no variance in predictions: MCC 0");
        assertEquals(1.0 / 3, constant.accuracy(), 1e-12);
        assertEquals(Math.E, Metrics.perplexity(1), 1e-12);
    }
}
