package dev.xgblora.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The staged-array lane sum must round exactly like the vector fold it stands in for. */
class LanesTest {
    @Test
    void arraySumHasTheVectorFoldsBits() {
        Random rnd = new Random(7);
        int l = FloatVector.SPECIES_PREFERRED.length();
        float[] v = new float[l], staged = new float[3 + l];
        for (int trial = 0; trial < 2000; trial++) {
            // magnitudes over many binades, so a different addition order rounds differently
            for (int i = 0; i < l; i++) v[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(9) - 4));
            System.arraycopy(v, 0, staged, 3, l);
            float expected = Lanes.sum(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, v, 0));
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(Lanes.sum(staged, 3)), "trial " + trial);
        }
    }
}
