package dev.xgblora.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the xgblora command line. Each subcommand lives in its own class. */
@Command(name = "xgblora", mixinStandardHelpOptions = true, version = "xgblora 0.1.0",
        description = "Fine-tune transformer models with XGBLoRA, LoRA or full fine-tuning.",
        subcommands = {
                CommandLine.HelpCommand.class,
                EmbedCommand.class,
                ImportOnnxCommand.class,
                InfoCommand.class,
                BenchCommand.class,
                ScoreCommand.class,
                GenerateCommand.class,
                TrainCommand.class,
                EvalCommand.class,
                PredictCommand.class,
                ExportCommand.class,
                CompareCommand.class,
        })
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        if (VectorRelaunch.wanted()) System.exit(VectorRelaunch.run(args));
        int code = new CommandLine(new Main()).setExecutionExceptionHandler(Main::reportError).execute(args);
        System.exit(code);
    }

    /** Errors reach the user as one clear line; the stack trace only with -Dxgblora.debug=true. */
    private static int reportError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        if (Boolean.getBoolean("xgblora.debug")) e.printStackTrace();
        cmd.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
        return 1;
    }
}
