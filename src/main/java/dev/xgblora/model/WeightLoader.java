package dev.xgblora.model;

import dev.xgblora.tensor.Tensor;
import java.util.function.Function;

/** Looks up Hugging Face weight names, checks shapes, and wraps them as params and linears. */
final class WeightLoader {
    private final Function<String, Tensor> source;

    WeightLoader(Function<String, Tensor> source) {
        this.source = source;
    }

    Tensor require(String name) {
        Tensor t = source.apply(name);
        if (t == null) throw new IllegalArgumentException("model weights have no tensor '" + name + "'");
        return t.named(name);
    }

    /** A matrix as stored (F32, BF16 or F16; memory-mapped weights are not copied). */
    Tensor matrix(String name, long rows, long cols) {
        return require(name).requireShape(rows, cols);
    }

    /** A norm weight or bias, copied to F32 (tiny). */
    Param vector(String name, long n) {
        return new Param(name, require(name).requireShape(n).copy(), false);
    }

    Linear linear(String prefix, int layer, String module, int out, int in, boolean bias) {
        Param w = new Param(prefix + ".weight", matrix(prefix + ".weight", out, in), true);
        Param b = bias ? vector(prefix + ".bias", out) : null;
        return new Linear(prefix, layer, module, w, b);
    }
}
