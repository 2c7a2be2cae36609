package dev.xgblora.cli;

import dev.xgblora.io.ModelSummary;
import dev.xgblora.kernels.Backends;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code xgblora info}: the JVM, vector hardware and kernel backends; with --model, the model too. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print the JDK, the preferred vector species and lanes, threads and kernel backends;"
                + " with --model, describe a model directory (config.json + safetensors) or a .safetensors file.",
        footer = {"", "Examples:", "  xgblora info",
                "  xgblora info --model ~/.cache/xgblora/models/all-minilm-l6-v2",
                "  XGBLORA_JAVA_OPTS=-Dxgblora.threads=1 xgblora info"})
public final class InfoCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR", description = "Model directory or .safetensors file to describe.")
    Path model;

    @Override
    public Integer call() {
        if (model != null) {
            System.out.print(ModelSummary.describe(model));
            return 0;
        }
        Runtime rt = Runtime.getRuntime();
        System.out.println("jdk:              " + System.getProperty("java.vm.name") + " " + Runtime.version()
                + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")");
        System.out.println("os/arch:          " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        System.out.println("cores:            " + rt.availableProcessors());
        System.out.println("max heap:         " + rt.maxMemory() / (1024 * 1024) + " MiB");
        System.out.println("vector species:   " + vectorSpecies());
        System.out.println("kernel threads:   " + Backends.threadsProperty() + " (-Dxgblora.threads)");
        if (Backends.available().contains("vector")) { // the estimate reads the Vector API's lane count
            FmaPeak peak = FmaPeak.estimate(1);
            System.out.printf("f32 FMA peak:     %.1f GFLOP/s per core (%s)%n", peak.gflops(), peak.basis());
        } else {
            System.out.println("f32 FMA peak:     unknown (needs jdk.incubator.vector for the lane count)");
        }
        System.out.println("kernel backends:  " + String.join(", ", Backends.available()));
        Backends.Choice c = Backends.choice();
        System.out.println("active backend:   " + c.name() + (c.name().equals("reference") && !c.forced() ? " (SLOW fallback)" : ""));
        System.out.println("why:              " + c.reason());
        if (c.name().equals("reference") && !c.forced()) System.out.println("fix:              " + Backends.FIX);
        System.out.println("opencl devices:   (--device opencl:N)");
        for (String line : DeviceListing.openClLines()) System.out.println("  " + line);
        System.out.println("cuda devices:");
        for (String line : DeviceListing.cudaLines()) System.out.println("  " + line);
        return 0;
    }

    /** FloatVector.SPECIES_PREFERRED, or why it is not there. */
    static String vectorSpecies() {
        if (!Backends.available().contains("vector")) return "unavailable (run with --add-modules jdk.incubator.vector)";
        var s = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        return s + ", " + s.length() + " float lanes, " + s.vectorBitSize() + " bits";
    }
}
