package dev.xgblora.cli;

import dev.xgblora.kernels.Backends;
import dev.xgblora.train.Checkpoint;
import dev.xgblora.train.CheckpointExport;
import dev.xgblora.train.FineTune;
import dev.xgblora.train.LabelMap;
import dev.xgblora.train.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Writes the merged model and/or the PEFT adapter of a training checkpoint. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Export a checkpoint of a run: the merged model (Hugging Face directory with the classification head)",
                "and/or the PEFT adapter of the boosters merged so far. A round still open at the checkpoint is merged as it was.",
                "The run's settings and labels come from train-config.json and labels.json in its output directory (written by",
                "xgblora train); the training data is not needed."},
        footer = {"", "Example (the newest checkpoint of a run, both exports into exports/step-400/{merged,adapter}):",
                "  xgblora export --checkpoint runs/sst2-xgb/checkpoints --output exports/step-400 --merged --adapter"})
public final class ExportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR", description = "A checkpoint-N directory, or a run's checkpoints/ (its newest).")
    Path checkpoint;
    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Directory to write merged/ and adapter/ into.")
    Path output;
    @Option(names = "--merged", description = "Write the merged model (default when neither --merged nor --adapter is given).") boolean merged;
    @Option(names = "--adapter", description = "Write the PEFT adapter (default when neither is given).") boolean adapter;
    @Option(names = "--run-config", paramLabel = "FILE", description = "The run's train-config.json (default: found above the checkpoint).")
    Path runConfig;

    @Override
    public Integer call() throws Exception {
        Path cfg = runConfig != null ? runConfig : findRunConfig(checkpoint);
        TrainCommand train = new TrainCommand();
        new CommandLine(train).parseArgs("--config", cfg.toString());
        Path runDir = cfg.toAbsolutePath().getParent();
        if (train.output == null) train.output = runDir;
        FineTune.Job job = train.job();
        LabelMap labels = null;
        if (job.data().task() == Task.CLASSIFY) {
            Path file = runDir.resolve("labels.json");
            if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no labels.json beside " + cfg + " (xgblora train writes one)");
            labels = LabelMap.load(file);
        }
        boolean both = !merged && !adapter;
        CheckpointExport.Written w = CheckpointExport.export(job, labels, checkpoint, Backends.defaults(),
                merged || both ? output.resolve("merged") : null, adapter || both ? output.resolve("adapter") : null);
        var out = spec.commandLine().getOut();
        out.println("checkpoint at step " + w.step() + " of " + checkpoint);
        if (w.merged() != null) out.println("merged model written to " + w.merged());
        if (w.adapter() != null) out.println("PEFT adapter written to " + w.adapter());
        out.flush();
        return 0;
    }

    /** train-config.json in the checkpoint directory or up to two levels above it. */
    static Path findRunConfig(Path checkpoint) {
        Path dir = checkpoint.toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("checkpoint " + checkpoint + " does not exist");
        if (Checkpoint.latest(dir) == null && !Files.isRegularFile(dir.resolve("state.json"))) {
            throw new IllegalArgumentException(checkpoint + " is neither a checkpoint directory (state.json) nor a checkpoints/ root (latest)");
        }
        for (int i = 0; i < 3 && dir != null; i++, dir = dir.getParent()) {
            Path f = dir.resolve(TrainCommand.SETTINGS_FILE);
            if (Files.isRegularFile(f)) return f;
        }
        throw new IllegalArgumentException("no " + TrainCommand.SETTINGS_FILE + " found above " + checkpoint
                + " (runs of xgblora train write one); pass --run-config FILE");
    }
}
