package dev.xgblora.train;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Param;
import java.util.List;

/** Global gradient norm over a set of params and clipping to a maximum norm (PyTorch's clip_grad_norm_). */
public final class GradientClipper {
    private GradientClipper() {
    }

    /** sqrt(Σ‖g‖²) over all params; NaN or infinity when any gradient is not finite. */
    public static double globalNorm(Kernels k, List<Param> params) {
        // one reduction over every gradient: a device backend reads back a single scalar
        return Math.sqrt(k.sumOfSquares(params.stream().map(Param::grad).toList()));
    }

    /** Scales all gradients by maxNorm/(norm+1e-6) when norm exceeds maxNorm (maxNorm ≤ 0: off). */
    public static void clip(Kernels k, List<Param> params, double norm, double maxNorm) {
        if (maxNorm <= 0 || !(norm > maxNorm)) return;
        float c = (float) (maxNorm / (norm + 1e-6));
        for (Param p : params) k.scale(p.grad(), c);
    }
}
