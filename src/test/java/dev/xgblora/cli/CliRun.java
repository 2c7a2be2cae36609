package dev.xgblora.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** One in-process run of the CLI with System.out captured: exit code, standard output, error output. */
record CliRun(int code, String out, String err) {
    /** Runs {@code xgblora args...}; a failing command's exception becomes "error: message" on err and code 1. */
    static CliRun of(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            CommandLine cl = new CommandLine(new Main());
            cl.setErr(new PrintWriter(err, true));
            cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
                cmd.getErr().println("error: " + e.getMessage());
                return 1;
            });
            int code = cl.execute(args);
            return new CliRun(code, bytes.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(saved);
        }
    }
}
