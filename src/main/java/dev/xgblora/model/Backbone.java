package dev.xgblora.model;

import dev.xgblora.kernels.Kernels;
import java.util.List;

/** What task models and the scheduler need of a transformer stack, encoder or decoder alike. */
public interface Backbone {
    /** Kernels the stack runs on (task heads use the same ones). */
    Kernels kernels();

    /** Transformer layers (for layer selection). */
    int numLayers();

    /** Linear projections adapters can target, layer by layer in forward order. */
    List<Linear> linears();

    /** Every weight under its Hugging Face name. */
    List<Param> params();
}
