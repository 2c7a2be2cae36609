package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class OptimizerTest {
    @Test
    void adamwMatchesTheFormulaAndSkipsDecayWhereAsked() {
        Param w = new Param("w", Tensor.fromArray(new float[] {1f, -2f}, 2), true);
        Param b = new Param("b", Tensor.fromArray(new float[] {1f, -2f}, 2), false);
        w.setTrainable(true);
        b.setTrainable(true);
        AdamW opt = AdamW.standard(new ReferenceKernels(), 0.1f).addAll(List.of(w, b));
        double[] p = {1, -2}, m = new double[2], v = new double[2];
        double[] g = {0.5, 0.25};
        for (int t = 1; t <= 3; t++) {
            for (Param x : List.of(w, b)) {
                x.grad().set(0, (float) g[0]);
                x.grad().set(1, (float) g[1]);
            }
            opt.step(0.01f);
            opt.zeroGrad();
            for (int i = 0; i < 2; i++) {
                p[i] -= 0.01 * 0.1 * p[i];
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                p[i] -= 0.01 * (m[i] / (1 - Math.pow(0.9, t))) / (Math.sqrt(v[i] / (1 - Math.pow(0.999, t))) + 1e-8);
            }
        }
        assertEquals(p[0], w.value().get(0), 1e-6);
        assertEquals(p[1], w.value().get(1), 1e-6);
        assertTrue(Math.abs(b.value().get(0) - w.value().get(0)) > 1e-4, "no decay on b");
        assertEquals(3, opt.stepCount());
        opt.reset();
        assertEquals(0, opt.stepCount());
        assertTrue(opt.slots().isEmpty());
    }

    @Test
    void scheduleWarmsUpThenDecays() {
        LrSchedule s = LrSchedule.linear(1e-3, 10, 110);
        assertEquals(0, s.at(0));
        assertEquals(5e-4, s.at(5), 1e-12);
        assertEquals(1e-3, s.at(10), 1e-12);
        assertEquals(5e-4, s.at(60), 1e-12);
        assertEquals(0, s.at(110), 1e-12);
        LrSchedule c = new LrSchedule(1, 0, 100, LrSchedule.Decay.COSINE, 0, 0);
        assertEquals(0.5, c.at(50), 1e-9);
        LrSchedule j = new LrSchedule(1, 0, 100, LrSchedule.Decay.CONSTANT, 25, 5);
        assertEquals(1, j.at(24), 1e-12);
        assertEquals(0, j.at(25), 1e-12);
        assertEquals(0.4, j.at(27), 1e-12);
        assertEquals(1, j.at(30), 1e-12);
        assertEquals(1, j.at(3), 1e-12, "no re-warmup before the first restart");
    }

    @Test
    void clippingScalesToTheMaximumNorm() {
        ReferenceKernels k = new ReferenceKernels();
        Param a = new Param("a", Tensor.zeros(2), true), b = new Param("b", Tensor.zeros(1), true);
        a.setTrainable(true);
        b.setTrainable(true);
        a.grad().set(0, 3f);
        a.grad().set(1, 4f);
        b.grad().set(0, 12f);
        double n = GradientClipper.globalNorm(k, List.of(a, b));
        assertEquals(13, n, 1e-9);
        GradientClipper.clip(k, List.of(a, b), n, 1.0);
        assertEquals(1.0, GradientClipper.globalNorm(k, List.of(a, b)), 1e-5);
        b.grad().set(0, Float.NaN);
        assertTrue(Double.isNaN(GradientClipper.globalNorm(k, List.of(a, b))));
    }
}
