package dev.xgblora.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What a decoder training run will hold, in bytes, computed from the shapes before anything is
 * allocated: the mapped weights (file pages, outside the heap), the activations and gradient
 * scratch for one micro-batch (heap), the trainable parameters with their gradients and AdamW
 * moments (heap). {@link #check} compares it with the heap limit and the physical memory and
 * stops with what to change when it does not fit.
 */
public record MemoryEstimate(long mappedWeights, long activations, long trainables, long optimizer, String shape) {
    private static final long MIB = 1L << 20;

    /** What one layer's forward keeps for backward ({@link LayerActivations}) for B·T tokens. */
    public static long layerActivationBytes(DecoderDims d, int b, int t) {
        long m = (long) b * t;
        long perRow = 3L * d.hidden() + 2L * d.qDim() + 2L * d.kvDim() + 3L * d.intermediate() + 2;
        long lse = Math.multiplyExact((long) b * d.heads(), t); // the fused attention keeps one log-sum-exp per query and head
        return Math.multiplyExact(Math.addExact(Math.multiplyExact(m, perRow), lse), 4L);
    }

    /** The per-backward gradient scratch ({@link LayerGradients}) plus the decoder's dhidden, dres, input grad. */
    static long gradientScratchBytes(DecoderDims d, int b, int t) {
        long m = (long) b * t;
        long perRow = 4L * d.hidden() + 3L * d.qDim() + 3L * d.kvDim() + 3L * d.intermediate();
        return Math.multiplyExact(m, perRow) * 4L;
    }

    /**
     * A decoder training run on {@code layers} layers (all of them may keep activations: the worst
     * case of random layer choice) at {@code batch} × {@code maxLength} tokens.
     *
     * @param trainableParams F32 parameters trained at once (adapters of a round, head, or all weights)
     */
    public static MemoryEstimate decoderTraining(DecoderDims d, int layers, long weightBytes, int batch, int maxLength,
                                                 boolean recompute, long trainableParams) {
        long m = (long) batch * maxLength;
        long residuals = Math.multiplyExact(Math.multiplyExact(m, d.hidden()), 4L * (layers + 2));
        long sets = recompute ? 1 : layers + 1L; // + the forward-only scratch set
        long act = Math.addExact(Math.multiplyExact(sets, layerActivationBytes(d, batch, maxLength)), residuals);
        act = Math.addExact(act, gradientScratchBytes(d, batch, maxLength));
        act += (long) ChunkedLmLoss.DEFAULT_ROWS * ChunkedLmLoss.DEFAULT_VOCAB * 4;
        long trainBytes = Math.multiplyExact(trainableParams, 8L); // value + gradient
        long optBytes = Math.multiplyExact(trainableParams, 8L);   // AdamW m and v
        String sh = batch + " x " + maxLength + " tokens" + (recompute ? ", --recompute" : "");
        return new MemoryEstimate(weightBytes, act, trainBytes, optBytes, sh);
    }

    /** Heap bytes the run needs (everything but the mapped weights). */
    public long heapBytes() {
        return activations + trainables + optimizer;
    }

    public long totalBytes() {
        return heapBytes() + mappedWeights;
    }

    public String describe() {
        return String.format(Locale.ROOT, "weights %s (mapped) + activations %s + trainables %s + optimizer %s = %s for %s",
                size(mappedWeights), size(activations), size(trainables), size(optimizer), size(totalBytes()), shape);
    }

    /**
     * Stops when the heap part exceeds {@code maxHeap} or the whole exceeds {@code physical}
     * (either may be ≤ 0: unknown, not checked), naming what the run needs and what to change.
     */
    public void check(long maxHeap, long physical) {
        String fix = "lower --batch-size or --max-length" + (shape.contains("--recompute") ? "" : ", add --recompute (keeps one layer's activations)");
        if (maxHeap > 0 && heapBytes() > maxHeap * 9 / 10) {
            throw new IllegalArgumentException("this run needs about " + size(heapBytes()) + " of Java heap (" + describe() + "), but the heap limit is "
                    + size(maxHeap) + ": " + fix + ", or raise -Xmx through XGBLORA_JAVA_OPTS");
        }
        if (physical > 0 && totalBytes() > physical) {
            throw new IllegalArgumentException("this run needs about " + size(totalBytes()) + " (" + describe() + "), more than the "
                    + size(physical) + " of physical memory: " + fix + ", or use a smaller model");
        }
    }

    /** MemTotal of /proc/meminfo in bytes, or -1 where there is none. */
    public static long physicalMemory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    static String size(long bytes) {
        return bytes >= 10L * 1024 * MIB ? String.format(Locale.ROOT, "%.1f GiB", bytes / (1024.0 * MIB))
                : String.format(Locale.ROOT, "%d MiB", (bytes + MIB - 1) / MIB);
    }
}
