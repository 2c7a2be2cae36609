package dev.xgblora.kernels;

/**
 * The activation functions and their derivatives on one double: the definitions the reference
 * kernels apply element-wise, and that fast kernels may use for their scalar tails.
 */
final class ScalarActivations {
    private ScalarActivations() {
    }

    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_TANH_C = 0.044715;

    static double gelu(double x, boolean tanhApprox) {
        if (!tanhApprox) return x * MathFunctions.normalCdf(x);
        double u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
        return 0.5 * x * (1 + Math.tanh(u));
    }

    static double geluDerivative(double x, boolean tanhApprox) {
        if (!tanhApprox) return MathFunctions.normalCdf(x) + x * MathFunctions.normalPdf(x);
        double u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
        double t = Math.tanh(u);
        double du = SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x * x);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
    }

    static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    static double silu(double x) {
        return x * sigmoid(x);
    }

    static double siluDerivative(double x) {
        double s = sigmoid(x);
        return s * (1 + x * (1 - s));
    }
}
