package dev.xgblora.train;

import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import java.util.List;

/**
 * A backbone plus its task head and loss, as the training loop sees it. The loop attaches
 * adapters to {@link #linears()}, makes params trainable, and calls {@link #trainStep}; it does
 * not care whether an encoder or a decoder sits underneath.
 */
public interface TaskModel {
    /** Transformer layers of the backbone (for layer selection). */
    int numLayers();

    /** Backbone linear projections, the adapter targets. */
    List<Linear> linears();

    /** Every backbone param under its checkpoint name (trainable in full fine-tuning). */
    List<Param> backboneParams();

    /** Task head params (trained by every method; empty when the task reuses the backbone's head). */
    List<Param> headParams();

    /**
     * Forward, loss and backward on one batch; gradients of trainable params accumulate with the
     * loss gradient multiplied by {@code gradScale} (1/accumulation steps). Returns the mean loss.
     */
    double trainStep(Batch batch, float gradScale);

    /** Forward only: summed loss, counted targets, and predicted classes (classify) or null. */
    Prediction predict(Batch batch);

    /** Result of {@link #predict}. */
    record Prediction(double lossSum, int count, int[] predicted) {
    }
}
