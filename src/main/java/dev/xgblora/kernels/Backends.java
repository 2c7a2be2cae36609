package dev.xgblora.kernels;

import java.lang.module.ModuleFinder;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds a kernel implementation by name. CPU backends only for now; accelerator backends will be
 * discovered here at run time, and nothing on the CPU path touches their classes.
 *
 * <p>System properties: {@code xgblora.kernels} (reference | vector | opencl[:N] | cuda[:N], default vector) and
 * {@code xgblora.threads} (default: available processors) and {@code xgblora.warmup.ms} (JIT warm-up
 * budget of {@link #defaults()} and {@link #createPrimed}, default {@value KernelWarmup#DEFAULT_BUDGET_MS};
 * 0 turns it off).
 */
public final class Backends {
    private static volatile Kernels defaults;

    private Backends() {
    }

    /** Names {@link #create} accepts on this JVM ("vector" needs --add-modules jdk.incubator.vector). */
    public static List<String> available() {
        List<String> names = new ArrayList<>();
        names.add("reference");
        if (vectorApiPresent()) names.add("vector");
        return List.copyOf(names);
    }

    /** A new backend; close it (if AutoCloseable) to stop its threads early. */
    public static Kernels create(String name, int threads) {
        if (threads < 1) throw new IllegalArgumentException("kernel threads must be >= 1, got " + threads);
        return switch (name) {
            case "reference" -> new ReferenceKernels();
            case "vector" -> {
                if (!vectorApiPresent()) {
                    throw new IllegalStateException("kernel backend 'vector' needs the JVM flag --add-modules jdk.incubator.vector");
                }
                yield new VectorKernels(threads);
            }
            // Accelerators are looked up by name so the CPU path never loads a device class.
            case String s when s.equals("opencl") || s.startsWith("opencl:") -> deviceBackend("dev.xgblora.device.opencl.OpenClKernels", s);
            case String s when s.equals("cuda") || s.startsWith("cuda:") -> deviceBackend("dev.xgblora.device.cuda.CudaKernels", s);
            default -> throw new IllegalArgumentException("unknown kernel backend '" + name + "' (available: "
                    + String.join(", ", available()) + ", opencl[:N], cuda[:N])");
        };
    }

    /** {@code owner.open(spec)}: an accelerator backend, its own exceptions passed through unwrapped. */
    private static Kernels deviceBackend(String owner, String spec) {
        try {
            return (Kernels) Class.forName(owner).getMethod("open", String.class).invoke(null, spec);
        } catch (java.lang.reflect.InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException("kernel backend '" + spec + "' failed to start", e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("kernel backend '" + spec + "' is not in this build (" + owner + ")", e);
        }
    }

    /**
     * {@link #create} followed by {@link KernelWarmup#prime(Kernels, long)} with the
     * {@code xgblora.warmup.ms} budget: the first full-size calls then run JIT-compiled code.
     */
    public static Kernels createPrimed(String name, int threads) {
        Kernels k = create(name, threads);
        if (k.name().equals("opencl") || k.name().equals("cuda")) return k; // JIT warm-up is for CPU kernels; a device's run in its driver
        KernelWarmup.prime(k, warmupMsProperty());
        return k;
    }

    /**
     * The process-wide backend chosen by the system properties, created once and shared, and
     * JIT-primed once ({@code xgblora.warmup.ms}, about 1.5 s) so the first forward does not run
     * interpreted. Without the Vector API module it falls back to the reference kernels with a
     * loud warning on stderr (not when {@code -Dxgblora.kernels=reference} asked for them); {@link #choice()}
     * says which backend and why.
     */
    public static Kernels defaults() {
        Kernels k = defaults;
        if (k == null) {
            synchronized (Backends.class) {
                k = defaults;
                if (k == null) defaults = k = fromProperties();
            }
        }
        return k;
    }

    private static Kernels fromProperties() {
        Choice c = choice();
        if (c.name().equals("reference") && !c.forced()) System.err.print(slowBanner(c.reason()));
        return createPrimed(c.name(), threadsProperty());
    }

    /**
     * The backend {@link #defaults()} uses and why. {@code forced}: chosen on purpose with
     * {@code -Dxgblora.kernels}; otherwise the reference kernels are a fallback the user should hear about.
     */
    public record Choice(String name, String reason, boolean forced) {
    }

    /** What {@link #defaults()} picks from {@code xgblora.kernels} and the modules of this JVM. */
    public static Choice choice() {
        String asked = System.getProperty("xgblora.kernels");
        boolean vector = vectorApiPresent();
        if (asked == null || asked.isBlank() || asked.trim().equals("vector")) {
            String how = asked == null || asked.isBlank() ? "the default" : "-Dxgblora.kernels=vector";
            if (vector) {
                return new Choice("vector", how + "; jdk.incubator.vector is in this JVM"
                        + (Boolean.getBoolean("xgblora.relaunched") ? " (xgblora relaunched itself with --add-modules jdk.incubator.vector)" : ""), false);
            }
            return new Choice("reference", how + " is vector, but this JVM was started without --add-modules jdk.incubator.vector"
                    + (ModuleFinder.ofSystem().find("jdk.incubator.vector").isEmpty() ? " and its runtime (" + System.getProperty("java.home") + ") has no such module" : ""),
                    false);
        }
        return new Choice(asked.trim(), "chosen with -Dxgblora.kernels=" + asked.trim(), true);
    }

    /** How to get the vector kernels, for messages. */
    public static final String FIX = "run through ./xgblora or the app image's bin/xgblora, or with a JDK 25 runtime:"
            + " java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar xgblora.jar ...";

    /** The warning printed when a real run falls back to the reference kernels: what, why and how to fix it. */
    static String slowBanner(String why) {
        String rule = "*".repeat(100) + System.lineSeparator();
        return rule
                + "WARNING: xgblora is running the REFERENCE kernels (scalar, double accumulation): fine for tests, very slow for training." + System.lineSeparator()
                + "  why: " + why + System.lineSeparator()
                + "  fix: " + FIX + System.lineSeparator()
                + "       -Dxgblora.kernels=reference chooses them on purpose, silently." + System.lineSeparator()
                + rule;
    }

    /** {@code xgblora.warmup.ms}: milliseconds of JIT warm-up for primed backends (0 = none). */
    public static long warmupMsProperty() {
        String v = System.getProperty("xgblora.warmup.ms");
        if (v == null || v.isBlank()) return KernelWarmup.DEFAULT_BUDGET_MS;
        try {
            long ms = Long.parseLong(v.trim());
            if (ms < 0) throw new NumberFormatException();
            return ms;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property xgblora.warmup.ms must be a non-negative integer, got '" + v + "'");
        }
    }

    /** {@code xgblora.threads}, or all available processors. */
    public static int threadsProperty() {
        String v = System.getProperty("xgblora.threads");
        if (v == null || v.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int t = Integer.parseInt(v.trim());
            if (t < 1) throw new NumberFormatException();
            return t;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property xgblora.threads must be a positive integer, got '" + v + "'");
        }
    }

    private static boolean vectorApiPresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }
}
