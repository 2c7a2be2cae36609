package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Same seed, data and thread count give the same bytes whatever the JIT did: one fresh JVM runs
 * C1 only with no warm-up (every Vector API op takes its Java fallback), the other warms the
 * kernels and runs C2 (intrinsics). Losses in run.jsonl, every checkpoint tensor file, the merged
 * model and the PEFT adapter must match byte for byte.
 */
class ReproducibleTrainingTest {
    @TempDir
    Path dir;

    @Test
    void interpretedAndCompiledKernelsTrainTheSameBytes() throws Exception {
        Path model = TinyModelDir.create(dir.resolve("tiny"));
        Path data = longSentences(dir.resolve("long.tsv"), 40, 11);
        Path fallback = dir.resolve("c1"), compiled = dir.resolve("c2");
        train(model, data, fallback, "-XX:TieredStopAtLevel=1", "-Dxgblora.warmup.ms=0");
        // Foreground compilation: the warm-up waits for C2 code, so the short run really runs the
        // intrinsics (in background mode it can end while recompilations are still queued, running
        // the same Java fallback as the C1 JVM, and the test could not fail).
        train(model, data, compiled, "-Dxgblora.warmup.ms=4000", "-XX:-BackgroundCompilation");

        List<Path> files = outputs(fallback);
        assertTrue(files.contains(Path.of("merged/model.safetensors")), files.toString());
        assertTrue(files.stream().anyMatch(f -> f.startsWith("adapter")), files.toString());
        assertTrue(files.stream().anyMatch(f -> f.startsWith("checkpoints")), files.toString());
        assertEquals(files, outputs(compiled), "both runs write the same files");
        List<String> differing = new ArrayList<>();
        for (Path f : files) {
            byte[] a = Files.readAllBytes(fallback.resolve(f)), b = Files.readAllBytes(compiled.resolve(f));
            long at = java.util.Arrays.mismatch(a, b);
            if (at >= 0) differing.add(f + " (first differing byte at " + at + " of " + a.length + ")");
        }
        List<String> a = losses(fallback), b = losses(compiled);
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            String la = i < a.size() ? a.get(i) : "(none)", lb = i < b.size() ? b.get(i) : "(none)";
            if (!la.equals(lb)) differing.add("run.jsonl line " + (i + 1) + ":\n  " + la + "\n  " + lb);
        }
        if (!differing.isEmpty()) fail("C1-fallback and C2 runs differ:\n" + String.join("\n", differing));
    }

    /** The files whose bytes must agree: tensors and adapter/model configs, not timed reports. */
    private static List<Path> outputs(Path run) throws Exception {
        try (Stream<Path> s = Files.walk(run)) {
            return s.filter(Files::isRegularFile).map(run::relativize)
                    .filter(p -> p.toString().endsWith(".safetensors") || p.startsWith("adapter"))
                    .sorted().toList();
        }
    }

    /** run.jsonl without its timing fields (tokens/s, ETA, wall time). */
    private static List<String> losses(Path run) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("run.jsonl"))) {
            JsonNode n = json.readTree(line);
            if (n instanceof ObjectNode o) {
                o.properties().removeIf(e -> e.getKey().contains("per_s") || e.getKey().startsWith("eta")
                        || e.getKey().contains("seconds") || e.getKey().endsWith("_s") || e.getKey().contains("time"));
            }
            out.add(n.toString());
        }
        assertTrue(out.stream().anyMatch(l -> l.contains("\"loss\"")), "run.jsonl logs losses: " + out);
        return out;
    }

    private static void train(Path model, Path data, Path out, String... jvmFlags) throws Exception {
        Path cpFile = Path.of("target/runtime-classpath.txt");
        assertTrue(Files.isRegularFile(cpFile), "target/runtime-classpath.txt is written by the Maven build (generate-test-resources)");
        String cp = Path.of("target/classes").toAbsolutePath() + File.pathSeparator + Files.readString(cpFile).strip();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Dxgblora.threads=2"));
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-cp", cp, "dev.xgblora.cli.Main", "train", "--model", model.toString(), "--train", data.toString(),
                "--valid", data.toString(), "--steps", "8", "--kappa", "2", "--batch-size", "8", "--max-length", "48",
                "--lr", "1e-2", "--head-lr", "1e-2", "--log-every", "1", "--checkpoint-every", "3", "--seed", "3", "--quiet",
                "--output", out.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "training timed out");
        assertEquals(0, p.exitValue(), String.join(" ", jvmFlags) + "\n" + log);
    }

    /**
     * Sentences of 14-30 words: attention rows, softmax and GELU then span several full vector
     * lengths, so the vector exp/erf/tanh paths run, not only their scalar tails.
     */
    private static Path longSentences(Path file, int n, long seed) throws Exception {
        Random r = new Random(seed);
        String[] pos = {"good", "great", "wonderful", "charming"}, neg = {"bad", "dull", "awful", "boring"};
        String[] neutral = {"the", "film", "a", "was", "plot", "actor", "it", "scene", "and", "story", "music", "of"};
        StringBuilder sb = new StringBuilder("label\tsentence\n");
        for (int i = 0; i < n; i++) {
            boolean positive = r.nextBoolean();
            StringBuilder s = new StringBuilder();
            for (int j = 0, m = 14 + r.nextInt(17); j < m; j++) s.append(neutral[r.nextInt(neutral.length)]).append(' ');
            s.append((positive ? pos : neg)[r.nextInt(4)]);
            sb.append(positive ? 1 : 0).append('\t').append(s).append('\n');
        }
        Files.writeString(file, sb.toString());
        return file;
    }
}
