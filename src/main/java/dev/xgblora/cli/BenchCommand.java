package dev.xgblora.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code xgblora bench ...}: performance measurements. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure performance.",
        footer = {"", "Examples:", "  xgblora bench kernels --threads 1,2 --repeat 10",
                "  xgblora bench step --method xgblora --steps 20 --json"},
        subcommands = {BenchKernelsCommand.class, BenchStepCommand.class})
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
