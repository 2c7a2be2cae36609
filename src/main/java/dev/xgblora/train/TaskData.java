package dev.xgblora.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a {@link Dataset} into model-ready {@link Batch}es for its task: classify batches are
 * encoded with dynamic padding; sft rows are prompt + completion with loss on completion tokens
 * only; lm text is tokenized once and cut into blocks of maxLength tokens of the concatenated
 * stream. {@link #packed} instead packs whole sft/lm documents into rows ({@link SequencePacking})
 * whose attention, positions and targets stay inside each document.
 */
public final class TaskData {
    private final Dataset data;
    private final TextEncoder enc;
    private final int maxLength;
    private final int[] stream; // lm: the whole token stream
    private final int blocks;
    private final List<SequencePacking.Document> docs; // packed: every document, in file order
    private final List<int[]> rows; // packed: the document indices of each row

    public TaskData(Dataset data, TextEncoder enc, int maxLength) {
        this(data, enc, maxLength, false, 0);
    }

    /**
     * Packed sft/lm data ({@code --pack}): the rows are a function of the data, maxLength and seed.
     * sft documents longer than maxLength are truncated (as unpacked); lm documents (text + EOS)
     * are cut into pieces of maxLength tokens.
     */
    public static TaskData packed(Dataset data, TextEncoder enc, int maxLength, long seed) {
        requirePackable(data.task());
        return new TaskData(data, enc, maxLength, true, seed);
    }

    /** The error for {@code --pack} on a task it does not apply to. */
    public static void requirePackable(Task task) {
        if (task == Task.CLASSIFY) {
            throw new IllegalArgumentException("--pack packs the documents of task lm or sft (decoder models) into rows;"
                    + " task classify has one label per example: train it without --pack");
        }
    }

    private TaskData(Dataset data, TextEncoder enc, int maxLength, boolean pack, long seed) {
        if (maxLength < 2) throw new IllegalArgumentException("max length must be at least 2: " + maxLength);
        this.data = data;
        this.enc = enc;
        this.maxLength = maxLength;
        if (pack) {
            docs = documents();
            rows = SequencePacking.pack(docs, maxLength, seed);
            if (rows.isEmpty()) throw new IllegalArgumentException(data.source() + ": no tokens to train on");
            stream = null;
            blocks = 0;
            return;
        }
        docs = null;
        rows = null;
        if (data.task() == Task.LM) {
            List<int[]> parts = new ArrayList<>();
            int total = 0;
            for (Example e : data.examples()) {
                int[] ids = enc.encode(e.text());
                parts.add(ids);
                total += ids.length + (enc.eosId() >= 0 ? 1 : 0);
            }
            stream = new int[total];
            int at = 0;
            for (int[] p : parts) {
                System.arraycopy(p, 0, stream, at, p.length);
                at += p.length;
                if (enc.eosId() >= 0) stream[at++] = enc.eosId();
            }
            blocks = (stream.length - 1) / maxLength;
            if (blocks == 0) throw new IllegalArgumentException(data.source() + ": only " + stream.length
                    + " tokens, fewer than one block of " + (maxLength + 1));
        } else {
            stream = null;
            blocks = 0;
        }
    }

    public Task task() {
        return data.task();
    }

    public Dataset dataset() {
        return data;
    }

    /** Whether the units are packed rows of documents. */
    public boolean isPacked() {
        return rows != null;
    }

    /** Number of units the order visits: examples, blocks of the stream for lm, or packed rows. */
    public int units() {
        if (rows != null) return rows.size();
        return data.task() == Task.LM ? blocks : data.size();
    }

    /** Cheap per-unit lengths for bucketing (characters of text + pair + completion; tokens of a packed row). */
    public int[] lengths() {
        int[] l = new int[units()];
        if (rows != null) {
            for (int i = 0; i < l.length; i++) l[i] = rowTokens(rows.get(i));
            return l;
        }
        if (data.task() == Task.LM) {
            Arrays.fill(l, maxLength);
            return l;
        }
        for (int i = 0; i < l.length; i++) {
            Example e = data.examples().get(i);
            l[i] = e.text().length() + (e.pair() == null ? 0 : e.pair().length()) + (e.target() == null ? 0 : e.target().length());
        }
        return l;
    }

    public Batch batch(int[] units) {
        if (rows != null) return packedBatch(units);
        return switch (data.task()) {
            case CLASSIFY -> classify(units);
            case SFT -> sft(units);
            case LM -> lm(units);
        };
    }

    /**
     * What the task's mean loss divides by over these units: examples (classify), or counted target
     * tokens (sft and packed rows; lm blocks all count maxLength). A replica's share of a batch
     * weighs its loss by its part of the whole, so the replicas' sum is the single-process mean.
     */
    public long lossWeight(int[] units) {
        if (rows != null) {
            long n = 0;
            for (int u : units) {
                for (int d : rows.get(u)) {
                    SequencePacking.Document doc = docs.get(d);
                    for (int t = 0; t < doc.tokens().length; t++) if (doc.predicts(t)) n++;
                }
            }
            return n;
        }
        if (data.task() != Task.SFT) return units.length;
        long n = 0;
        for (int l : batch(units).labels()) if (l != Batch.IGNORE) n++;
        return n;
    }

    /** All units in file order, in batches of {@code batchSize} (evaluation). */
    public List<Batch> sequentialBatches(int batchSize) {
        List<Batch> out = new ArrayList<>();
        for (int s = 0; s < units(); s += batchSize) {
            int[] idx = new int[Math.min(batchSize, units() - s)];
            for (int i = 0; i < idx.length; i++) idx[i] = s + i;
            out.add(batch(idx));
        }
        return out;
    }

    private Batch classify(int[] units) {
        List<String> texts = new ArrayList<>(units.length);
        List<String> pairs = null;
        int[] labels = new int[units.length];
        for (int i = 0; i < units.length; i++) {
            Example e = data.examples().get(units[i]);
            texts.add(e.text());
            if (e.pair() != null) {
                if (pairs == null) pairs = new ArrayList<>();
                pairs.add(e.pair());
            }
            labels[i] = e.label();
        }
        if (pairs != null && pairs.size() != texts.size()) {
            throw new IllegalArgumentException(data.source() + ": some rows have a pair text and some do not");
        }
        return new Batch(enc.encodeBatch(texts, pairs, maxLength), labels);
    }

    private Batch sft(int[] units) {
        List<List<SequencePacking.Document>> byRow = new ArrayList<>(units.length);
        for (int u : units) byRow.add(List.of(sftDocument(data.examples().get(u))));
        return rowsOf(byRow, false);
    }

    /** BOS + prompt + completion + EOS, cut to maxLength; targets start at the completion. */
    private SequencePacking.Document sftDocument(Example e) {
        int[] p = enc.encode(e.text()), c = enc.encode(e.target());
        int bos = enc.bosId() >= 0 ? 1 : 0, eos = enc.eosId() >= 0 ? 1 : 0;
        int[] row = new int[bos + p.length + c.length + eos];
        if (bos == 1) row[0] = enc.bosId();
        System.arraycopy(p, 0, row, bos, p.length);
        System.arraycopy(c, 0, row, bos + p.length, c.length);
        if (eos == 1) row[row.length - 1] = enc.eosId();
        return new SequencePacking.Document(row.length > maxLength ? Arrays.copyOf(row, maxLength) : row, bos + p.length);
    }

    /** Every document of the data set for packing: sft examples, or lm texts + EOS in pieces of maxLength. */
    private List<SequencePacking.Document> documents() {
        List<SequencePacking.Document> out = new ArrayList<>();
        for (Example e : data.examples()) {
            if (data.task() == Task.SFT) {
                out.add(sftDocument(e));
                continue;
            }
            int[] ids = enc.encode(e.text());
            if (enc.eosId() >= 0) {
                ids = Arrays.copyOf(ids, ids.length + 1);
                ids[ids.length - 1] = enc.eosId();
            }
            out.addAll(SequencePacking.chunks(ids, maxLength));
        }
        return out;
    }

    private int rowTokens(int[] row) {
        int n = 0;
        for (int d : row) n += docs.get(d).tokens().length;
        return n;
    }

    private Batch packedBatch(int[] units) {
        List<List<SequencePacking.Document>> byRow = new ArrayList<>(units.length);
        for (int u : units) {
            List<SequencePacking.Document> r = new ArrayList<>();
            for (int d : rows.get(u)) r.add(docs.get(d));
            byRow.add(r);
        }
        return rowsOf(byRow, true);
    }

    /**
     * Rows of documents, right-padded to the longest row: position t of a document predicts its
     * token t+1 when {@link SequencePacking.Document#predicts}; with {@code segments}, each
     * position carries its document's index in the row (padding joins the row's last document).
     */
    private Batch rowsOf(List<List<SequencePacking.Document>> byRow, boolean segments) {
        int b = byRow.size(), seq = 1;
        for (List<SequencePacking.Document> r : byRow) {
            int n = 0;
            for (SequencePacking.Document d : r) n += d.tokens().length;
            seq = Math.max(seq, n);
        }
        int n = b * seq;
        int[] flat = new int[n], mask = new int[n], targets = new int[n], seg = segments ? new int[n] : null;
        Arrays.fill(flat, enc.padId());
        Arrays.fill(targets, Batch.IGNORE);
        for (int i = 0; i < b; i++) {
            int at = i * seq, doc = 0;
            for (SequencePacking.Document d : byRow.get(i)) {
                int[] tok = d.tokens();
                for (int t = 0; t < tok.length; t++, at++) {
                    flat[at] = tok[t];
                    mask[at] = 1;
                    if (d.predicts(t)) targets[at] = tok[t + 1];
                    if (seg != null) seg[at] = doc;
                }
                doc++;
            }
            if (seg != null) for (; at < (i + 1) * seq; at++) seg[at] = Math.max(0, doc - 1);
        }
        return new Batch(new EncodedBatch(flat, mask, new int[n], b, seq), targets, seg);
    }

    private Batch lm(int[] units) {
        int n = units.length * maxLength;
        int[] flat = new int[n], mask = new int[n], targets = new int[n];
        Arrays.fill(mask, 1);
        for (int i = 0; i < units.length; i++) {
            int from = units[i] * maxLength;
            System.arraycopy(stream, from, flat, i * maxLength, maxLength);
            System.arraycopy(stream, from + 1, targets, i * maxLength, maxLength);
        }
        return new Batch(new EncodedBatch(flat, mask, new int[n], units.length, maxLength), targets);
    }
}
