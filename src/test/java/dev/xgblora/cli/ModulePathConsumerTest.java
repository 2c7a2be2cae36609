package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uses the library the way a modular application does: compiles a small module that
 * {@code requires dev.xgblora}, puts it, target/classes and the runtime dependencies on the module
 * path, and runs a fine-tuning job through the public API (FineTuneBuilder, progress callbacks).
 */
class ModulePathConsumerTest {
    @TempDir
    Path dir;

    private static final String MODULE_INFO = "module demo.app { requires dev.xgblora; }\n";
    private static final String MAIN = """
            package demo.app;

            import dev.xgblora.adapt.Preset;
            import dev.xgblora.train.FineTuneBuilder;
            import dev.xgblora.train.ProgressListener;
            import java.nio.file.Path;
            import java.util.concurrent.atomic.AtomicInteger;

            public final class Main {
                public static void main(String[] args) {
                    AtomicInteger steps = new AtomicInteger();
                    FineTuneBuilder.Outcome out = FineTuneBuilder.model(Path.of(args[0]))
                            .trainFile(Path.of(args[1])).validFile(Path.of(args[1]))
                            .method(Preset.XGBLORA, b -> b.stepsPerRound(2).layersPerRound(1))
                            .settings(c -> c.steps(4).batchSize(8).logEvery(1))
                            .output(Path.of(args[2]))
                            .progress(new ProgressListener() {
                                @Override
                                public void onStep(StepInfo s) {
                                    steps.incrementAndGet();
                                }
                            })
                            .run();
                    System.out.println("module=" + Main.class.getModule().getName() + " library=" + FineTuneBuilder.class.getModule().getName()
                            + " callbacks=" + steps.get() + " steps=" + out.steps() + " accuracy=" + out.after().accuracy()
                            + " merged=" + (out.merged() != null) + " adapter=" + (out.adapter() != null));
                }
            }
            """;

    @Test
    void anApplicationModuleRunsAJobThroughTheModuleDescriptor() throws Exception {
        Path cpFile = Path.of("target/runtime-classpath.txt");
        assumeTrue(Files.isRegularFile(cpFile), "target/runtime-classpath.txt is written by the Maven build (generate-test-resources); skipped");
        Path classes = Path.of("target/classes");
        assumeTrue(Files.isRegularFile(classes.resolve("module-info.class")), "target/classes/module-info.class missing; skipped");
        String modulePath = classes.toAbsolutePath() + File.pathSeparator + Files.readString(cpFile).strip();

        Path src = dir.resolve("src/demo.app");
        Files.createDirectories(src.resolve("demo/app"));
        Files.writeString(src.resolve("module-info.java"), MODULE_INFO);
        Files.writeString(src.resolve("demo/app/Main.java"), MAIN);
        Path out = dir.resolve("mods/demo.app");
        // javac as a process: the test classes are patched into dev.xgblora, which does not read java.compiler
        Path javac = Path.of(System.getProperty("java.home"), "bin", "javac");
        assumeTrue(Files.isExecutable(javac), "no javac next to the running java (a JRE); skipped");
        Process c = new ProcessBuilder(javac.toString(), "-d", out.toString(), "--module-path", modulePath,
                src.resolve("module-info.java").toString(), src.resolve("demo/app/Main.java").toString()).redirectErrorStream(true).start();
        String clog = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(c.waitFor(3, TimeUnit.MINUTES), "javac timed out");
        assertEquals(0, c.exitValue(), "the consumer module compiles against the exported packages:\n" + clog);

        Path model = TinyModelDir.create(dir.resolve("tiny"));
        Path data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 32, 3);
        String mp = out + File.pathSeparator + modulePath;
        // plain launch, and one that resolves every module on the path (catches unresolvable descriptors)
        for (List<String> extra : List.of(List.<String>of(), List.of("--add-modules", "ALL-MODULE-PATH"))) {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                    "--enable-native-access=ALL-UNNAMED,dev.xgblora", "--module-path", mp));
            cmd.addAll(extra);
            cmd.addAll(List.of("-m", "demo.app/demo.app.Main", model.toString(), data.toString(), dir.resolve("run" + extra.size()).toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), "consumer timed out");
            assertEquals(0, p.exitValue(), String.join(" ", extra) + "\n" + log);
            assertTrue(log.contains("module=demo.app library=dev.xgblora callbacks=4 steps=4"), log);
            assertTrue(log.contains("merged=true adapter=true"), log);
        }
    }
}
