package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataTest {
    @TempDir
    Path dir;

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    @Test
    void readsSst2WithNoOptions() {
        Path data = Path.of(System.getProperty("xgblora.data", "../shared/data"), "sst2");
        assumeTrue(Files.isRegularFile(data.resolve("dev.tsv")), "SST-2 not found under " + data + "; skipping");
        Dataset train = DatasetReader.read(data.resolve("train.tsv"), DataOptions.classify());
        assertEquals(67349, train.size());
        assertEquals(2, train.labels().numClasses());
        assertEquals("hide new secretions from the parental units", train.examples().get(0).text());
        assertFalse(train.examples().get(0).text().endsWith("\r"));
        Dataset dev = DatasetReader.read(data.resolve("dev.tsv"), DataOptions.classify().withLabels(train.labels().freeze()));
        assertEquals(872, dev.size());
        assertEquals("one long string of cliches .", dev.examples().get(0).text());
        assertEquals(0, dev.examples().get(0).label());
    }

    @Test
    void csvQuotingPairsAndStringLabels() throws IOException {
        Path f = write("d.csv", "premise,hypothesis,label\n\"a, b\",\"he said \"\"hi\"\"\",entail\n"
                + "\"two\nlines\",x,neutral\nc,d,entail\n");
        Dataset d = DatasetReader.read(f, DataOptions.classify().withColumns("premise", "hypothesis", null));
        assertEquals(3, d.size());
        assertEquals("a, b", d.examples().get(0).text());
        assertEquals("he said \"hi\"", d.examples().get(0).pair());
        assertEquals("two\nlines", d.examples().get(1).text());
        assertEquals(0, d.examples().get(0).label());
        assertEquals(1, d.examples().get(1).label());
        assertEquals(0, d.examples().get(2).label());
        assertEquals(5, d.examples().get(2).line(), "line numbers count the embedded newline");
        assertEquals(List.of("entail", "neutral"), d.labels().names());
    }

    @Test
    void malformedRowNamesFileAndLineUnlessSkipped() throws IOException {
        Path f = write("bad.tsv", "label\tsentence\n1\tgood\n0\n1\tfine\n\tno label\n");
        MalformedDataException e = assertThrows(MalformedDataException.class, () -> DatasetReader.read(f, DataOptions.classify()));
        assertTrue(e.getMessage().contains("bad.tsv:3"), e.getMessage());
        assertTrue(e.getMessage().contains("expected 2 fields"), e.getMessage());
        Dataset d = DatasetReader.read(f, DataOptions.classify().withSkipMalformed(true));
        assertEquals(2, d.size());
        assertEquals(2, d.skipped());
    }

    @Test
    void frozenLabelsRejectUnknown() throws IOException {
        Path f = write("v.jsonl", "{\"text\":\"a\",\"label\":\"pos\"}\n{\"sentence\":\"b\",\"label\":\"meh\"}\n");
        LabelMap m = new LabelMap();
        m.idOf("neg");
        m.idOf("pos");
        MalformedDataException e = assertThrows(MalformedDataException.class,
                () -> DatasetReader.read(f, DataOptions.classify().withLabels(m.freeze())));
        assertTrue(e.getMessage().contains("v.jsonl:2") && e.getMessage().contains("'meh'"), e.getMessage());
    }

    @Test
    void jsonlErrorsAndLabelMapRoundTrip() throws IOException {
        Path f = write("t.jsonl", "{\"text\":\"a\",\"label\":1}\n{oops\n{\"label\":0}\n{\"sentence\":\"b\",\"label\":0}\n");
        Dataset d = DatasetReader.read(f, DataOptions.classify().withSkipMalformed(true));
        assertEquals(2, d.size());
        assertEquals(2, d.skipped());
        assertEquals(1, d.examples().get(0).label());
        MalformedDataException e = assertThrows(MalformedDataException.class, () -> DatasetReader.read(f, DataOptions.classify()));
        assertTrue(e.getMessage().contains("t.jsonl:2") && e.getMessage().contains("invalid JSON"), e.getMessage());
        Path saved = dir.resolve("labels.json");
        d.labels().save(saved);
        assertEquals(d.labels().asMap(), LabelMap.load(saved).asMap());
    }

    @Test
    void orderIsSeededAndResumable() {
        DataOrder a = new DataOrder(103, 8, 7, null);
        List<int[]> first = new ArrayList<>();
        for (int i = 0; i < 30; i++) first.add(a.next());
        // every example exactly once per epoch
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 13; i++) for (int x : first.get(i)) assertTrue(seen.add(x));
        assertEquals(103, seen.size());
        assertFalse(Arrays.equals(first.get(0), first.get(13)), "new shuffle each epoch");
        DataOrder b = new DataOrder(103, 8, 7, null);
        for (int i = 0; i < 17; i++) b.next();
        DataOrder.Position p = b.position();
        DataOrder c = new DataOrder(103, 8, 7, null);
        c.seek(p);
        for (int i = 17; i < 30; i++) assertArrayEquals(first.get(i), c.next(), "batch " + i);
        assertFalse(Arrays.equals(first.get(0), new DataOrder(103, 8, 8, null).next()), "seed matters");
    }

    @Test
    void bucketingReducesPadding() {
        List<Example> ex = new ArrayList<>();
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 400; i++) ex.add(Example.classify("w ".repeat(1 + r.nextInt(40)), null, i % 2, i + 2));
        TaskData td = new TaskData(new Dataset(dir, Task.CLASSIFY, ex, new LabelMap(), 0), new FakeEncoder(50), 64);
        long[] padded = new long[2];
        for (int k = 0; k < 2; k++) {
            DataOrder o = new DataOrder(td.units(), 16, 3, k == 0 ? null : td.lengths());
            Set<Integer> seen = new HashSet<>();
            for (int i = 0; i < 25; i++) {
                int[] u = o.next();
                for (int x : u) assertTrue(seen.add(x));
                Batch b = td.batch(u);
                padded[k] += (long) b.tokens().batch() * b.tokens().seqLen() - b.tokens().realTokens();
            }
            assertEquals(400, seen.size());
        }
        assertTrue(padded[1] * 3 < padded[0], "bucketed padding " + padded[1] + " vs plain " + padded[0]);
    }

    @Test
    void sftLossOnlyOnCompletionTokens() {
        List<Example> ex = List.of(Example.sft("a b c", "d e", 1), Example.sft("x", "y", 2));
        TaskData td = new TaskData(new Dataset(dir, Task.SFT, ex, new LabelMap(), 0), new FakeEncoder(50), 32);
        Batch b = td.batch(new int[] {0, 1});
        int seq = b.tokens().seqLen();
        assertEquals(7, seq); // bos a b c d e eos
        FakeEncoder enc = new FakeEncoder(50);
        int[] d = enc.encode("d e");
        int[] row0 = Arrays.copyOfRange(b.labels(), 0, seq);
        assertArrayEquals(new int[] {-100, -100, -100, d[0], d[1], 2, -100}, row0);
        int[] row1 = Arrays.copyOfRange(b.labels(), seq, 2 * seq);
        assertArrayEquals(new int[] {-100, enc.encode("y")[0], 2, -100, -100, -100, -100}, row1);
        assertEquals(1, b.tokens().mask()[seq + 3]);
        assertEquals(0, b.tokens().mask()[seq + 4]);
    }

    @Test
    void lmPacksShiftedBlocks() throws IOException {
        Path f = write("t.txt", "one two three four five six seven eight nine ten eleven");
        Dataset d = DatasetReader.read(f, DataOptions.of(Task.LM));
        TaskData td = new TaskData(d, new FakeEncoder(1000), 4);
        assertEquals(2, td.units()); // 11 words + eos = 12 tokens -> (12-1)/4 blocks
        Batch b = td.batch(new int[] {1});
        int[] all = new FakeEncoder(1000).encode("one two three four five six seven eight nine ten eleven");
        assertArrayEquals(Arrays.copyOfRange(all, 4, 8), b.tokens().ids());
        assertArrayEquals(Arrays.copyOfRange(all, 5, 9), b.labels());
        assertThrows(IllegalArgumentException.class, () -> DatasetReader.read(f, DataOptions.classify()));
    }
}
