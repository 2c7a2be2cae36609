package dev.xgblora.model;

import dev.xgblora.tensor.Tensor;

/** Gradient scratch for one layer's backward, shared by all layers (M = B·T rows). */
final class LayerGradients {
    final Tensor dn, dq, dk, dv, dqRot, dkRot, datt, dgate, dup, dact;

    LayerGradients(DecoderDims d, long m) {
        dn = Tensor.zeros(m, d.hidden());
        dq = Tensor.zeros(m, d.qDim());
        dk = Tensor.zeros(m, d.kvDim());
        dv = Tensor.zeros(m, d.kvDim());
        dqRot = Tensor.zeros(m, d.qDim());
        dkRot = Tensor.zeros(m, d.kvDim());
        datt = Tensor.zeros(m, d.qDim());
        dgate = Tensor.zeros(m, d.intermediate());
        dup = Tensor.zeros(m, d.intermediate());
        dact = Tensor.zeros(m, d.intermediate());
    }
}
