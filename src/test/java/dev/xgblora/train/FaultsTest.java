package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.FaultInjection;
import dev.xgblora.io.Fuzz;
import dev.xgblora.io.OutputLock;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults in the library: a full disk (an injected ENOSPC) while a checkpoint or an export is
 * written keeps the previous one intact and stops with a message naming the file; damaged
 * checkpoint files are refused naming the file and the key or tensor; one run per output
 * directory; a stop request ends the loop at a step boundary with a checkpoint.
 */
class FaultsTest {
    @TempDir
    Path dir;

    @AfterEach
    void clearFaults() {
        FaultInjection.plant(null);
    }

    private static Trainer trainer(Path ckpt, int every) {
        Dataset d = TinyModels.sentiment(48, 1);
        TrainConfig c = TrainerTest.cfg(12).batchSize(8).checkpointDir(ckpt).checkpointEvery(every);
        return new Trainer(TinyModels.classifier(11), TinyModels.data(d), null, BoostConfig.of(Preset.XGBLORA).stepsPerRound(4).layersPerRound(1),
                c, new ReferenceKernels());
    }

    private static List<String> temporaries(Path d) throws Exception {
        try (var s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }

    @Test
    void fullDiskDuringACheckpointKeepsThePreviousOneAndStops() throws Exception {
        Path ckpt = dir.resolve("ckpt");
        FaultInjection.plant("enospc@rename:state.safetensors#2");
        Trainer t = trainer(ckpt, 3);
        var e = assertThrows(UncheckedIOException.class, t::run);
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("state.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("checkpoint-3, is intact"), e.getMessage());
        assertEquals(6, t.step(), "stopped at the failed checkpoint, not after");
        assertEquals("checkpoint-3", Checkpoint.latest(ckpt).getFileName().toString());
        assertEquals(List.of(), temporaries(ckpt), "no half-written checkpoint left");
        FaultInjection.plant(null);
        Trainer resumed = trainer(ckpt, 3);
        Checkpoint.restore(resumed, ckpt);
        assertEquals(3, resumed.step());
    }

    @Test
    void fullDiskDuringAnExportLeavesNoOutput() throws Exception {
        Trainer t = trainer(null, 0);
        t.run();
        Path merged = dir.resolve("merged");
        Path base = dir.resolve("base");
        Files.createDirectories(base);
        Files.writeString(base.resolve("config.json"), "{\"model_type\": \"bert\"}");
        FaultInjection.plant("enospc@write:model.safetensors");
        var e = assertThrows(UncheckedIOException.class,
                () -> ModelExport.writeMerged(t.model(), merged, base, t.sourceDtypes(), null, null));
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("model.safetensors"), e.getMessage());
        assertFalse(Files.exists(merged));
        assertEquals(List.of(), temporaries(dir));
        FaultInjection.plant("enospc@rename:adapter");
        assertThrows(UncheckedIOException.class, () -> ModelExport.writeAdapter(t.model(), t.scheduler().boosters(), dir.resolve("adapter"), base));
        assertFalse(Files.exists(dir.resolve("adapter")));
        assertEquals(List.of(), temporaries(dir));
    }

    /** A checkpoint after 6 steps (mid-round: rounds are 4 steps). */
    private Path checkpoint() {
        Path ckpt = dir.resolve("ckpt");
        trainer(ckpt, 6).run(7);
        return Checkpoint.latest(ckpt);
    }

    @Test
    void aMissingOrMistypedKeyOfStateJsonIsNamed() throws Exception {
        Path cp = checkpoint();
        Path meta = cp.resolve(Checkpoint.META);
        String good = Files.readString(meta);
        for (String[] edit : new String[][] {{"\"round_loss_sum\"", "\"renamed\"", "'round_loss_sum' is missing"},
                {"\"round_open\" : true", "\"round_open\" : 1", "'round_open' is not true or false"},
                {"\"module\" : \"", "\"module\" : \"x", "'boosters[0].module' names 'x"},
                {"\"step\" : 6", "\"step\" : \"6\"", "'step' is not a number"}}) {
            assertTrue(good.contains(edit[0]), edit[0] + " in " + good);
            Files.writeString(meta, good.replaceFirst(java.util.regex.Pattern.quote(edit[0]), edit[1]));
            var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.restore(trainer(null, 0), cp));
            assertTrue(e.getMessage().contains(meta.toString()) && e.getMessage().contains(edit[2]), e.getMessage());
        }
        Files.writeString(meta, good);
        Trainer t = trainer(null, 0);
        Checkpoint.restore(t, cp);
        assertEquals(6, t.step());
    }

