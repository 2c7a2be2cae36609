package dev.xgblora.io;

import static org.junit.jupiter.api.Assertions.*;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic replacement under a failing disk, and the cleanup of temporaries a killed write left. */
class AtomicFilesTest {
    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        FaultInjection.plant(null);
    }

    private List<String> names() throws Exception {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aFailedReplacementKeepsTheOldVersion() throws Exception {
        Path f = dir.resolve("state.json");
        AtomicFiles.writeString(f, "old");
        for (String point : List.of("write", "rename")) {
            FaultInjection.plant("enospc@" + point + ":state.json");
            var e = assertThrows(UncheckedIOException.class, () -> AtomicFiles.writeString(f, "new"));
            assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("the disk is full"), e.getMessage());
            assertEquals("old", Files.readString(f));
            assertEquals(List.of("state.json"), names(), "no temporary left");
        }
        FaultInjection.plant("enospc@rename:state.json#2");
        AtomicFiles.writeString(f, "first");
        assertThrows(UncheckedIOException.class, () -> AtomicFiles.writeString(f, "second"));
        assertEquals("first", Files.readString(f), "#N: only the N-th write fails");
    }

    @Test
    void temporariesOfKilledWritesAreRemovedAndNothingElse() throws Exception {
        for (String d : List.of(".merged.123456", ".git", ".foo.bar", "merged")) Files.createDirectories(dir.resolve(d));
        for (String f : List.of(".report.html.987.tmp", ".xgblora.lock", "run.jsonl")) Files.writeString(dir.resolve(f), "x");
        AtomicFiles.deleteTemporaries(dir);
        assertEquals(List.of(".foo.bar", ".git", ".xgblora.lock", "merged", "run.jsonl"), names());
    }
}
