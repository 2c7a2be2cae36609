package dev.xgblora.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.Booster;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.WeightStore;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
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
        String name = dirName(t.step);
        Path target = root.resolve(name);
        if (Files.exists(target)) deleteTree(target);
        removeTemporaries(root);
        try {
            write(t, target);
            AtomicFiles.writeString(root.resolve(LATEST), name + "\n");
        } catch (UncheckedIOException e) {
            Path previous = latest(root);
            throw new UncheckedIOException("checkpoint at step " + t.step + " not written: " + e.getMessage() + "; "
                    + (previous == null ? "there is no earlier checkpoint" : "the previous one, " + previous + ", is intact"), e.getCause());
        }
        pruneOlder(root, t.step);
        return target;
    }

    private static void write(Trainer t, Path target) {
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
            if (t.cfg.baseModelSha256 != null) meta.put("base_model_sha256", t.cfg.baseModelSha256);
            meta.put("epoch", t.order.position().epoch());
            meta.put("batch", t.order.position().batch());
            meta.put("bad_steps", t.badSteps);
            meta.put("other_opt_step", t.otherOpt.stepCount());
            meta.put("booster_opt_step", t.boosterOpt.stepCount());
            meta.put("round_open", t.scheduler.inRound());
            meta.put("round", t.scheduler.round());
            if (t.scheduler.inRound()) meta.put("round_layers", t.scheduler.currentLayers());
            meta.put("round_loss_sum", t.roundLossSum);
            meta.put("round_loss_count", t.roundLossCount);
            meta.put("cumulative_params", t.scheduler.cumulativeParams());
            if (t.cfg.timeBudgetSeconds > 0) {
                meta.put("budget_used_s", t.budget.used());
                meta.put("budget_plans", t.budget.plans);
            }
            meta.put(REPLAY, true);
            meta.put("boosters", boosters);
            meta.put("losses", t.losses);
            AtomicFiles.writeString(tmp.resolve(META), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(meta));
        });
    }

    /** The newest checkpoint under {@code root} (via {@code latest}), or null when there is none. */
    public static Path latest(Path root) {
        Path pointer = root.resolve(LATEST);
        if (!Files.isRegularFile(pointer)) return null;
        try {
            String name = Files.readString(pointer).trim();
            if (!name.matches("checkpoint-\\d+")) {
                throw new IllegalArgumentException(pointer + ": expected the name of a checkpoint directory (checkpoint-N), found '"
                        + (name.length() > 40 ? name.substring(0, 40) + "..." : name) + "'");
            }
            Path dir = root.resolve(name);
            return Files.isDirectory(dir) ? dir : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + pointer, e);
        }
    }

    /** The directory name of the checkpoint after {@code step} steps. */
    static String dirName(int step) {
        return "checkpoint-" + step;
    }

    /**
     * Restores {@code t} (freshly built from the same base model, data and settings) to the state
     * saved in {@code dir} (a checkpoint directory, or a root holding {@code latest}). Every key of
     * state.json and every tensor (name, dtype, shape) is checked before anything is changed.
     */
    public static void restore(Trainer t, Path dir) {
        dir = resolve(dir);
        if (t.step != 0) throw new IllegalStateException("restore into a trainer that has not run yet");
        Meta meta = readMeta(dir);
        if (t.cfg.timeBudgetSeconds > 0 && meta.has("budget_used_s")) {
            // a budget run planned its horizon from its step time: resume on that plan, with the budget left
            t.setHorizon(totalSteps(meta));
            t.budget.usedBefore = meta.number("budget_used_s");
            t.budget.plans = meta.integer("budget_plans", 0, Integer.MAX_VALUE);
        }
        checkSameRun(dir, meta, t.plan.describe(), t.totalSteps, t.cfg.seed);
        checkSameBase(dir, meta, t.cfg.baseModelSha256);
        int step = meta.integer("step", 0, t.totalSteps);
        int badSteps = meta.integer("bad_steps", 0, Integer.MAX_VALUE);
        double lossSum = meta.number("round_loss_sum");
        int lossCount = meta.integer("round_loss_count", 0, Integer.MAX_VALUE);
        DataOrder.Position position = new DataOrder.Position(meta.integer("epoch", 0, Integer.MAX_VALUE),
                meta.integer("batch", 0, Integer.MAX_VALUE));
        long otherStep = meta.longValue("other_opt_step");
        long boosterStep = meta.longValue("booster_opt_step");
        long cumulative = meta.longValue("cumulative_params");
        boolean roundOpen = meta.bool("round_open");
        int round = meta.integer("round", -1, Integer.MAX_VALUE);
        List<Double> losses = new ArrayList<>();
        for (Object o : meta.list("losses")) losses.add(o instanceof Number n ? n.doubleValue() : Double.NaN);
        if (losses.size() != step) throw meta.bad("losses", "holds " + losses.size() + " values for " + step + " steps");
        try (WeightStore st = WeightStore.open(dir.resolve(STATE))) {
            for (AdamW.Slot s : t.otherOpt.slots()) {
                Tensor p = need(st, "param/" + s.param().name(), s.param().value());
                Tensor m = need(st, "m/" + s.param().name(), s.m());
                Tensor v = need(st, "v/" + s.param().name(), s.v());
                s.param().value().copyFrom(p);
                s.m().copyFrom(m);
                s.v().copyFrom(v);
            }
            t.otherOpt.setStepCount(otherStep);
            List<Booster> merged = boosters(meta, st);
            checkModules(meta, merged, t.model.linears());
            boolean replay = replays(meta);
            t.scheduler.restore(merged, cumulative, replay);
            if (!replay) {
                for (Param p : t.scheduler.touchedWeights()) {
                    String name = "touched/" + p.name();
                    if (st.has(name)) p.ensureWritableF32().copyFrom(need(st, name, DType.F32, p.value().shape()));
                }
            }
            if (roundOpen) {
                t.beginRound(round, roundLayers(meta, t.model.numLayers()));
                t.scheduler.setCumulativeParams(cumulative);
                for (AdamW.Slot s : t.boosterOpt.slots()) {
                    s.param().value().copyFrom(need(st, "round/" + s.param().name(), s.param().value()));
                    s.m().copyFrom(need(st, "round_m/" + s.param().name(), s.m()));
                    s.v().copyFrom(need(st, "round_v/" + s.param().name(), s.v()));
                }
                t.boosterOpt.setStepCount(boosterStep);
            }
        }
        t.step = step;
        t.badSteps = badSteps;
        t.roundLossSum = lossSum;
        t.roundLossCount = lossCount;
        t.order.seek(position);
        t.losses.clear();
        t.losses.addAll(losses);
    }

    /** The layers of the open round as saved (null in checkpoints older than the key: the selection repeats them). */
    static int[] roundLayers(Meta meta, int numLayers) {
        if (!meta.has("round_layers")) return null;
        List<Object> l = meta.list("round_layers");
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Integer v) || v < 0 || v >= numLayers) {
                throw meta.bad("round_layers", "holds " + l.get(i) + ", not a layer index in [0, " + numLayers + ")");
            }
            out[i] = v;
        }
        return out;
    }

    /** A checkpoint directory itself, or the newest under a root holding {@code latest}. */
    static Path resolve(Path dir) {
        if (Files.isRegularFile(dir.resolve(LATEST))) dir = latest(dir);
        if (dir == null || !Files.isRegularFile(dir.resolve(META))) throw new IllegalArgumentException("no checkpoint at " + dir);
        return dir;
    }

    /** state.json of a checkpoint directory, parsed (typed access through {@link Meta}). */
    static Meta readMeta(Path dir) {
        Path file = dir.resolve(META);
        Object root;
        try {
            root = JSON.readValue(file.toFile(), Object.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> m)) throw new IllegalArgumentException(file + ": expected a JSON object");
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) m;
        return new Meta(file, "", map);
    }

    /** Refuses a checkpoint made with another schedule, step count or seed. */
    static void checkSameRun(Path dir, Meta meta, String plan, int totalSteps, long seed) {
        String savedPlan = meta.string("plan");
        int savedSteps = totalSteps(meta);
        long savedSeed = meta.longValue("seed");
        if (!plan.equals(savedPlan) || savedSteps != totalSteps || savedSeed != seed) {
            throw new IllegalArgumentException("checkpoint " + dir.resolve(META) + " was made by a different run (" + savedPlan + ", "
                    + savedSteps + " steps, seed " + savedSeed + "), not " + plan + ", " + totalSteps + " steps, seed " + seed);
        }
    }

    /** Refuses a checkpoint whose recorded base hash differs from {@code baseSha256} (either unknown: no check). */
    static void checkSameBase(Path dir, Meta meta, String baseSha256) {
        String recorded = meta.optionalString("base_model_sha256");
        if (recorded != null && baseSha256 != null && !recorded.equals(baseSha256)) {
            throw new IllegalArgumentException("checkpoint " + dir.resolve(META) + " was made on a base model whose weights have SHA-256 "
                    + recorded + ", but the model given has " + baseSha256 + ": a different base model; use the one the run trained on");
        }
    }

    /** Whether the checkpoint's merged weights come from merging its boosters again (else: stored "touched/" tensors). */
    static boolean replays(Meta meta) {
        return Boolean.TRUE.equals(meta.optionalBool(REPLAY));
    }

    static int totalSteps(Meta meta) {
        return meta.integer("total_steps", 1, Integer.MAX_VALUE);
    }

    /** The boosters merged before the checkpoint, in merge order (factor shapes checked against their metadata). */
    static List<Booster> boosters(Meta meta, WeightStore st) {
        List<Booster> merged = new ArrayList<>();
        List<Object> bs = meta.list("boosters");
        for (int i = 0; i < bs.size(); i++) {
            Meta m = meta.object("boosters", i);
            int rank = m.integer("rank", 1, Integer.MAX_VALUE), in = m.integer("in", 1, Integer.MAX_VALUE);
            int out = m.integer("out", 1, Integer.MAX_VALUE);
            merged.add(new Booster(m.integer("round", 0, Integer.MAX_VALUE), m.string("module"), m.integer("layer", 0, Integer.MAX_VALUE),
                    rank, in, out, (float) m.number("factor"), need(st, "booster/" + i + "/a", DType.F32, rank, in).toFloatArray(),
                    need(st, "booster/" + i + "/b", DType.F32, out, rank).toFloatArray(), m.number("delta_norm")));
        }
        return merged;
    }

    /** Each booster names a linear of this model, of its shape. */
    static void checkModules(Meta meta, List<Booster> merged, List<dev.xgblora.model.Linear> linears) {
        Map<String, long[]> shapes = new java.util.HashMap<>();
        for (dev.xgblora.model.Linear l : linears) shapes.put(l.name(), l.weight().value().shape());
        for (int i = 0; i < merged.size(); i++) {
            Booster b = merged.get(i);
            long[] s = shapes.get(b.module());
            if (s == null) throw meta.object("boosters", i).bad("module", "names '" + b.module() + "', which is not a linear of the model");
            if (s[0] != b.out() || s[1] != b.in()) {
                throw meta.object("boosters", i).bad("in", "and 'out' say " + b.in() + " -> " + b.out() + ", but " + b.module()
                        + " is " + s[1] + " -> " + s[0]);
            }
        }
    }

    /** A tensor of the checkpoint, which must exist with the dtype and shape of {@code like}. */
    static Tensor need(WeightStore st, String name, Tensor like) {
        return need(st, name, like.dtype(), like.shape());
    }

    static Tensor need(WeightStore st, String name, DType dtype, long... shape) {
        if (!st.has(name)) throw new IllegalArgumentException("checkpoint " + st.source() + " lacks tensor '" + name + "'");
        long[] got = st.shape(name);
        String gotType = st.dtypeName(name);
        if (!gotType.equals(dtype.safetensorsName()) || !java.util.Arrays.equals(got, shape)) {
            throw new IllegalArgumentException("checkpoint " + st.source() + ": tensor '" + name + "' is " + gotType
                    + java.util.Arrays.toString(got) + ", expected " + dtype.safetensorsName() + java.util.Arrays.toString(shape));
        }
        return st.tensor(name);
    }

    /** Removes what a process killed while writing a checkpoint left behind (temporaries never renamed). */
    private static void removeTemporaries(Path root) {
        if (!Files.isDirectory(root)) return;
        try (var s = Files.list(root)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".checkpoint-") || n.startsWith("." + LATEST + ".")) AtomicFiles.deleteTree(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * Typed, checked access to a JSON object of state.json: a missing key or a value of the wrong
     * type is an error naming the file and the key (its path for nested objects).
     */
    static final class Meta {
        private final Path file;
        private final String prefix;
        private final Map<String, Object> m;

        Meta(Path file, String prefix, Map<String, Object> m) {
            this.file = file;
            this.prefix = prefix;
            this.m = m;
        }

        IllegalArgumentException bad(String key, String what) {
            return new IllegalArgumentException(file + ": key '" + prefix + key + "' " + what);
        }

        private Object get(String key) {
            Object v = m.get(key);
            if (v == null) throw bad(key, m.containsKey(key) ? "is null" : "is missing");
            return v;
        }

        private Number numberValue(String key) {
            Object v = get(key);
            if (!(v instanceof Number n)) throw bad(key, "is not a number: " + abbreviate(v));
            return n;
        }

        long longValue(String key) {
            Number n = numberValue(key);
            if (!(n instanceof Integer || n instanceof Long)) throw bad(key, "is not an integer: " + n);
            return n.longValue();
        }

        int integer(String key, int min, int max) {
            long v = longValue(key);
            if (v < min || v > max) throw bad(key, "is " + v + ", outside [" + min + ", " + max + "]");
            return (int) v;
        }

        double number(String key) {
            Object v = get(key);
            if ("NaN".equals(v)) return Double.NaN;
            return numberValue(key).doubleValue();
        }

        boolean bool(String key) {
            if (!(get(key) instanceof Boolean b)) throw bad(key, "is not true or false: " + abbreviate(m.get(key)));
            return b;
        }

        boolean has(String key) {
            return m.get(key) != null;
        }

        /** The boolean under {@code key}, or null when it is absent (keys older checkpoints lack). */
        Boolean optionalBool(String key) {
            return m.get(key) == null ? null : bool(key);
        }

        /** The string under {@code key}, or null when it is absent (keys older checkpoints lack). */
        String optionalString(String key) {
            return m.get(key) == null ? null : string(key);
        }

        String string(String key) {
            if (!(get(key) instanceof String s)) throw bad(key, "is not a string: " + abbreviate(m.get(key)));
            return s;
        }

        @SuppressWarnings("unchecked")
        List<Object> list(String key) {
            if (!(get(key) instanceof List<?> l)) throw bad(key, "is not a list: " + abbreviate(m.get(key)));
            return (List<Object>) l;
        }

        @SuppressWarnings("unchecked")
        Meta object(String key, int index) {
            Object v = list(key).get(index);
            if (!(v instanceof Map<?, ?> o)) throw bad(key + "[" + index + "]", "is not a JSON object: " + abbreviate(v));
            return new Meta(file, prefix + key + "[" + index + "].", (Map<String, Object>) o);
        }

        private static String abbreviate(Object v) {
            String s = String.valueOf(v);
            return s.length() > 40 ? s.substring(0, 40) + "..." : s;
        }
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