    @Test
    void aTensorOfTheWrongShapeOrDtypeIsNamed() throws Exception {
        Path cp = checkpoint();
        Path state = cp.resolve(Checkpoint.STATE);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (WeightStore st = WeightStore.open(state)) {
            for (String n : st.names()) tensors.put(n, st.tensor(n).copy());
        }
        String name = tensors.keySet().stream().filter(n -> n.startsWith("m/") && tensors.get(n).shape().length == 2).findFirst().orElseThrow();
        Tensor right = tensors.get(name);
        tensors.put(name, Tensor.zeros(right.numel()));
        SafeTensorsWriter.write(state, tensors, Map.of());
        var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.restore(trainer(null, 0), cp));
        assertTrue(e.getMessage().contains(state.toString()) && e.getMessage().contains("'" + name + "'") && e.getMessage().contains("expected F32"),
                e.getMessage());
        tensors.remove(name);
        SafeTensorsWriter.write(state, tensors, Map.of());
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.restore(trainer(null, 0), cp));
        assertTrue(e.getMessage().contains("lacks tensor '" + name + "'"), e.getMessage());
    }

    /** Mutated state.json and state.safetensors: restored, or refused naming the file; never another exception or a hang. */
    @Test
    void checkpointFilesUnderMutation() throws Exception {
        Path cp = checkpoint();
        int n = Integer.getInteger("xgblora.fuzz.inputs", 300) / 3;
        for (String f : List.of(Checkpoint.META, Checkpoint.STATE)) {
            byte[] good = Files.readAllBytes(cp.resolve(f));
            Fuzz.run("checkpoint-" + f, good, n, 7, cp, f, file -> Checkpoint.restore(trainer(null, 0), cp), IllegalArgumentException.class);
            Files.write(cp.resolve(f), good);
        }
    }

    @Test
    void oneRunPerOutputDirectory() throws Exception {
        Path out = dir.resolve("out");
        try (OutputLock held = OutputLock.acquire(out)) {
            try (OutputLock again = OutputLock.acquire(out)) {
                assertNotNull(again, "re-entrant on the holding thread");
            }
            var e = assertThrows(Exception.class, () -> CompletableFuture.runAsync(() -> OutputLock.acquire(out).close()).join());
            assertTrue(e.getCause().getMessage().contains("in use by another run in this process (pid " + ProcessHandle.current().pid()),
                    e.getCause().getMessage());
        }
        // released: another thread may take it; a lock file left behind by a dead process does not block
        Files.writeString(out.resolve(OutputLock.FILE), "999999999\n");
        CompletableFuture.runAsync(() -> OutputLock.acquire(out).close()).join();
        assertEquals(ProcessHandle.current().pid() + "", Files.readString(out.resolve(OutputLock.FILE)).strip());
    }

    @Test
    void aStopRequestEndsTheLoopAtAStepBoundaryWithACheckpoint() {
        Path ckpt = dir.resolve("ckpt");
        Trainer t = trainer(ckpt, 0);
        StopRequest stop = new StopRequest();
        t.cfg.stop(stop);
        t.listener(new ProgressListener() {
            @Override
            public void onStep(StepInfo s) {
                if (s.step() == 5) stop.request();
            }
        });
        var e = assertThrows(TrainingStoppedException.class, t::run);
        assertEquals(5, e.step());
        assertEquals(ckpt.resolve("checkpoint-5"), e.checkpoint());
        Trainer full = trainer(null, 0);
        full.run();
        Trainer resumed = trainer(ckpt, 0);
        Checkpoint.restore(resumed, ckpt);
        resumed.run();
        assertEquals(full.losses(), resumed.losses());
    }
}
