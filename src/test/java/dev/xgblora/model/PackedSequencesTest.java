package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.io.SyntheticModel;
import dev.xgblora.kernels.KernelTestSupport;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sequence packing: documents A|B|C packed into one row with segment ids give the loss and every
 * gradient of the same documents as separate padded rows (the loss is the mean over counted
 * tokens either way), with the reference kernels and the fused vector attention, with and
 * without --recompute, on a full-attention Llama and on a sliding-window Mistral.
 */
class PackedSequencesTest {
    /** Lengths that span several 64-query/64-key tiles of the fused attention, boundaries inside tiles. */
    private static final int[] LENGTHS = {70, 30, 45};

    @TempDir
    static Path tmp;

    private record Outcome(double loss, List<Tensor> grads, Tensor inputGrad) {
    }

    private static Path tiny() {
        Path dir = tmp.resolve("tiny");
        if (!Files.exists(dir)) SyntheticModel.write(SyntheticModel.shape("tiny"), dir, 4, 1L << 30);
        return dir;
    }

    private static int[][] documents(int vocab) {
        Random r = new Random(11);
        int[][] docs = new int[LENGTHS.length][];
        for (int d = 0; d < docs.length; d++) docs[d] = KernelTestSupport.randomInts(r, LENGTHS[d], vocab);
        return docs;
    }

    /** Every param trainable, a LoRA adapter with non-zero B on every linear (their gradients are compared too). */
    private static Outcome run(Path model, Kernels k, boolean recompute, int[][] ids, int[][] mask, int[][] segments) {
        try (LlamaDecoder m = LlamaDecoder.open(model, k)) {
            m.setRecompute(recompute);
            m.setInputGradWanted(true);
            for (Param p : m.params()) p.setTrainable(true);
            List<Param> adapters = new ArrayList<>();
            Random r = new Random(5);
            for (Linear l : m.linears()) {
                LoraAdapter a = LoraAdapter.create(l, 2, 2f, r);
                for (long i = 0; i < a.b().numel(); i++) a.b().value().set(i, (float) r.nextGaussian() * 0.1f);
                l.attach(a);
                adapters.add(a.a());
                adapters.add(a.b());
            }
            double loss = m.loss(ids, mask, segments, null);
            m.backward();
            List<Tensor> g = new ArrayList<>();
            for (Param p : m.params()) g.add(p.grad().copy());
            for (Param p : adapters) g.add(p.grad().copy());
            return new Outcome(loss, g, m.inputEmbeddingGrad().copy());
        }
    }

    /** The documents as separate right-padded rows. */
    private static Outcome unpacked(Path model, Kernels k, int[][] docs) {
        int t = 0;
        for (int[] d : docs) t = Math.max(t, d.length);
        int[][] ids = new int[docs.length][t], mask = new int[docs.length][t];
        for (int i = 0; i < docs.length; i++) {
            System.arraycopy(docs[i], 0, ids[i], 0, docs[i].length);
            for (int j = 0; j < docs[i].length; j++) mask[i][j] = 1;
        }
        return run(model, k, false, ids, mask, null);
    }

    /** The documents one after another in one row, padded by {@code pad} tokens at its end (which join the last segment). */
    private static Outcome packed(Path model, Kernels k, int[][] docs, int pad, boolean recompute, boolean withSegments) {
        int total = pad;
        for (int[] d : docs) total += d.length;
        int[][] ids = new int[1][total], mask = new int[1][total], seg = new int[1][total];
        int at = 0;
        for (int d = 0; d < docs.length; d++) {
            for (int tok : docs[d]) {
                ids[0][at] = tok;
                mask[0][at] = 1;
                seg[0][at++] = d;
            }
        }
        for (; at < total; at++) seg[0][at] = docs.length - 1;
        return run(model, k, recompute, ids, mask, withSegments ? seg : null);
    }

