package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library as a dependency: installs the packaged artifact (jar, pom, sources, javadoc) with
 * Maven's install plugin into a private local repository, builds the consumer project of
 * src/it/consumer against it offline, and runs its program (README's five-line example) on a
 * tiny model. The shared ~/.m2 is never written: the private repository is a farm of symbolic
 * links to ~/.m2's entries (third-party jars and plugins) with dev/xgblora/xgblora its own.
 */
class ConsumerIT {
    static final String VERSION = System.getProperty("xgblora.it.version", "0.1.0-SNAPSHOT");
    static final Path LIBRARY = Path.of(System.getProperty("xgblora.it.library", "target/xgblora-" + VERSION + ".jar"));
    static final Path M2 = Path.of(System.getProperty("xgblora.it.m2", System.getProperty("user.home") + "/.m2/repository"));
    static final Path MVN = Path.of(System.getProperty("xgblora.it.mvn", "mvn"));

    @Test
    void aMavenProjectBuildsAndRunsAgainstTheInstalledArtifact() throws Exception {
        assertTrue(Files.isRegularFile(LIBRARY), LIBRARY + " is made by mvn package");
        assumeTrue(Files.isDirectory(M2), "no local Maven repository at " + M2 + " to take third-party jars from: skipped");
        Path work = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "it-consumer");
        Path repo = work.resolve("it-repo");
        linkFarm(M2, repo, List.of("dev", "xgblora", "xgblora"));

        String base = LIBRARY.getFileName().toString().replace(".jar", "");
        Processes.Result install = Processes.run(work, mvn(repo, "org.apache.maven.plugins:maven-install-plugin:3.1.2:install-file",
                "-Dfile=" + LIBRARY.toAbsolutePath(), "-DpomFile=" + Path.of("pom.xml").toAbsolutePath(),
                "-Dsources=" + LIBRARY.resolveSibling(base + "-sources.jar").toAbsolutePath(),
                "-Djavadoc=" + LIBRARY.resolveSibling(base + "-javadoc.jar").toAbsolutePath()), 300);
        assertEquals(0, install.exit(), install.output());
        Path installed = repo.resolve("dev/xgblora/xgblora/" + VERSION);
        for (String suffix : List.of(".jar", ".pom", "-sources.jar", "-javadoc.jar")) {
            assertTrue(Files.isRegularFile(installed.resolve("xgblora-" + VERSION + suffix)), "installed " + suffix + " in " + installed);
        }
        assertTrue(!Files.isSymbolicLink(repo.resolve("dev")) && !Files.isSymbolicLink(repo.resolve("dev/xgblora")), "install stays out of ~/.m2");

        Path project = work.resolve("consumer");
        copyTree(Path.of("src/it/consumer"), project);
        Path cpFile = project.resolve("classpath.txt");
        Processes.Result build = Processes.run(project, mvn(repo, "-Dxgblora.version=" + VERSION, "compile", "dependency:build-classpath",
                "-Dmdep.outputFile=" + cpFile), 300);
        assertEquals(0, build.exit(), build.output());
        String cp = Files.readString(cpFile).strip();
        assertTrue(cp.contains(installed.resolve("xgblora-" + VERSION + ".jar").toString()), "the consumer uses the installed artifact: " + cp);

        Path model = TinyModelDir.create(work.resolve("tiny"));
        Path data = TinyModelDir.sentiment(work.resolve("toy.tsv"), 32, 3);
        Processes.Result run = Processes.run(project, List.of(DistributionIT.JAVA, "-Xmx512m", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", project.resolve("target/classes") + File.pathSeparator + cp, "demo.Main",
                model.toString(), data.toString(), data.toString(), work.resolve("run").toString(), "4"));
        assertEquals(0, run.exit(), run.output());
        assertTrue(run.output().contains("accuracy ") && run.output().contains("merged model in " + work.resolve("run")), run.output());
        assertTrue(Files.isRegularFile(work.resolve("run/run.jsonl")), "the job wrote its log");
    }

    private static List<String> mvn(Path repo, String... args) {
        // not offline: a fresh machine's ~/.m2 may lack the install plugin (mvn verify never installs)
        List<String> cmd = new ArrayList<>(List.of(MVN.toString(), "-B", "-q", "-ntp", "-Dmaven.repo.local=" + repo));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * {@code farm} gets a symbolic link to every entry of {@code m2}, except along {@code own}: those
     * directories are real (their other entries linked) and the last one is empty, for the install.
     */
    static void linkFarm(Path m2, Path farm, List<String> own) throws IOException {
        Path src = m2, dst = farm;
        for (int i = 0; i <= own.size(); i++) {
            Files.createDirectories(dst);
            if (i == own.size()) break;
            String keep = own.get(i);
            if (Files.isDirectory(src)) {
                try (Stream<Path> s = Files.list(src)) {
                    for (Path p : s.toList()) {
                        if (!p.getFileName().toString().equals(keep)) Files.createSymbolicLink(dst.resolve(p.getFileName().toString()), p);
                    }
                }
            }
            src = src.resolve(keep);
            dst = dst.resolve(keep);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }
}
