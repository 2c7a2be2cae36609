package dev.xgblora.train;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.model.Param;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Exports a checkpoint of a run without training further and without its data: builds the base
 * model with the run's settings and labels, puts back the checkpoint's trained params, merges its
 * boosters again (or, for older checkpoints, puts back the merged weights they stored), merges a round still open at that step (its adapters as they were), and writes the
 * merged model and/or the PEFT adapter of the boosters so far.
 */
public final class CheckpointExport {
    private CheckpointExport() {
    }

    /** What was written (null where not asked for or not possible) and the checkpoint's step. */
    public record Written(Path merged, Path adapter, int step) {
    }

    /**
     * @param labels     the run's labels (its labels.json; classification only, else null)
     * @param checkpoint a checkpoint-N directory or the checkpoints root (its newest is taken)
     * @param merged     directory to write the merged model into (must not exist), or null
     * @param adapter    directory to write the PEFT adapter into, or null
     */
    public static Written export(FineTune.Job job, LabelMap labels, Path checkpoint, Kernels k, Path merged, Path adapter) {
        Path dir = Checkpoint.resolve(checkpoint);
        Checkpoint.Meta meta = Checkpoint.readMeta(dir);
        Task task = job.data().task();
        if (task == Task.CLASSIFY && labels == null) throw new IllegalArgumentException("exporting a classifier needs the run's labels.json");
        ModelConfig mc = ModelConfig.load(job.modelDir());
        try (WeightStore store = WeightStore.open(job.modelDir()); WeightStore st = WeightStore.open(dir.resolve(Checkpoint.STATE))) {
            TrainConfig cfg = job.train();
            TaskModel model = FineTune.build(mc, store, k, task, labels == null ? 2 : Math.max(2, labels.numClasses()), cfg);
            var dtypes = ModelExport.sourceDtypes(model);
            BoostConfig boost = job.boost().seedIfUnset(cfg.seed);
            int totalSteps = Checkpoint.totalSteps(meta);
            BoostingScheduler s = new BoostingScheduler(boost, model.linears(), model.numLayers(), totalSteps);
            Checkpoint.checkSameRun(dir, meta, s.plan().describe(), totalSteps, cfg.seed);
            Checkpoint.checkSameBase(dir, meta, dev.xgblora.io.ModelIdentity.sha256(job.modelDir()));
            restoreWeights(model, st);
            List<dev.xgblora.adapt.Booster> boosters = Checkpoint.boosters(meta, st);
            Checkpoint.checkModules(meta, boosters, model.linears());
            s.restore(boosters, meta.longValue("cumulative_params"), Checkpoint.replays(meta));
            if (meta.bool("round_open")) {
                int round = meta.integer("round", 0, Integer.MAX_VALUE);
                int[] layers = Checkpoint.roundLayers(meta, model.numLayers());
                if (layers != null) s.begin(round, layers);
                else s.begin(round);
                for (Param p : s.roundParams()) p.value().copyFrom(Checkpoint.need(st, "round/" + p.name(), p.value()));
                s.end();
            }
            Path m = null, a = null;
            if (merged != null) {
                ModelExport.writeMerged(model, merged, job.modelDir(), dtypes, cfg.mergedDtype, task == Task.CLASSIFY ? labels : null);
                m = merged;
            }
            if (adapter != null) {
                if (s.boosters().isEmpty()) {
                    throw new IllegalArgumentException("checkpoint " + dir + " holds no boosters (full or head-only fine-tuning, or no"
                            + " round finished): only --merged can be exported");
                }
                ModelExport.writeAdapter(model, s.boosters(), adapter, job.modelDir());
                a = adapter;
            }
            return new Written(m, a, meta.integer("step", 0, totalSteps));
        }
    }

    /** Trained params (head; every weight in full fine-tuning) and the weights merges changed, by name. */
    private static void restoreWeights(TaskModel model, WeightStore st) {
        Map<String, Param> byName = new HashMap<>();
        for (List<Param> ps : List.of(model.backboneParams(), model.headParams())) for (Param p : ps) byName.put(p.name(), p);
        for (String name : st.names()) {
            String key = name.startsWith("param/") ? name.substring(6) : name.startsWith("touched/") ? name.substring(8) : null;
            if (key == null) continue;
            Param p = byName.get(key);
            if (p == null) throw new IllegalArgumentException("checkpoint " + st.source() + " holds '" + key + "', which the model lacks");
            p.ensureWritableF32().copyFrom(Checkpoint.need(st, name, dev.xgblora.tensor.DType.F32, p.value().shape()));
        }
    }
}
