package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.train.DataOptions;
import dev.xgblora.train.Dataset;
import dev.xgblora.train.DatasetReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoDataTest {
    @TempDir
    Path dir;

    /** The corpus' shape: BOM, no header, quoted fields, doubled quotes, text ending in a newline inside the quotes. */
    private Path corpus(int n) throws IOException {
        StringBuilder sb = new StringBuilder("\uFEFF");
        for (int i = 0; i < n; i++) {
            sb.append(i % 2 == 0 ? "\"1\"" : "\"-1\"").append(",\"sentence ").append(i).append(" with \"\" quotes \"\" and a\ttab . \n\"\n");
        }
        Path csv = dir.resolve("polarity.csv");
        Files.writeString(csv, sb.toString(), StandardCharsets.UTF_8);
        return csv;
    }

    @Test
    void parsesQuotedMultiLineRowsAndMapsLabels() throws Exception {
        List<DemoData.Row> rows = DemoData.parsePolarityCsv(corpus(4));
        assertEquals(4, rows.size());
        assertEquals(1, rows.get(0).label());
        assertEquals(0, rows.get(1).label(), "-1 is the negative class, id 0 as in SST-2");
        assertEquals("sentence 0 with \" quotes \" and a tab .", rows.get(0).text());
    }

    @Test
    void badRowsNameFileAndLine() throws Exception {
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, "\"1\",\"fine\"\n\"2\",\"what\"\n");
        IOException e = assertThrows(IOException.class, () -> DemoData.parsePolarityCsv(csv));
        assertTrue(e.getMessage().contains("bad.csv:2") && e.getMessage().contains("1 or -1"), e.getMessage());
        Files.writeString(csv, "\"1\",\"open");
        assertThrows(IOException.class, () -> DemoData.parsePolarityCsv(csv));
    }

    @Test
    void seededNinetyTenSplitThatTheTrainingReaderAccepts() throws Exception {
        Path out = dir.resolve("rt");
        DemoData.writeSplit(corpus(50), out);
        Dataset train = DatasetReader.read(out.resolve("train.tsv"), DataOptions.classify());
        Dataset dev = DatasetReader.read(out.resolve("dev.tsv"), DataOptions.classify());
        assertEquals(45, train.size());
        assertEquals(5, dev.size());
        assertEquals(2, train.labels().numClasses());
        String first = Files.readString(out.resolve("dev.tsv"));
        Path again = dir.resolve("rt2");
        DemoData.writeSplit(corpus(50), again);
        assertEquals(first, Files.readString(again.resolve("dev.tsv")), "same seed, same split");
    }

    @Test
    void findsSst2InThePropertyThenEnvThenBesideTheProject() throws Exception {
        Path a = dir.resolve("a"), b = dir.resolve("b");
        for (Path p : List.of(a, b)) {
            Files.createDirectories(p.resolve("sst2"));
            Files.writeString(p.resolve("sst2/train.tsv"), "label\tsentence\n1\tx\n");
            Files.writeString(p.resolve("sst2/dev.tsv"), "label\tsentence\n1\tx\n");
        }
        Path work = dir.resolve("w/project");
        assertEquals(a.resolve("sst2/train.tsv"),
                DemoData.findSst2(DemoData.candidates(a.toString(), Map.of("XGBLORA_DATA", b.toString()), null, work)).train());
        assertEquals(b.resolve("sst2/dev.tsv"), DemoData.findSst2(DemoData.candidates(null, Map.of("XGBLORA_DATA", b.toString()), null, work)).dev());
        assertNull(DemoData.findSst2(DemoData.candidates(null, Map.of(), null, work)));
        Path shared = dir.resolve("w/shared/data/sst2");
        Files.createDirectories(shared);
        Files.copy(a.resolve("sst2/train.tsv"), shared.resolve("train.tsv"));
        Files.copy(a.resolve("sst2/dev.tsv"), shared.resolve("dev.tsv"));
        assertEquals(shared.resolve("train.tsv"), DemoData.findSst2(DemoData.candidates("", Map.of(), null, work)).train());
    }

    @Test
    void withNoDataDirectoryTheDefaultJobUsesTheShippedSst2() throws Exception {
        List<String> log = new java.util.ArrayList<>();
        Path home = dir.resolve("home");
        DemoData.Files2 d = DemoData.resolve(List.of(dir.resolve("nowhere")), home, log::add);
        assertTrue(d.name().startsWith("SST-2 (shipped copy"), d.name());
        assertEquals(home.resolve("data/sst2/train.tsv"), d.train());
        assertEquals(67_350, Files.readAllLines(d.train()).size(), "header + 67,349 SST-2 training rows");
        assertEquals(873, Files.readAllLines(d.dev()).size(), "header + 872 SST-2 validation rows");
        assertTrue(log.getFirst().contains("extracting the shipped SST-2"), log.toString());
        // extracted once: the second job reads the same files without a word
        log.clear();
        assertEquals(d, DemoData.resolve(List.of(dir.resolve("nowhere")), home, log::add));
        assertTrue(log.isEmpty(), log.toString());
        // a data directory that has SST-2 still comes first
        Path shared = Path.of(System.getProperty("xgblora.data", "../shared/data"));
        if (Files.isRegularFile(shared.resolve("sst2/train.tsv"))) {
            assertEquals(shared.resolve("sst2/train.tsv"), DemoData.resolve(List.of(shared), home, log::add).train());
            assertEquals(Files.mismatch(shared.resolve("sst2/train.tsv"), d.train()), -1L, "shipped train.tsv is ../shared's byte for byte");
            assertEquals(Files.mismatch(shared.resolve("sst2/dev.tsv"), d.dev()), -1L, "shipped dev.tsv is ../shared's byte for byte");
        }
    }
}
