package dev.xgblora.cli;

import dev.xgblora.io.ModelSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Describes a model directory: architecture, sizes, parameter count, dtypes. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Describe a model directory (config.json + safetensors) or a .safetensors file.",
        footer = {"", "Example:", "  xgblora info --model ~/.cache/xgblora/models/all-minilm-l6-v2"})
public final class InfoCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory or .safetensors file.")
    Path model;

    @Override
    public Integer call() {
        System.out.print(ModelSummary.describe(model));
        return 0;
    }
}
