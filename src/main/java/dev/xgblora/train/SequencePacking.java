package dev.xgblora.train;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Sequence packing ({@code --pack}) for sft and lm: whole documents go into rows of up to
 * maxLength tokens, so that many short documents do not each pay a row of padding. The rows are
 * fixed for a run: a seeded shuffle of the documents, then best fit (each document into the open
 * row with the least room that still holds it, else a new row). The data order then shuffles the
 * rows every epoch, so every token is visited exactly once per epoch and a resumed run sees the
 * same rows.
 */
final class SequencePacking {
    private SequencePacking() {
    }

    /**
     * One document of a packed row: its tokens (at most maxLength) and the first index whose token
     * is a target (sft: the first completion token; lm: 0, every next token counts).
     */
    record Document(int[] tokens, int firstTarget) {
        /** Whether position {@code t} of this document predicts a counted token (t+1 inside the document, past the prompt). */
        boolean predicts(int t) {
            return t + 1 < tokens.length && t + 1 >= firstTarget;
        }
    }

    /** Rows of document indices; the documents of a row total at most {@code maxLength} tokens. */
    static List<int[]> pack(List<Document> docs, int maxLength, long seed) {
        List<Integer> order = new ArrayList<>(docs.size());
        for (int i = 0; i < docs.size(); i++) order.add(i);
        Collections.shuffle(order, new Random(seed * 0x2545F4914F6CDD1DL + 0x9E37));
        List<List<Integer>> rows = new ArrayList<>();
        TreeMap<Integer, ArrayDeque<Integer>> byRoom = new TreeMap<>(); // room left → rows with that room, oldest first
        for (int d : order) {
            int len = docs.get(d).tokens().length;
            if (len > maxLength) throw new IllegalStateException("document of " + len + " tokens is longer than the row (" + maxLength + ")");
            Map.Entry<Integer, ArrayDeque<Integer>> fit = byRoom.ceilingEntry(len);
            int row, room;
            if (fit == null) {
                row = rows.size();
                rows.add(new ArrayList<>());
                room = maxLength;
            } else {
                room = fit.getKey();
                row = fit.getValue().pollFirst();
                if (fit.getValue().isEmpty()) byRoom.remove(room);
            }
            rows.get(row).add(d);
            int left = room - len;
            if (left > 0) byRoom.computeIfAbsent(left, k -> new ArrayDeque<>()).addLast(row);
        }
        List<int[]> out = new ArrayList<>(rows.size());
        for (List<Integer> r : rows) out.add(r.stream().mapToInt(Integer::intValue).toArray());
        return out;
    }

    /** An lm document cut into consecutive pieces of at most {@code maxLength} tokens (each its own document). */
    static List<Document> chunks(int[] tokens, int maxLength) {
        List<Document> out = new ArrayList<>();
        for (int s = 0; s < tokens.length; s += maxLength) {
            int[] part = new int[Math.min(maxLength, tokens.length - s)];
            System.arraycopy(tokens, s, part, 0, part.length);
            out.add(new Document(part, 0));
        }
        return out;
    }
}
