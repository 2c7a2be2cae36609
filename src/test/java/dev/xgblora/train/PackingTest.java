package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.LlamaDecoder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --pack on the data side: which rows, which targets, every token once per epoch, same numbers as unpacked, resume. */
class PackingTest {
    private static final String[] WORDS = {"to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler"};

    @TempDir
    Path dir;

    private static String words(Random r, int n) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) s.append(WORDS[r.nextInt(WORDS.length)]).append(' ');
        return s.toString().trim();
    }

    /** sft pairs of 1..6 prompt words and 1..4 completion words; one too long for a row of 16. */
    static Dataset sft(int n) {
        Random r = new Random(7);
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < n; i++) ex.add(Example.sft(words(r, 1 + r.nextInt(6)), words(r, 1 + r.nextInt(4)), i + 1));
        ex.add(Example.sft(words(r, 12), words(r, 8), n + 1));
        return new Dataset(Path.of("s.jsonl"), Task.SFT, ex, new LabelMap(), 0);
    }

    /** lm documents of 1..9 words, and two longer than a row of 16 (cut into pieces). */
    static Dataset lm(int n) {
        Random r = new Random(8);
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < n; i++) ex.add(Example.text(words(r, 1 + r.nextInt(9)), i + 1));
        ex.add(Example.text(words(r, 40), n + 1));
        ex.add(Example.text(words(r, 31), n + 2));
        return new Dataset(Path.of("t.jsonl"), Task.LM, ex, new LabelMap(), 0);
    }

    /** What each document should be, written out here: sft BOS+prompt+completion+EOS cut at 16; lm text+EOS in pieces of 16. */
    private static List<String> expectedDocuments(Dataset d, FakeEncoder enc, int maxLength) {
        List<String> out = new ArrayList<>();
        for (List<Integer> doc : documents(d, enc, maxLength)) out.add(doc.toString());
        out.sort(null);
        return out;
    }

    private static List<List<Integer>> documents(Dataset d, FakeEncoder enc, int maxLength) {
        List<List<Integer>> out = new ArrayList<>();
        for (Example e : d.examples()) {
            List<Integer> t = new ArrayList<>();
            if (d.task() == Task.SFT) t.add(1);
            for (int id : enc.encode(e.text())) t.add(id);
            if (d.task() == Task.SFT) for (int id : enc.encode(e.target())) t.add(id);
            t.add(2);
            if (d.task() == Task.SFT) {
                out.add(t.subList(0, Math.min(maxLength, t.size())));
            } else {
                for (int s = 0; s < t.size(); s += maxLength) out.add(t.subList(s, Math.min(t.size(), s + maxLength)));
            }
        }
        return out;
    }

    /** The documents a batch holds, read back from its segment ids (checking padding comes only at a row's end). */
    private static List<String> documentsOf(Batch b) {
        List<String> out = new ArrayList<>();
        int t = b.tokens().seqLen();
        for (int r = 0; r < b.size(); r++) {
            List<Integer> cur = new ArrayList<>();
            int seg = 0;
            boolean padding = false;
            for (int c = 0; c < t; c++) {
                int i = r * t + c;
                if (b.tokens().mask()[i] == 0) {
                    padding = true;
                    continue;
                }
                assertFalse(padding, "a real token after padding in row " + r);
                if (b.segments()[i] != seg) {
                    assertEquals(seg + 1, b.segments()[i], "segment ids count up by one");
                    out.add(cur.toString());
                    cur = new ArrayList<>();
                    seg = b.segments()[i];
                }
                cur.add(b.tokens().ids()[i]);
            }
            out.add(cur.toString());
        }
        return out;
    }

    @Test
    void packingIsDeterministicPerSeedAndAnEpochHoldsEveryTokenExactlyOnce() {
        FakeEncoder enc = new FakeEncoder(64);
        for (Dataset d : List.of(sft(40), lm(40))) {
            TaskData a = TaskData.packed(d, enc, 16, 3), again = TaskData.packed(d, enc, 16, 3), other = TaskData.packed(d, enc, 16, 4);
            int[] all = new int[a.units()];
            Arrays.setAll(all, i -> i);
            assertArrayEquals(a.batch(all).tokens().ids(), again.batch(all).tokens().ids(), d.task() + ": same seed, same rows");
            assertArrayEquals(a.batch(all).segments(), again.batch(all).segments());
            assertFalse(Arrays.equals(a.batch(all).tokens().ids(), other.batch(all).tokens().ids()), d.task() + ": another seed, other rows");
            int tokens = 0;
            for (String doc : expectedDocuments(d, enc, 16)) tokens += doc.split(",").length;
            assertTrue(a.units() < d.size(), d.task() + ": " + d.size() + " documents in " + a.units() + " rows");
            assertTrue(a.units() <= (tokens + 15) / 16 + 3, d.task() + ": " + tokens + " tokens in " + a.units() + " rows of 16");

            DataOrder order = new DataOrder(a.units(), 4, 9, null);
            for (int epoch = 0; epoch < 2; epoch++) {
                List<String> seen = new ArrayList<>();
                for (int s = 0; s < order.batchesPerEpoch(); s++) {
                    Batch b = a.batch(order.next());
                    assertTrue(b.tokens().seqLen() <= 16);
                    seen.addAll(documentsOf(b));
                }
                seen.sort(null);
                assertEquals(expectedDocuments(d, enc, 16), seen, d.task() + " epoch " + epoch + ": every document once, whole");
            }
        }
    }

    @Test
    void packedTargetsStayInsideEachDocumentAndSkipItsPrompt() {
        FakeEncoder enc = new FakeEncoder(64);
        Dataset d = sft(12);
        TaskData packed = TaskData.packed(d, enc, 16, 1), plain = new TaskData(d, enc, 16);
        int[] rows = new int[packed.units()], examples = new int[d.size()];
        Arrays.setAll(rows, i -> i);
        Arrays.setAll(examples, i -> i);
        assertEquals(plain.lossWeight(examples), packed.lossWeight(rows), "the same counted completion tokens");
        Batch b = packed.batch(rows);
        int t = b.tokens().seqLen(), counted = 0;
        for (int i = 0; i < b.labels().length; i++) {
            if (b.labels()[i] == Batch.IGNORE) continue;
            counted++;
            boolean lastOfRow = (i + 1) % t == 0;
            assertFalse(lastOfRow, "a row's last position predicts nothing");
            assertEquals(b.segments()[i], b.segments()[i + 1], "position " + i + " predicts a token of another document");
            assertEquals(b.tokens().ids()[i + 1], b.labels()[i]);
        }
        assertEquals(plain.lossWeight(examples), counted);
    }

    @Test
    void aPackedBatchScoresItsDocumentsAsSeparateRowsDo() throws Exception {
        FakeEncoder enc = new FakeEncoder(64);
        try (LlamaDecoder dec = DecoderTaskTest.decoder()) {
            DecoderLm model = new DecoderLm(dec);
            for (Dataset d : List.of(sft(10), lm(10))) {
                EvalResult packed = Evaluation.evaluate(model, TaskData.packed(d, enc, 16, 2), 3);
                // sft unpacked is one example per row; lm unpacked is the concatenated stream, so its
                // reference is each piece as its own row with every next token counted
                double lossSum;
                long count;
                if (d.task() == Task.SFT) {
                    EvalResult plain = Evaluation.evaluate(model, new TaskData(d, enc, 16), 4);
                    lossSum = plain.loss() * plain.count();
                    count = plain.count();
                } else {
                    TaskModel.Prediction p = model.predict(separateRows(documents(d, enc, 16)));
                    lossSum = p.lossSum();
                    count = p.count();
                }
                assertEquals(count, packed.count(), d.task() + ": counted tokens");
                assertEquals(lossSum / count, packed.loss(), 1e-5 * packed.loss(), d.task() + ": mean loss");
            }
        }
    }

    /** Each document in a row of its own, right-padded, every next token inside it a target. */
    private static Batch separateRows(List<List<Integer>> docs) {
        int t = 0;
        for (List<Integer> doc : docs) t = Math.max(t, doc.size());
        int n = docs.size() * t;
        int[] ids = new int[n], mask = new int[n], labels = new int[n];
        Arrays.fill(labels, Batch.IGNORE);
        for (int r = 0; r < docs.size(); r++) {
            List<Integer> doc = docs.get(r);
            for (int c = 0; c < doc.size(); c++) {
                ids[r * t + c] = doc.get(c);
                mask[r * t + c] = 1;
                if (c + 1 < doc.size()) labels[r * t + c] = doc.get(c + 1);
            }
        }
        return new Batch(new EncodedBatch(ids, mask, null, docs.size(), t), labels);
    }

    @Test
    void packIsForLmAndSft() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> TaskData.packed(TinyModels.sentiment(8, 1), new FakeEncoder(64), 16, 0));
        assertTrue(e.getMessage().contains("--pack") && e.getMessage().contains("classify") && e.getMessage().contains("lm or sft"), e.getMessage());
    }

    private Trainer packedSft(Path ckpt, int every, boolean recompute) throws Exception {
        LlamaDecoder dec = DecoderTaskTest.decoder();
        dec.setRecompute(recompute);
        TrainConfig c = new TrainConfig().steps(10).batchSize(2).maxLength(16).lr(1e-2).warmupSteps(0).seed(5).logEvery(0)
                .pack(true).checkpointDir(ckpt).checkpointEvery(every);
        return new Trainer(new DecoderLm(dec), TaskData.packed(sft(30), new FakeEncoder(64), 16, c.seed), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(3).layersPerRound(1).dropout(0.1f), c, new ReferenceKernels());
    }

    @Test
    void aResumedPackedRunWithRecomputeReachesTheLossesOfAnUninterruptedOne() throws Exception {
        Trainer full = packedSft(null, 0, false);
        full.run();
        Path ckpt = dir.resolve("ckpt");
        packedSft(ckpt, 4, true).run(6);
        assertEquals("checkpoint-4", Checkpoint.latest(ckpt).getFileName().toString());
        Trainer resumed = packedSft(ckpt, 4, true);
        Checkpoint.restore(resumed, ckpt);
        assertEquals(4, resumed.step());
        resumed.run();
        assertEquals(full.losses(), resumed.losses(), "identical loss curve, steps 0..9, the resumed half with --recompute");
        assertTrue(full.losses().stream().allMatch(Double::isFinite));
    }
}
