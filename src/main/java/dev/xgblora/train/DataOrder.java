package dev.xgblora.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * The order in which examples (or packed blocks) are visited: a fresh seeded shuffle every epoch,
 * optionally length-bucketed (shuffle, sort chunks of 50 batches by length, shuffle the batches)
 * so that padding shrinks. Each epoch's order derives from (seed, epoch) alone, so the position
 * (epoch, batch) is the whole resumable state.
 */
public final class DataOrder {
    private static final int BUCKET_BATCHES = 50;

    /** Where the next batch starts: epoch (from 0) and batch index inside that epoch. */
    public record Position(int epoch, int batch) {
    }

    private final int units;
    private final int batchSize;
    private final long seed;
    private final int[] lengths;
    private int epoch;
    private int batch;
    private List<int[]> plan;

    /** @param lengths per-unit lengths for bucketing, or null for a plain shuffle */
    public DataOrder(int units, int batchSize, long seed, int[] lengths) {
        if (units <= 0) throw new IllegalArgumentException("no training examples");
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be positive: " + batchSize);
        this.units = units;
        this.batchSize = batchSize;
        this.seed = seed;
        this.lengths = lengths;
    }

    public int batchesPerEpoch() {
        return (units + batchSize - 1) / batchSize;
    }

    public Position position() {
        return new Position(epoch, batch);
    }

    public void seek(Position p) {
        if (p.epoch() != epoch) plan = null;
        epoch = p.epoch();
        batch = p.batch();
    }

    /** Unit indices of the next batch (the last batch of an epoch may be smaller). */
    public int[] next() {
        if (plan == null) plan = planEpoch(epoch);
        if (batch >= plan.size()) {
            epoch++;
            batch = 0;
            plan = planEpoch(epoch);
        }
        return plan.get(batch++);
    }

    List<int[]> planEpoch(int e) {
        Random rng = new Random(seed * 0x9E3779B97F4A7C15L + e);
        List<Integer> order = new ArrayList<>(units);
        for (int i = 0; i < units; i++) order.add(i);
        Collections.shuffle(order, rng);
        List<int[]> batches = new ArrayList<>();
        if (lengths == null) {
            for (int s = 0; s < units; s += batchSize) batches.add(toArray(order.subList(s, Math.min(units, s + batchSize))));
            return batches;
        }
        int chunk = batchSize * BUCKET_BATCHES;
        for (int c = 0; c < units; c += chunk) {
            List<Integer> part = new ArrayList<>(order.subList(c, Math.min(units, c + chunk)));
            part.sort(Comparator.comparingInt(i -> lengths[i]));
            for (int s = 0; s < part.size(); s += batchSize) batches.add(toArray(part.subList(s, Math.min(part.size(), s + batchSize))));
        }
        Collections.shuffle(batches, rng);
        return batches;
    }

    private static int[] toArray(List<Integer> l) {
        int[] a = new int[l.size()];
        for (int i = 0; i < a.length; i++) a[i] = l.get(i);
        return a;
    }

    @Override
    public String toString() {
        return "DataOrder(units=" + units + ", batch=" + batchSize + ", at " + position() + ", bucketed=" + (lengths != null) + ")";
    }
}
