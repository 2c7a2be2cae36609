package dev.xgblora.device.opencl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One training step's kernel launches, recorded the first time and replayed on the next steps (the
 * task graph of native/opencl, in OpenCL 1.2 terms). Each recorded launch owns a kernel object with
 * its arguments already set; a replayed launch is only enqueued. The host code of the step still
 * drives it, so each launch is checked against the recorded one at its position: the same kernel
 * and work sizes replay, arguments that differ (the learning rate, AdamW's bias corrections) are
 * set again on the recorded kernel, and a different kernel or size (a shape change: another
 * padded length) re-records the list from that position on.
 */
public final class LaunchList implements AutoCloseable {
    private record Launch(String name, ClKernel kernel, long[] global, long[] local, Object[] args) {
        boolean sameShape(String n, long[] g, long[] l, int argCount) {
            return name.equals(n) && Arrays.equals(global, g) && Arrays.equals(local, l) && args.length == argCount;
        }
    }

    /** Counters of what the list did, for tests and the figures. */
    public record Counts(long recorded, long replayed, long argsReset, long rerecords, long steps) {
    }

    private final ClContext ctx;
    private final List<Launch> launches = new ArrayList<>();
    private int position;
    private boolean inStep;
    private long recorded, replayed, argsReset, rerecords, steps;

    LaunchList(ClContext ctx) {
        this.ctx = ctx;
    }

    /** A step begins: launches from here are matched against the list from its start. */
    void stepStarts() {
        if (inStep && position < launches.size()) dropFrom(position); // the last step was shorter: its list ends there
        position = 0;
        inStep = true;
        steps++;
    }

    void launch(String name, long[] global, long[] local, Object... args) {
        if (!inStep) { // no step marker yet (inference, tests of single ops): a plain launch
            ctx.launch(ctx.kernel(name), global, local, args);
            return;
        }
        if (position < launches.size()) {
            Launch l = launches.get(position);
            if (l.sameShape(name, global, local, args.length)) {
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
                return;
            }
            rerecords++;
            dropFrom(position);
        }
        ClKernel k = ctx.newKernel(name);
        for (int i = 0; i < args.length; i++) ctx.setArg(k, i, args[i]);
        ctx.enqueueSet(k, global, local);
        launches.add(new Launch(name, k, global.clone(), local == null ? null : local.clone(), args.clone()));
        position++;
        recorded++;
    }

    /** Buffers by identity (a new buffer is a new argument), numbers by value (bit-exact for floats). */
    private static boolean sameArg(Object a, Object b) {
        if (a instanceof ClBuffer || b instanceof ClBuffer) return a == b;
        return a.equals(b);
    }

    private void dropFrom(int from) {
        for (int i = launches.size() - 1; i >= from; i--) ctx.releaseKernel(launches.remove(i).kernel());
    }

    Counts counts() {
        return new Counts(recorded, replayed, argsReset, rerecords, steps);
    }

    /** Launches in the list now. */
    int size() {
        return launches.size();
    }

    @Override
    public void close() {
        dropFrom(0);
        inStep = false;
    }
}
