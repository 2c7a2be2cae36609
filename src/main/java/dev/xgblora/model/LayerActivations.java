package dev.xgblora.model;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.tensor.Tensor;

/**
 * What one decoder layer's forward stores for its backward, for B sequences of T tokens
 * (M = B·T rows). Layers that run forward only share one instance as scratch. Attention keeps
 * only its output and one log-sum-exp per (batch, head, query), never [B, H, T, T] probabilities:
 * backward recomputes them tile by tile.
 */
final class LayerActivations {
    final Tensor n1, rstd1, q, k, v, lse, att, h, n2, rstd2, gate, up, act;

    LayerActivations(DecoderDims d, int b, int t) {
        long m = (long) b * t;
        n1 = Tensor.zeros(m, d.hidden());
        rstd1 = Tensor.zeros(m);
        q = Tensor.zeros(m, d.qDim());
        k = Tensor.zeros(m, d.kvDim());
        v = Tensor.zeros(m, d.kvDim());
        lse = Tensor.zeros(b, d.heads(), t);
        att = Tensor.zeros(m, d.qDim());
        h = Tensor.zeros(m, d.hidden());
        n2 = Tensor.zeros(m, d.hidden());
        rstd2 = Tensor.zeros(m);
        gate = Tensor.zeros(m, d.intermediate());
        up = Tensor.zeros(m, d.intermediate());
        act = Tensor.zeros(m, d.intermediate());
    }

    /** The attention mask the forward used (backward must apply the same). */
    AttentionMask mask;
}
