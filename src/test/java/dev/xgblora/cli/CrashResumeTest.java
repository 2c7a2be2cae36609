package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.io.FaultInjection;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Real {@code xgblora train} processes on a tiny random BERT (200 steps, a checkpoint every 20),
 * SIGKILLed at seeded random moments (during a step, while a checkpoint is being written, while
 * {@code latest} is replaced, during each export), stopped once with SIGTERM, and resumed each time
 * with {@code --resume DIR} alone: the final step losses, evaluation, merged model and adapter are
 * byte-identical to those of an uninterrupted run. Along the way: a second run on the locked
 * directory is refused naming the holder's pid, a stale lock does not block, and resuming the
 * finished run says so and exits 0. Seed: {@code -Dxgblora.crashtest.seed}; kernels:
 * {@code -Dxgblora.crashtest.kernels} (see {@link TrainProcess#KERNELS}).
 */
class CrashResumeTest {
    private static final int STEPS = 200, EVERY = 20, TIMEOUT_S = 300; // the timeout only bounds a failure
    private static final Pattern RESUMED = Pattern.compile("at step (\\d+)");
    private static final Pattern STOPPED = Pattern.compile("stopped at step (\\d+) of " + STEPS);

    @TempDir
    static Path dir;
    static Path model, data;

    @BeforeAll
    static void setUp() throws Exception {
        model = TinyModelDir.create(dir.resolve("tiny"));
        data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 64, 7);
    }

    private static String[] trainArgs(Path out) {
        return new String[] {"train", "--model", model.toString(), "--train", data.toString(), "--valid", data.toString(),
                "--steps", String.valueOf(STEPS), "--kappa", "10", "--batch-size", "8", "--lr", "1e-2", "--head-lr", "1e-2",
                "--log-every", "1", "--checkpoint-every", String.valueOf(EVERY), "--no-baseline", "--json", "--output", out.toString()};
    }

    private static TrainProcess resume(Path out, String fault) throws Exception {
        List<String> props = fault == null ? List.of() : List.of("-D" + FaultInjection.PROPERTY + "=" + fault);
        return TrainProcess.start(dir, props, "train", "--resume", out.toString(), "--json");
    }

    /** Resumes with a fault that pauses the child at {@code point}, then SIGKILLs it there. */
    private static TrainProcess killAtFault(Path out, String fault) throws Exception {
        TrainProcess p = resume(out, "pause@" + fault);
        p.await(l -> l.startsWith(FaultInjection.PAUSED), "fault point " + fault, TIMEOUT_S);
        return p;
    }

    private static int resumedStep(TrainProcess p) throws InterruptedException {
        String line = p.await(l -> l.contains("resumed from") || l.contains("starting from step 0"), "resume message", TIMEOUT_S);
        Matcher m = RESUMED.matcher(line);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    @Test
    void killedAndResumedRunsEndByteIdenticalToAnUninterruptedOne() throws Exception {
        Path ref = dir.resolve("uninterrupted");
        try (TrainProcess p = TrainProcess.start(dir, List.of(), trainArgs(ref))) {
            assertEquals(0, p.waitFor(TIMEOUT_S), p.output());
        }
        Random rnd = new Random(Long.getLong("xgblora.crashtest.seed", 13));
        Path out = dir.resolve("crashed");
        List<String> story = new ArrayList<>();

        // 1. SIGKILL during a step, before or after the first checkpoint
        try (TrainProcess p = TrainProcess.start(dir, List.of(), trainArgs(out))) {
            int at = 5 + rnd.nextInt(30);
            p.awaitStep(at, TIMEOUT_S);
            Thread.sleep(rnd.nextInt(20));
            p.kill();
            assertNotEquals(0, p.process.exitValue());
            story.add("killed during step ~" + at);
        }

        // 2. SIGKILL while a checkpoint's state.safetensors is written; meanwhile a second run on the directory is refused
        try (TrainProcess p = killAtFault(out, "rename:state.safetensors#" + (1 + rnd.nextInt(3)))) {
            StringWriter err = new StringWriter();
            int code = new CommandLine(new Main()).setErr(new PrintWriter(err)).execute("train", "--resume", out.toString());
            assertEquals(1, code);
            assertTrue(err.toString().contains("in use by another xgblora run (pid " + p.process.pid() + ")"), err.toString());
            p.kill();
            try (var s = Files.list(out.resolve("checkpoints"))) {
                assertTrue(s.anyMatch(f -> f.getFileName().toString().startsWith(".checkpoint-")), "killed mid-checkpoint: a temporary is left");
            }
            story.add("killed while writing a checkpoint; second run refused: " + err.toString().lines().findFirst().orElse(""));
        }

        // 3. SIGKILL while 'latest' is being replaced (the new checkpoint directory is complete, the pointer still old)
        try (TrainProcess p = killAtFault(out, "rename:latest#" + (1 + rnd.nextInt(2)))) {
            p.kill();
            story.add("killed while replacing latest");
        }

        // 4. SIGTERM during a step: a clean stop that writes a checkpoint at the step boundary first
        try (TrainProcess p = resume(out, null)) {
            int from = resumedStep(p);
            int at = from + 1 + rnd.nextInt(EVERY);
            p.awaitStep(at, TIMEOUT_S);
            p.process.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its output
            assertEquals(128 + 15, p.waitFor(TIMEOUT_S), p.output());
            Matcher m = STOPPED.matcher(p.output());
            assertTrue(m.find(), p.output());
            int stopped = Integer.parseInt(m.group(1));
            assertTrue(stopped >= at, "stopped at " + stopped + " after step " + at);
            assertEquals("checkpoint-" + stopped, Files.readString(out.resolve("checkpoints/latest")).strip());
            story.add("SIGTERM at step ~" + at + ", checkpoint written at " + stopped);
        }

        // 5. SIGKILL during the merged model's export, 6. during the adapter's (merged/ is complete then)
        try (TrainProcess p = killAtFault(out, "rename:model.safetensors")) {
            p.kill();
            assertFalse(Files.exists(out.resolve("merged")));
        }
        try (TrainProcess p = killAtFault(out, "rename:adapter")) {
            p.kill();
            assertTrue(Files.isRegularFile(out.resolve("merged/model.safetensors")));
            assertFalse(Files.exists(out.resolve("adapter")));
        }
        story.add("killed during both exports");

        // 7. resumed to the end (the lock file of killed runs does not block), 8. resuming the finished run
        try (TrainProcess p = resume(out, null)) {
            assertEquals(0, p.waitFor(TIMEOUT_S), p.output());
        }
        try (TrainProcess p = resume(out, null)) {
            assertEquals(0, p.waitFor(TIMEOUT_S), p.output());
            assertTrue(p.output().contains("is finished; nothing to resume"), p.output());
        }

        String what = String.join("; ", story);
        for (String f : List.of("merged/model.safetensors", "merged/config.json", "adapter/adapter_model.safetensors",
                "adapter/adapter_config.json")) {
            assertArrayEquals(Files.readAllBytes(ref.resolve(f)), Files.readAllBytes(out.resolve(f)), f + " after: " + what);
        }
        TreeMap<Integer, String> want = losses(ref, "step"), got = losses(out, "step");
        assertEquals(STEPS, want.size());
        assertEquals(want, got, "step losses after: " + what);
        assertEquals(losses(ref, "eval"), losses(out, "eval"), "final evaluation");
    }

    /** step → loss (as written, so bit-exact) of the run log's records of one type; a repeated step fails. */
    private static TreeMap<Integer, String> losses(Path run, String type) throws Exception {
        ObjectMapper json = new ObjectMapper();
        TreeMap<Integer, String> out = new TreeMap<>();
        for (String line : Files.readAllLines(run.resolve("run.jsonl"))) {
            JsonNode r = json.readTree(line);
            if (!type.equals(r.path("type").asText())) continue;
            assertNull(out.put(r.get("step").asInt(), r.get("loss").toString()), "step " + r.get("step") + " logged twice in " + run);
        }
        return out;
    }
}
