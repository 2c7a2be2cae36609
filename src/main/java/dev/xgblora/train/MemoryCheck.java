package dev.xgblora.train;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostPlan;
import dev.xgblora.model.DecoderDims;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LlamaDecoder;
import dev.xgblora.model.MemoryEstimate;
import dev.xgblora.model.Param;

/**
 * The memory estimate of a decoder run, checked before the trainer allocates anything (trainable
 * copies, optimizer state, activations): a run that cannot fit stops with what it needs and what
 * to change instead of an OutOfMemoryError deep in a step.
 */
final class MemoryCheck {
    private MemoryCheck() {
    }

    static MemoryEstimate estimate(LlamaDecoder dec, TaskModel model, BoostConfig boost, TrainConfig cfg) {
        DecoderDims d = dec.dims();
        long weightBytes = 0;
        for (Param p : model.backboneParams()) weightBytes += p.numel() * p.value().dtype().bytes();
        BoostPlan plan = boost.plan(Math.max(1, cfg.steps), dec.numLayers());
        long trainable = Trainer.count(model.headParams());
        if (plan.trainsBackbone()) {
            trainable += Trainer.count(model.backboneParams());
        } else if (plan.usesAdapters()) {
            long perAllLayers = 0;
            for (Linear l : model.linears()) perAllLayers += (long) plan.rank() * (l.in() + l.out());
            trainable += perAllLayers * plan.layersPerRound() / Math.max(1, dec.numLayers());
        }
        return MemoryEstimate.decoderTraining(d, dec.numLayers(), weightBytes, cfg.batchSize, cfg.maxLength, cfg.recompute, trainable);
    }

    /** Decoders only (encoders here are small); throws IllegalArgumentException when the run cannot fit. */
    static void beforeTraining(TaskModel model, BoostConfig boost, TrainConfig cfg, ProgressListener listener) {
        if (!(model instanceof BackboneTask bt) || !(bt.backbone instanceof LlamaDecoder dec)) return;
        MemoryEstimate e = estimate(dec, model, boost, cfg);
        listener.onMessage("memory estimate: " + e.describe());
        e.check(Runtime.getRuntime().maxMemory(), MemoryEstimate.physicalMemory());
        if (cfg.memoryBudgetBytes > 0 && e.totalBytes() > cfg.memoryBudgetBytes) {
            throw new IllegalArgumentException("this run needs about " + (e.totalBytes() >> 20) + " MiB (" + e.describe() + "), more than the --memory-budget of "
                    + (cfg.memoryBudgetBytes >> 20) + " MiB: lower --batch-size or --max-length, add --recompute, or raise the budget");
        }
    }
}
