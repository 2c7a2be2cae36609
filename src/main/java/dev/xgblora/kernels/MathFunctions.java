package dev.xgblora.kernels;

/**
 * Special functions Java lacks, in double precision (relative error near 1e-15): erf, erfc and the
 * standard normal CDF that the exact GELU needs.
 *
 * <p>Method: for |x| &lt; 2.5 the everywhere-positive series
 * erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), which has no cancellation;
 * beyond that (erfc: from 1.5) the continued fraction of erfc evaluated with the modified Lentz
 * method, so erfc keeps its relative accuracy deep in the tail (where 1 − erf would lose it).
 */
public final class MathFunctions {
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    private static final double ONE_OVER_SQRT_PI = 1.0 / Math.sqrt(Math.PI);
    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double SERIES_LIMIT = 2.5;
    /** erfc switches to the continued fraction earlier, where 1 − erf would start to lose digits. */
    private static final double ERFC_FRACTION_FROM = 1.5;

    private MathFunctions() {
    }

    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double a = Math.abs(x);
        double r = a < SERIES_LIMIT ? erfSeries(a) : 1.0 - erfcContinuedFraction(a);
        return x < 0 ? -r : r;
    }

    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        if (x < 0) return 1.0 + erf(-x);
        return x < ERFC_FRACTION_FROM ? 1.0 - erfSeries(x) : erfcContinuedFraction(x);
    }

    /** Φ(x), the standard normal cumulative distribution function, = ½·erfc(−x/√2). */
    public static double normalCdf(double x) {
        return 0.5 * erfc(-x * SQRT_HALF);
    }

    /** φ(x) = e^(−x²/2)/√(2π), the standard normal density. */
    public static double normalPdf(double x) {
        return Math.exp(-0.5 * x * x) * (ONE_OVER_SQRT_PI * SQRT_HALF);
    }

    /** Series for 0 &lt;= x &lt; 2.5: every term positive; about 60 terms at the upper end. */
    private static double erfSeries(double x) {
        double x2 = x * x;
        double term = x;
        double sum = x;
        for (int n = 1; n < 200; n++) {
            term *= 2.0 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
    }

    /**
     * erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))) for x &gt;= 1.5,
     * evaluated front to back with the modified Lentz algorithm.
     */
    private static double erfcContinuedFraction(double x) {
        if (x > 27.3) return 0.0; // e^(−x²) underflows
        final double tiny = 1e-300;
        double f = x;
        double c = x;
        double d = 0.0;
        for (int n = 1; n < 10_000; n++) {
            double an = n * 0.5;
            d = x + an * d;
            if (d == 0) d = tiny;
            c = x + an / c;
            if (c == 0) c = tiny;
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1.0) < 1e-16) break;
        }
        return Math.exp(-x * x) * ONE_OVER_SQRT_PI / f;
    }
}