    private static void assertSame(String what, Outcome expected, Outcome actual, int[][] docs, int pad) {
        assertEquals(expected.loss(), actual.loss(), 1e-5 * Math.abs(expected.loss()), what + ": loss");
        for (int i = 0; i < expected.grads().size(); i++) {
            Tensor e = expected.grads().get(i);
            KernelTestSupport.assertClose(what + ": gradient " + i, e, actual.grads().get(i), 2e-5 * KernelTestSupport.maxAbs(e), 1e-4);
        }
        // d loss / d input embedding of each real token, row by row against the packed row
        Tensor ge = expected.inputGrad(), ga = actual.inputGrad();
        long c = ge.dim(1), t = ge.dim(0) / docs.length;
        double scale = KernelTestSupport.maxAbs(ge);
        long at = 0;
        for (int d = 0; d < docs.length; d++) {
            for (int j = 0; j < docs[d].length; j++, at++) {
                for (long x = 0; x < c; x++) {
                    double e = ge.get((d * t + j) * c + x), a = ga.get(at * c + x);
                    assertEquals(e, a, 2e-5 * scale + 1e-4 * Math.abs(e), what + ": input gradient of document " + d + " token " + j);
                }
            }
        }
        assertEquals(at + pad, ga.dim(0));
    }

    @Test
    void aPackedRowGivesTheLossAndGradientsOfItsDocumentsAsSeparateRows() {
        ReferenceKernels ref = new ReferenceKernels();
        Path llama = tiny(), mistralWindow = LlamaFixtures.modelDir("mistral-window");
        for (Path model : List.of(llama, mistralWindow)) {
            int vocab = model == llama ? SyntheticModel.shape("tiny").vocab() : 64;
            int[][] docs = documents(vocab);
            for (Kernels k : List.of(ref, new VectorKernels(2, ref))) {
                String what = model.getFileName() + ", " + k.name();
                Outcome separate = unpacked(model, k, docs);
                Outcome packed = packed(model, k, docs, 5, false, true);
                assertSame(what, separate, packed, docs, 5);
                Outcome recomputed = packed(model, k, docs, 5, true, true);
                assertSame(what + ", --recompute", separate, recomputed, docs, 5);
            }
        }
    }

    @Test
    void withoutSegmentsTheSameRowIsOneDocumentAndDiffers() {
        // the guard of the test above: the packed row read as one document is a different loss
        ReferenceKernels ref = new ReferenceKernels();
        int[][] docs = documents(SyntheticModel.shape("tiny").vocab());
        Outcome separate = unpacked(tiny(), ref, docs);
        Outcome joined = packed(tiny(), ref, docs, 0, false, false);
        assertTrue(Math.abs(separate.loss() - joined.loss()) > 1e-3, separate.loss() + " vs " + joined.loss());
    }

    @Test
    void positionsRestartAtEachDocumentAndItsLastTokenPredictsNothing() {
        // RoPE scores depend on position differences only, so the equality above holds with
        // absolute positions too (checked: it passes with them); the positions are checked here
        Batch b = Batch.of(new int[][] {{5, 6, 7, 8, 9, 0}}, new int[][] {{1, 1, 1, 1, 1, 0}}, new int[][] {{0, 0, 0, 1, 1, 1}}, 64);
        assertArrayEquals(new int[] {0, 1, 2, 0, 1, 2}, b.positions());
        int ig = LlamaDecoder.IGNORE_INDEX;
        assertArrayEquals(new int[] {6, 7, ig, 9, ig, ig}, b.shiftedTargets(new int[][] {{5, 6, 7, 8, 9, 0}}));
    }

    @Test
    void segmentIdsThatGoDownOrDoNotMatchTheIdsAreRefused() {
        try (LlamaDecoder m = LlamaDecoder.open(tiny(), new ReferenceKernels())) {
            int[][] ids = {{1, 2, 3, 4}}, mask = {{1, 1, 1, 1}};
            var down = assertThrows(IllegalArgumentException.class, () -> m.loss(ids, mask, new int[][] {{0, 1, 0, 1}}, null));
            assertTrue(down.getMessage().contains("go down at position 2"), down.getMessage());
            var shape = assertThrows(IllegalArgumentException.class, () -> m.loss(ids, mask, new int[][] {{0, 1}}, null));
            assertTrue(shape.getMessage().contains("segment ids row 0 has 2 values, expected 4"), shape.getMessage());
        }
    }
}
