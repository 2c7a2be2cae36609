package dev.xgblora.cli;

import dev.xgblora.kernels.Kernels;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time per kernel op of a training step (`bench step --profile-ops`): the model's {@link Kernels}
 * calls go through a proxy that times each one. Kernel calls are synchronous (a parallel kernel
 * returns when all its parts have), so an op's wall time is its cost on the step's critical path;
 * the step's time outside every op is the model's own Java code. Run it at 1 and 2 threads to see
 * which ops scale. The proxy adds ~0.1 µs and an argument array per call.
 */
final class OpProfile implements InvocationHandler {
    private final Kernels target;
    private final Kernels proxy;
    private final Map<String, long[]> byOp = new LinkedHashMap<>(); // name → {calls, nanos}
    private boolean recording;

    /** Profiles calls to {@code target}; they reach it unchanged. The caller still closes {@code target}. */
    OpProfile(Kernels target) {
        this.target = target;
        this.proxy = (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[]{Kernels.class}, this);
    }

    /** The kernels to hand to the model: every call is timed, then forwarded. */
    Kernels kernels() {
        return proxy;
    }

    /** Counts the calls from now on (the timed steps), not before (warm-up). */
    void record(boolean on) {
        recording = on;
    }

    @Override
    public Object invoke(Object proxy, java.lang.reflect.Method method, Object[] args) throws Throwable {
        boolean timed = recording && method.getDeclaringClass() != Object.class;
        long t0 = System.nanoTime();
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        } finally {
            if (timed) {
                long[] s = byOp.computeIfAbsent(method.getName(), k -> new long[2]);
                s[0]++;
                s[1] += System.nanoTime() - t0;
            }
        }
    }

    /** One op's figures per timed step. */
    record Op(String name, double callsPerStep, double msPerStep) {
    }

    /** Ops by time per step, largest first, over {@code steps} recorded steps. */
    List<Op> ops(int steps) {
        List<Op> out = new ArrayList<>();
        byOp.forEach((name, s) -> out.add(new Op(name, (double) s[0] / steps, s[1] / 1e6 / steps)));
        out.sort((a, b) -> Double.compare(b.msPerStep(), a.msPerStep()));
        return out;
    }

    /** The profile as a text table: ms per step, share of the step, calls per step; the rest is the model's Java. */
    String table(int steps, double stepMs) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-28s %10s %7s %8s%n", "op", "ms/step", "share", "calls"));
        double inOps = 0;
        for (Op o : ops(steps)) {
            inOps += o.msPerStep();
            sb.append(String.format(Locale.ROOT, "%-28s %10.2f %6.1f%% %8.1f%n", o.name(), o.msPerStep(), 100 * o.msPerStep() / stepMs, o.callsPerStep()));
        }
        sb.append(String.format(Locale.ROOT, "%-28s %10.2f %6.1f%%%n", "(outside kernels)", stepMs - inOps, 100 * (stepMs - inOps) / stepMs));
        return sb.toString();
    }
}
