package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What {@code mvn package} made, run as a user runs it: the app image's {@code bin/xgblora} and
 * {@code java -jar xgblora.jar} from a directory with nothing beside the jar. Both must end up on
 * the vector kernels; a JVM without the vector module must say so loudly.
 */
class DistributionIT {
    static final Path IMAGE = Path.of(System.getProperty("xgblora.it.image", "target/xgblora-app"));
    static final Path JAR = Path.of(System.getProperty("xgblora.it.jar", "target/xgblora.jar"));
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void appImageRunsOnItsOwnRuntimeWithTheVectorKernels() throws Exception {
        Path launcher = IMAGE.resolve("bin/xgblora");
        assertTrue(Files.isExecutable(launcher), launcher + " is made by mvn package");
        assertTrue(Files.isExecutable(IMAGE.resolve("runtime/bin/java")), "the image carries its own runtime");
        Processes.Result r = Processes.run(IMAGE, List.of(launcher.toString(), "info"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("active backend:   vector"), r.output());
        assertTrue(r.output().contains(IMAGE.resolve("runtime").toAbsolutePath().normalize().toString()), "java.home is the image's runtime:\n" + r.output());

        // real work on the linked runtime: DJL's native tokenizer, memory-mapped safetensors, Jackson, the vector kernels
        Path dir = Files.createTempDirectory(IMAGE.toAbsolutePath().getParent(), "it-image-run");
        Path model = TinyModelDir.create(dir.resolve("tiny"));
        Files.writeString(dir.resolve("in.txt"), "a good film\na bad film\n");
        Processes.Result embed = Processes.run(dir, List.of(launcher.toAbsolutePath().toString(), "embed", "--model", model.toString(),
                "--input", dir.resolve("in.txt").toString(), "--output", dir.resolve("out.jsonl").toString()));
        assertEquals(0, embed.exit(), embed.output());
        List<String> lines = Files.readAllLines(dir.resolve("out.jsonl"));
        assertEquals(2, lines.size(), embed.output());
        assertTrue(lines.getFirst().contains("\"embedding\""), lines.getFirst());
        assertFalse(embed.output().contains("REFERENCE kernels"), embed.output());
    }

    @Test
    void runnableJarAloneRelaunchesItselfOntoTheVectorKernels() throws Exception {
        Path alone = lonelyJar();
        Processes.Result r = Processes.run(alone.getParent(), List.of(JAVA, "-Xmx256m", "-jar", alone.toString(), "info"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("active backend:   vector"), r.output());
        assertTrue(r.output().contains("relaunched itself"), r.output());
        // the exit status of the relaunched JVM comes back
        Processes.Result bad = Processes.run(alone.getParent(), List.of(JAVA, "-Xmx256m", "-jar", alone.toString(), "no-such-command"));
        assertEquals(2, bad.exit(), bad.output());
    }

    @Test
    void withoutTheVectorModuleARealRunWarnsLoudlyUnlessReferenceWasChosen() throws Exception {
        Path alone = lonelyJar();
        Path dir = alone.getParent();
        List<String> embed = embedOfTwoSentences(dir);

        Processes.Result info = Processes.run(dir, cmd(alone, "-Dxgblora.relaunch=false", List.of("info")));
        assertTrue(info.output().contains("active backend:   reference (SLOW fallback)"), info.output());
        assertTrue(info.output().contains("--add-modules jdk.incubator.vector"), info.output());

        Processes.Result fallback = Processes.run(dir, cmd(alone, "-Dxgblora.relaunch=false", embed));
        assertEquals(0, fallback.exit(), fallback.output());
        assertTrue(fallback.output().contains("WARNING: xgblora is running the REFERENCE kernels"), fallback.output());
        assertTrue(fallback.output().contains("fix: run through ./xgblora"), fallback.output());

        Processes.Result chosen = Processes.run(dir, cmd(alone, "-Dxgblora.kernels=reference", embed));
        assertEquals(0, chosen.exit(), chosen.output());
        assertFalse(chosen.output().contains("REFERENCE kernels"), chosen.output());
    }

    /** A CPU run never loads a device class (the OpenCL/CUDA bindings stay out of CPU-only deployments). */
    @Test
    void aCpuRunLoadsNoDeviceClass() throws Exception {
        Path alone = lonelyJar();
        Path dir = alone.getParent();
        List<String> c = new ArrayList<>(List.of(JAVA, "-Xmx256m", "-Xlog:class+load=info", "-Dxgblora.relaunch=false",
                "-Dxgblora.kernels=reference", "-jar", alone.toString()));
        c.addAll(embedOfTwoSentences(dir));
        c.addAll(List.of("--device", "cpu"));
        Processes.Result r = Processes.run(dir, c);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("dev.xgblora.kernels.ReferenceKernels"), "the class-load log is there:\n" + r.output());
        List<String> device = r.output().lines().filter(l -> l.contains("dev.xgblora.device.")).toList();
        assertTrue(device.isEmpty(), "device classes loaded by a CPU run: " + device);
    }

    /** An embed command over the tiny model and two sentences, both written into dir. */
    private static List<String> embedOfTwoSentences(Path dir) throws Exception {
        Path model = TinyModelDir.create(dir.resolve("tiny"));
        Files.writeString(dir.resolve("in.txt"), "a good film\na bad film\n");
        return List.of("embed", "--model", model.toString(), "--input", dir.resolve("in.txt").toString());
    }

    private static List<String> cmd(Path jar, String flag, List<String> args) {
        List<String> c = new ArrayList<>(List.of(JAVA, "-Xmx256m", flag, "-jar", jar.toString()));
        c.addAll(args);
        return c;
    }

    /** The runnable jar in a directory of its own (a hard link where possible), so no target/lib/ is beside it. */
    static Path lonelyJar() throws Exception {
        assertTrue(Files.isRegularFile(JAR), JAR + " is made by mvn package");
        Path dir = Files.createTempDirectory(JAR.toAbsolutePath().getParent(), "it-jar-alone");
        Path copy = dir.resolve("xgblora.jar");
        try {
            Files.createLink(copy, JAR.toAbsolutePath());
        } catch (Exception notSameFileSystem) {
            Files.copy(JAR, copy);
        }
        return copy;
    }
}
