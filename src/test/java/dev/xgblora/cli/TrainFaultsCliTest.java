package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.io.FaultInjection;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code xgblora train} when the disk fills up: a clear error, exit status 1, the previous checkpoint kept and resumable. */
class TrainFaultsCliTest {
    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        FaultInjection.plant(null);
    }

    private static int run(StringWriter err, String... args) {
        return new CommandLine(new Main()).setErr(new PrintWriter(err, true))
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("error: " + e.getMessage());
                    return 1;
                }).execute(args);
    }

    @Test
    void aFullDiskDuringACheckpointStopsTheRunWithTheLastOneIntact() throws Exception {
        Path model = TinyModelDir.create(dir.resolve("tiny")), data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 32, 4);
        Path out = dir.resolve("run");
        FaultInjection.plant("enospc@rename:state.safetensors#2");
        StringWriter err = new StringWriter();
        int code = run(err, "train", "--model", model.toString(), "--train", data.toString(), "--steps", "12", "--kappa", "2",
                "--batch-size", "8", "--checkpoint-every", "4", "--no-baseline", "--quiet", "--output", out.toString());
        assertEquals(1, code, err.toString());
        assertTrue(err.toString().contains("checkpoint at step 8 not written") && err.toString().contains("No space left on device")
                && err.toString().contains("checkpoint-4, is intact"), err.toString());
        assertEquals("checkpoint-4", Files.readString(out.resolve("checkpoints/latest")).strip());
        assertFalse(Files.exists(out.resolve("merged")));
        FaultInjection.plant(null);
        StringWriter err2 = new StringWriter();
        assertEquals(0, run(err2, "train", "--resume", out.toString(), "--quiet"), err2.toString());
        assertTrue(Files.isRegularFile(out.resolve("merged/model.safetensors")));
    }

    @Test
    void resumingADirectoryThatHoldsNoRunSaysSo() {
        StringWriter err = new StringWriter();
        assertNotEquals(0, run(err, "train", "--resume", dir.resolve("nowhere").toString()));
        assertTrue(err.toString().contains("no train-config.json there (is it the output directory of an xgblora train run?)"), err.toString());
    }
}
