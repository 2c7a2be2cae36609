package dev.xgblora.train;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Backbone;
import dev.xgblora.model.Linear;
import dev.xgblora.model.Param;
import java.util.List;

/** A task model whose layers, adapter targets and backbone params are those of one {@link Backbone}. */
abstract class BackboneTask implements TaskModel {
    final Backbone backbone;
    final Kernels k;

    BackboneTask(Backbone backbone) {
        this.backbone = backbone;
        this.k = backbone.kernels();
    }

    @Override
    public final int numLayers() {
        return backbone.numLayers();
    }

    @Override
    public final List<Linear> linears() {
        return backbone.linears();
    }

    @Override
    public final List<Param> backboneParams() {
        return backbone.params();
    }
}
