package dev.xgblora.device.opencl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A training step's kernel launches, recorded the first time and replayed on the next steps (the
 * task graph of native/opencl, in OpenCL 1.2 terms). Each recorded launch owns a kernel object with
 * its arguments already set; a replayed launch is only enqueued. The host code of the step still
 * drives it, so each launch is checked against the recorded one at its position: the same kernel
 * and work sizes replay, arguments that differ (the learning rate, AdamW's bias corrections) are
 * set again on the recorded kernel.
 *
 * <p>Several lists are kept (at most {@value #MAX_LISTS}, least recently used dropped), one per
 * shape of step: a step whose launch differs from the current list's at position i (another padded
 * length from the first launch on, other adapted layers from a later one) switches to a kept list
 * with the same launches before i and the new one at i, and records a new list (sharing nothing,
 * its launches before i set up again without running) only when none has. Ragged batches that
 * come back to a length already seen replay its list.
 */
public final class LaunchList implements AutoCloseable {
    /** Recorded step shapes kept at once. */
    static final int MAX_LISTS = 8;

    private record Launch(String name, ClKernel kernel, long[] global, long[] local, Object[] args) {
        boolean sameShape(String n, long[] g, long[] l, int argCount) {
            return name.equals(n) && Arrays.equals(global, g) && Arrays.equals(local, l) && args.length == argCount;
        }

        boolean sameShape(Launch o) {
            return sameShape(o.name, o.global, o.local, o.args.length);
        }
    }

    /**
     * Counters of what the list did, for tests and the figures: launches recorded and replayed,
     * arguments set again, new lists started (a shape or layer change no kept list had), switches to
     * a kept list, steps, lists kept now.
     */
    public record Counts(long recorded, long replayed, long argsReset, long rerecords, long switches, long steps, int lists) {
        /** Before any step. */
        public static final Counts NONE = new Counts(0, 0, 0, 0, 0, 0, 0);
    }

    private final ClContext ctx;
    /** Most recently used first; the first is the list being played. */
    private final java.util.LinkedList<List<Launch>> lists = new java.util.LinkedList<>();
    private int position;
    private boolean inStep;
    private long recorded, replayed, argsReset, rerecords, switches, steps;

    LaunchList(ClContext ctx) {
        this.ctx = ctx;
        lists.add(new ArrayList<>());
    }

    private List<Launch> current() {
        return lists.getFirst();
    }

    /** A step begins: launches from here are matched against the current list from its start. */
    void stepStarts() {
        if (inStep && position < current().size()) dropFrom(current(), position); // the last step was shorter: its list ends there
        position = 0;
        inStep = true;
        steps++;
    }

    void launch(String name, long[] global, long[] local, Object... args) {
        if (!inStep) { // no step marker yet (inference, tests of single ops): a plain launch
            ctx.launch(ctx.kernel(name), global, local, args);
            return;
        }
        List<Launch> list = current();
        if (position < list.size() && list.get(position).sameShape(name, global, local, args.length)) {
            replay(list.get(position), global, local, args);
            return;
        }
        List<Launch> kept = keptMatch(name, global, local, args.length);
        if (kept != null) {
            lists.remove(kept);
            lists.addFirst(kept);
            switches++;
            replay(kept.get(position), global, local, args);
            return;
        }
        if (position < list.size()) { // a new shape from here: a new list with this one's launches before it
            rerecords++;
            lists.addFirst(prefixOf(list, position));
            if (lists.size() > MAX_LISTS) dropFrom(lists.removeLast(), 0);
        }
        ClKernel k = ctx.newKernel(name);
        for (int i = 0; i < args.length; i++) ctx.setArg(k, i, args[i]);
        ctx.enqueueSet(k, global, local);
        current().add(new Launch(name, k, global.clone(), local == null ? null : local.clone(), args.clone()));
        position++;
        recorded++;
    }

    private void replay(Launch l, long[] global, long[] local, Object[] args) {
        for (int i = 0; i < args.length; i++) {
            if (!sameArg(l.args[i], args[i])) {
                ctx.setArg(l.kernel, i, args[i]);
                l.args[i] = args[i];
                argsReset++;
            }
        }
        ctx.enqueueSet(l.kernel, global, local);
        position++;
        replayed++;
    }

    /** A kept list other than the current one whose launches before {@code position} are the current list's and whose next is this one. */
    private List<Launch> keptMatch(String name, long[] global, long[] local, int argCount) {
        List<Launch> list = current();
        for (List<Launch> other : lists) {
            if (other == list || other.size() <= position || !other.get(position).sameShape(name, global, local, argCount)) continue;
            boolean samePrefix = true;
            for (int i = 0; i < position && samePrefix; i++) samePrefix = other.get(i).sameShape(list.get(i));
            if (samePrefix) return other;
        }
        return null;
    }

    /** A new list holding copies (own kernel objects, same arguments, not run) of {@code list}'s first {@code n} launches. */
    private List<Launch> prefixOf(List<Launch> list, int n) {
        List<Launch> copy = new ArrayList<>(n);
        for (Launch l : list.subList(0, n)) {
            ClKernel k = ctx.newKernel(l.name);
            for (int i = 0; i < l.args.length; i++) ctx.setArg(k, i, l.args[i]);
            copy.add(new Launch(l.name, k, l.global, l.local, l.args.clone()));
        }
        return copy;
    }

    /** Buffers by identity (a new buffer is a new argument), numbers by value (bit-exact for floats). */
    private static boolean sameArg(Object a, Object b) {
        if (a instanceof ClBuffer || b instanceof ClBuffer) return a == b;
        return a.equals(b);
    }

    private void dropFrom(List<Launch> list, int from) {
        for (int i = list.size() - 1; i >= from; i--) ctx.releaseKernel(list.remove(i).kernel());
    }

    Counts counts() {
        return new Counts(recorded, replayed, argsReset, rerecords, switches, steps, lists.size());
    }

    /** Launches in the current list. */
    int size() {
        return current().size();
    }

    @Override
    public void close() {
        for (List<Launch> l : lists) dropFrom(l, 0);
        inStep = false;
    }
}
