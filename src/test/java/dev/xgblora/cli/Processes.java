package dev.xgblora.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command to completion (stdout and stderr together) for the integration tests. */
final class Processes {
    record Result(int exit, String output) {
    }

    private Processes() {
    }

    static Result run(Path dir, List<String> cmd) throws Exception {
        return run(dir, cmd, 180);
    }

    static Result run(Path dir, List<String> cmd, long timeoutSeconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("XGBLORA_JAVA_OPTS");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " timed out after " + timeoutSeconds + " s:\n" + out);
        }
        return new Result(p.exitValue(), String.join(" ", cmd) + "\n" + out);
    }
}
