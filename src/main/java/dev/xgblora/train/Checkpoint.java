package dev.xgblora.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.Booster;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.WeightStore;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A resumable snapshot of a run, written as {@code <root>/checkpoint-<step>/} (filled in a temporary
 * directory, then renamed) with {@code state.safetensors} (trainable params, AdamW moments, every
 * merged booster's factors, the open round's adapters; never a base weight: resume merges the
 * boosters again onto the base) and
 * {@code state.json} (step, data position, optimizer step counts, round, booster metadata, loss
 * history). {@code <root>/latest} names the newest; older ones beyond two are deleted.
 * Random choices derive from (seed, round) and data order from (seed, epoch), so no generator
 * state is needed beyond these positions.
 */
public final class Checkpoint {
    static final String STATE = "state.safetensors";
    static final String META = "state.json";
    static final String LATEST = "latest";
    /** state.json key: merged weights are rebuilt by merging the boosters again (older checkpoints stored them). */
    static final String REPLAY = "merge_replay";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Checkpoint() {
    }

    public static Path save(Trainer t, Path root) {
        if (root == null) throw new IllegalArgumentException("checkpointing needs a checkpoint directory");
        String name = "checkpoint-" + t.step;
        Path target = root.resolve(name);
        if (Files.exists(target)) deleteTree(target);
        AtomicFiles.writeDirectory(target, tmp -> {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (AdamW.Slot s : t.otherOpt.slots()) {
                tensors.put("param/" + s.param().name(), s.param().value());
                tensors.put("m/" + s.param().name(), s.m());
                tensors.put("v/" + s.param().name(), s.v());
            }
            List<Map<String, Object>> boosters = new ArrayList<>();
            List<Booster> merged = t.scheduler.boosters();
            for (int i = 0; i < merged.size(); i++) {
                Booster b = merged.get(i);
                tensors.put("booster/" + i + "/a", Tensor.fromArray(b.a(), b.rank(), b.in()));
                tensors.put("booster/" + i + "/b", Tensor.fromArray(b.b(), b.out(), b.rank()));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("round", b.round());
                m.put("module", b.module());
                m.put("layer", b.layer());
                m.put("rank", b.rank());
                m.put("in", b.in());
                m.put("out", b.out());
                m.put("factor", b.factor());
                m.put("delta_norm", b.deltaNorm());
                boosters.add(m);
            }
            for (AdamW.Slot s : t.boosterOpt.slots()) {
                tensors.put("round/" + s.param().name(), s.param().value());
                tensors.put("round_m/" + s.param().name(), s.m());
                tensors.put("round_v/" + s.param().name(), s.v());
            }
            SafeTensorsWriter.write(tmp.resolve(STATE), tensors, Map.of("format", "xgblora-checkpoint"));
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("step", t.step);
            meta.put("total_steps", t.totalSteps);
            meta.put("plan", t.plan.describe());
            meta.put("seed", t.cfg.seed);
            meta.put("epoch", t.order.position().epoch());
            meta.put("batch", t.order.position().batch());
            meta.put("bad_steps", t.badSteps);
            meta.put("other_opt_step", t.otherOpt.stepCount());
            meta.put("booster_opt_step", t.boosterOpt.stepCount());
            meta.put("round_open", t.scheduler.inRound());
            meta.put("round", t.scheduler.round());
            meta.put("round_loss_sum", t.roundLossSum);
            meta.put("round_loss_count", t.roundLossCount);
            meta.put("cumulative_params", t.scheduler.cumulativeParams());
            meta.put(REPLAY, true);
            meta.put("boosters", boosters);
            meta.put("losses", t.losses);
            Files.writeString(tmp.resolve(META), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(meta));
        });
        AtomicFiles.writeString(root.resolve(LATEST), name + "\n");
        pruneOlder(root, t.step);
        return target;
    }

