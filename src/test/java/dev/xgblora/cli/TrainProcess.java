package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code xgblora train} (or another command) in a child JVM, launched as the tests can: the java
 * of this JVM, this JVM's class path, the Vector API module. Its stdout and stderr are collected
 * line by line, so a test can wait for a step, a message or a fault point, then kill it.
 */
final class TrainProcess implements AutoCloseable {
    /** The kernel backend of the children (see the crash test: vector once runs are bitwise deterministic across JVMs). */
    static final String KERNELS = System.getProperty("xgblora.crashtest.kernels", "vector");
    private static final Pattern STEP = Pattern.compile("\"type\":\"step\",\"step\":(\\d+)");

    final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private TrainProcess(Process p) {
        this.process = p;
        reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.add(line);
                        lines.notifyAll();
                    }
                }
            } catch (IOException ignored) {
                // the process was killed
            } finally {
                synchronized (lines) {
                    lines.notifyAll();
                }
            }
        }, "child-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code xgblora ARGS...} with the given system properties ("-Dk=v" strings) in {@code workDir}. */
    static TrainProcess start(Path workDir, List<String> props, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Dxgblora.kernels=" + KERNELS, "-Dxgblora.threads=1", "-Dxgblora.warmup.ms=0",
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(props);
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true);
        return new TrainProcess(pb.start());
    }

    /** Waits (at most {@code seconds}) for a line matching {@code p}; fails with the output so far if the process ends first. */
    String await(Predicate<String> p, String what, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        int seen = 0;
        synchronized (lines) {
            while (true) {
                for (; seen < lines.size(); seen++) if (p.test(lines.get(seen))) return lines.get(seen);
                long left = deadline - System.nanoTime();
                if (left <= 0) fail("no " + what + " within " + seconds + " s; output:\n" + output());
                if (!reader.isAlive() && seen == lines.size()) {
                    fail("process ended (" + process.waitFor() + ") before " + what + "; output:\n" + output());
                } else {
                    lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)))));
                }
            }
        }
    }

    /** Waits for the progress line of step {@code step} (JSON progress with --log-every 1). */
    void awaitStep(int step, int seconds) throws InterruptedException {
        await(l -> {
            Matcher m = STEP.matcher(l);
            return m.find() && Integer.parseInt(m.group(1)) >= step;
        }, "step " + step, seconds);
    }

    /** SIGKILL, and wait for the process to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "killed process did not end");
        reader.join(10_000);
    }

    /** Waits for the process to end by itself; returns its exit status. */
    int waitFor(int seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("process did not end within " + seconds + " s; output:\n" + output());
        }
        reader.join(10_000);
        return process.exitValue();
    }

    String output() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
