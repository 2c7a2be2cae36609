package dev.xgblora.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MathFunctionsTest {
    /** Tabulated values (Abramowitz and Stegun table 7.1 and its extensions). */
    private static final double[][] ERF = {
            {0.1, 0.1124629160182849}, {0.5, 0.5204998778130465}, {1.0, 0.8427007929497149},
            {2.0, 0.9953222650189527}, {2.5, 0.999593047982555}, {3.0, 0.9999779095030014},
            {4.0, 0.9999999845827421},
    };
    private static final double[][] ERFC = {
            {1.0, 0.15729920705028513}, {2.0, 0.004677734981047265}, {2.5, 4.069520174449589e-4},
            {3.0, 2.2090496998585438e-5}, {5.0, 1.5374597944280351e-12}, {10.0, 2.088487583762545e-45},
            {20.0, 5.3958656116079005e-176}, {-1.5, 1.9661051464753108},
    };

    @Test
    void erfMatchesTabulatedValuesToDoublePrecision() {
        for (double[] e : ERF) {
            assertEquals(e[1], MathFunctions.erf(e[0]), 2e-15 * e[1], "erf(" + e[0] + ")");
            assertEquals(-e[1], MathFunctions.erf(-e[0]), 2e-15 * e[1], "erf is odd");
        }
        assertEquals(0.0, MathFunctions.erf(0.0));
        assertEquals(1.0, MathFunctions.erf(30.0));
    }

    @Test
    void erfcKeepsRelativeAccuracyInTheTail() {
        for (double[] e : ERFC) {
            assertEquals(e[1], MathFunctions.erfc(e[0]), 1e-14 * e[1], "erfc(" + e[0] + ")");
        }
        assertEquals(2.0, MathFunctions.erfc(-30.0));
    }

    @Test
    void erfIsContinuousAcrossTheMethodSwitch() {
        for (double x : new double[] {1.5, 2.5}) {
            double below = MathFunctions.erfc(Math.nextDown(x)), above = MathFunctions.erfc(x);
            assertEquals(below, above, 1e-14 * above, "erfc jumps at " + x);
            assertEquals(MathFunctions.erf(Math.nextDown(x)), MathFunctions.erf(x), 1e-15, "erf jumps at " + x);
        }
    }

    @Test
    void normalCdfAndPdf() {
        assertEquals(0.5, MathFunctions.normalCdf(0), 0);
        assertEquals(0.8413447460685429, MathFunctions.normalCdf(1), 1e-16);
        assertEquals(1 - 0.8413447460685429, MathFunctions.normalCdf(-1), 1e-16);
        assertEquals(1 / Math.sqrt(2 * Math.PI), MathFunctions.normalPdf(0), 1e-17);
        // the pdf is the derivative of the cdf
        double h = 1e-5, x = 0.7;
        assertEquals(MathFunctions.normalPdf(x), (MathFunctions.normalCdf(x + h) - MathFunctions.normalCdf(x - h)) / (2 * h), 1e-9);
    }
}