    /** The newest checkpoint under {@code root} (via {@code latest}), or null when there is none. */
    public static Path latest(Path root) {
        Path pointer = root.resolve(LATEST);
        if (!Files.isRegularFile(pointer)) return null;
        try {
            Path dir = root.resolve(Files.readString(pointer).trim());
            return Files.isDirectory(dir) ? dir : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + pointer, e);
        }
    }

    /**
     * Restores {@code t} (freshly built from the same base model, data and settings) to the state
     * saved in {@code dir} (a checkpoint directory, or a root holding {@code latest}).
     */
    @SuppressWarnings("unchecked")
    public static void restore(Trainer t, Path dir) {
        dir = resolve(dir);
        if (t.step != 0) throw new IllegalStateException("restore into a trainer that has not run yet");
        Map<String, Object> meta = readMeta(dir);
        checkSameRun(dir, meta, t.plan.describe(), t.totalSteps, t.cfg.seed);
        try (WeightStore st = WeightStore.open(dir.resolve(STATE))) {
            for (AdamW.Slot s : t.otherOpt.slots()) {
                s.param().value().copyFrom(need(st, "param/" + s.param().name()));
                s.m().copyFrom(need(st, "m/" + s.param().name()));
                s.v().copyFrom(need(st, "v/" + s.param().name()));
            }
            t.otherOpt.setStepCount(((Number) meta.get("other_opt_step")).longValue());
            List<Booster> merged = boosters(meta, st);
            long cumulative = ((Number) meta.get("cumulative_params")).longValue();
            boolean replay = replays(meta);
            t.scheduler.restore(merged, cumulative, replay);
            if (!replay) {
                for (Param p : t.scheduler.touchedWeights()) {
                    if (st.has("touched/" + p.name())) p.ensureWritableF32().copyFrom(st.tensor("touched/" + p.name()));
                }
            }
            if (Boolean.TRUE.equals(meta.get("round_open"))) {
                t.beginRound(((Number) meta.get("round")).intValue());
                t.scheduler.setCumulativeParams(cumulative);
                for (AdamW.Slot s : t.boosterOpt.slots()) {
                    s.param().value().copyFrom(need(st, "round/" + s.param().name()));
                    s.m().copyFrom(need(st, "round_m/" + s.param().name()));
                    s.v().copyFrom(need(st, "round_v/" + s.param().name()));
                }
                t.boosterOpt.setStepCount(((Number) meta.get("booster_opt_step")).longValue());
            }
        }
        t.step = ((Number) meta.get("step")).intValue();
        t.badSteps = ((Number) meta.get("bad_steps")).intValue();
        t.roundLossSum = ((Number) meta.get("round_loss_sum")).doubleValue();
        t.roundLossCount = ((Number) meta.get("round_loss_count")).intValue();
        t.order.seek(new DataOrder.Position(((Number) meta.get("epoch")).intValue(), ((Number) meta.get("batch")).intValue()));
        t.losses.clear();
        for (Object o : (List<Object>) meta.get("losses")) t.losses.add(o instanceof Number n ? n.doubleValue() : Double.NaN);
    }

    /** A checkpoint directory itself, or the newest under a root holding {@code latest}. */
    static Path resolve(Path dir) {
        if (Files.isRegularFile(dir.resolve(LATEST))) dir = latest(dir);
        if (dir == null || !Files.isRegularFile(dir.resolve(META))) throw new IllegalArgumentException("no checkpoint at " + dir);
        return dir;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> readMeta(Path dir) {
        try {
            return JSON.readValue(dir.resolve(META).toFile(), LinkedHashMap.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(META) + ": " + e.getMessage(), e);
        }
    }

    /** Refuses a checkpoint made with another schedule, step count or seed. */
    static void checkSameRun(Path dir, Map<String, Object> meta, String plan, int totalSteps, long seed) {
        if (!plan.equals(meta.get("plan")) || ((Number) meta.get("total_steps")).intValue() != totalSteps
                || ((Number) meta.get("seed")).longValue() != seed) {
            throw new IllegalArgumentException("checkpoint " + dir + " was made by a different run (" + meta.get("plan") + ", "
                    + meta.get("total_steps") + " steps, seed " + meta.get("seed") + "), not " + plan + ", " + totalSteps
                    + " steps, seed " + seed);
        }
    }

    /** Whether the checkpoint's merged weights come from merging its boosters again (else: stored "touched/" tensors). */
    static boolean replays(Map<String, Object> meta) {
        return Boolean.TRUE.equals(meta.get(REPLAY));
    }

    static int totalSteps(Map<String, Object> meta) {
        return ((Number) meta.get("total_steps")).intValue();
    }

    /** The boosters merged before the checkpoint, in merge order. */
    @SuppressWarnings("unchecked")
    static List<Booster> boosters(Map<String, Object> meta, WeightStore st) {
        List<Booster> merged = new ArrayList<>();
        List<Map<String, Object>> bs = (List<Map<String, Object>>) meta.get("boosters");
        for (int i = 0; i < bs.size(); i++) {
            Map<String, Object> m = bs.get(i);
            merged.add(new Booster(((Number) m.get("round")).intValue(), (String) m.get("module"), ((Number) m.get("layer")).intValue(),
                    ((Number) m.get("rank")).intValue(), ((Number) m.get("in")).intValue(), ((Number) m.get("out")).intValue(),
                    ((Number) m.get("factor")).floatValue(), need(st, "booster/" + i + "/a").toFloatArray(),
                    need(st, "booster/" + i + "/b").toFloatArray(), ((Number) m.get("delta_norm")).doubleValue()));
        }
        return merged;
    }

    static Tensor need(WeightStore st, String name) {
        if (!st.has(name)) throw new IllegalArgumentException("checkpoint " + st.source() + " lacks tensor '" + name + "'");
        return st.tensor(name);
    }

    private static void pruneOlder(Path root, int keepFrom) {
        try (var s = Files.list(root)) {
            List<Integer> steps = new ArrayList<>();
            s.forEach(p -> {
                String n = p.getFileName().toString();
                if (n.matches("checkpoint-\\d+")) steps.add(Integer.parseInt(n.substring(11)));
            });
            steps.sort(null);
            for (int i = 0; i < steps.size() - 2; i++) {
                if (steps.get(i) < keepFrom) deleteTree(root.resolve("checkpoint-" + steps.get(i)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
    }

    /** Recursive delete of one of our own checkpoint directories. */
    private static void deleteTree(Path dir) {
        try (var w = Files.walk(dir)) {
            for (Path p : w.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete old checkpoint " + dir + ": " + e.getMessage(), e);
        }
    }
}
