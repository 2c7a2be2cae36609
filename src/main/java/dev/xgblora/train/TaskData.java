package dev.xgblora.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a {@link Dataset} into model-ready {@link Batch}es for its task: classify batches are
 * encoded with dynamic padding; sft rows are prompt + completion with loss on completion tokens
 * only; lm text is tokenized once and cut into packed blocks of maxLength tokens.
 */
public final class TaskData {
    private final Dataset data;
    private final TextEncoder enc;
    private final int maxLength;
    private final int[] stream; // lm: the whole token stream
    private final int blocks;

    public TaskData(Dataset data, TextEncoder enc, int maxLength) {
        if (maxLength < 2) throw new IllegalArgumentException("max length must be at least 2: " + maxLength);
        this.data = data;
        this.enc = enc;
        this.maxLength = maxLength;
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

    /** Number of units the order visits: examples, or packed blocks for lm. */
    public int units() {
        return data.task() == Task.LM ? blocks : data.size();
    }

    /** Cheap per-unit lengths for bucketing (characters of text + pair + completion). */
    public int[] lengths() {
        int[] l = new int[units()];
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
        return switch (data.task()) {
            case CLASSIFY -> classify(units);
            case SFT -> sft(units);
            case LM -> lm(units);
        };
    }

    /**
     * What the task's mean loss divides by over these units: examples (classify), or counted target
     * tokens (sft; lm blocks all count maxLength). A replica's share of a batch weighs its loss by
     * its part of the whole, so the replicas' sum is the single-process mean.
     */
    public long lossWeight(int[] units) {
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
        int[][] ids = new int[units.length][];
        int[] promptLen = new int[units.length];
        int seq = 1;
        for (int i = 0; i < units.length; i++) {
            Example e = data.examples().get(units[i]);
            int[] p = enc.encode(e.text()), c = enc.encode(e.target());
            int bos = enc.bosId() >= 0 ? 1 : 0, eos = enc.eosId() >= 0 ? 1 : 0;
            int[] row = new int[bos + p.length + c.length + eos];
            if (bos == 1) row[0] = enc.bosId();
            System.arraycopy(p, 0, row, bos, p.length);
            System.arraycopy(c, 0, row, bos + p.length, c.length);
            if (eos == 1) row[row.length - 1] = enc.eosId();
            ids[i] = row.length > maxLength ? Arrays.copyOf(row, maxLength) : row;
            promptLen[i] = bos + p.length;
            seq = Math.max(seq, ids[i].length);
        }
        int n = units.length * seq;
        int[] flat = new int[n], mask = new int[n], targets = new int[n];
        Arrays.fill(flat, enc.padId());
        Arrays.fill(targets, Batch.IGNORE);
        for (int i = 0; i < units.length; i++) {
            for (int t = 0; t < ids[i].length; t++) {
                flat[i * seq + t] = ids[i][t];
                mask[i * seq + t] = 1;
                // position t predicts token t+1; it counts when token t+1 belongs to the completion
                if (t + 1 < ids[i].length && t + 1 >= promptLen[i]) targets[i * seq + t] = ids[i][t + 1];
            }
        }
        return new Batch(new EncodedBatch(flat, mask, new int[n], units.length, seq), targets);
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
