package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Vector embedding gather/scatter-add and dropout against the reference kernels. */
class VectorEmbeddingDropoutTest {
    static final VectorBackends K = new VectorBackends();
    static final Kernels REF = K.ref;
    static final VectorKernels ONE = K.one, TWO = K.two;

    @AfterAll
    static void close() {
        K.close();
    }

    static VectorKernels vk(int threads) {
        return K.threads(threads);
    }

    /** Ids with repeats (the scatter-add must sum them) over a table of {@code vocab} rows. */
    static int[] ids(Random r, int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i % 3 == 0 ? Math.min(1, vocab - 1) : r.nextInt(vocab);
        return ids;
    }

    @ParameterizedTest(name = "n={0} vocab={1} C={2} {3} threads={4}")
    @CsvSource({"1,1,1,F32,1", "7,5,5,BF16,2", "40,30,33,F16,2", "70,9,130,F32,2", "300,50,384,BF16,1"})
    void embeddingMatchesTheReference(int n, int vocab, int c, DType dt, int threads) {
        Random r = new Random(n * 31L + c);
        int[] ids = ids(r, n, vocab);
        Tensor table = randn(r, 1f, dt, vocab, c);
        Tensor ye = randn(r, 1f, n, c), ya = randn(r, 1f, n, c);
        REF.embeddingForward(ids, table, ye);
        vk(threads).embeddingForward(ids, table, ya);
        assertArrayEquals(ye.toFloatArray(), ya.toFloatArray(), "a gather is exact");

        Tensor dout = randn(r, 1f, n, c), dt0 = randn(r, 1f, vocab, c);
        Tensor de = dt0.copy(), da = dt0.copy();
        REF.embeddingBackward(ids, dout, de);
        vk(threads).embeddingBackward(ids, dout, da);
        assertClose("embedding scatter-add", de, da, 2e-6 * Math.sqrt(n), 1e-5);
    }

    @Test
    void embeddingIdsOutsideTheTableAreNamed() {
        Tensor table = Tensor.zeros(4, 3), out = Tensor.zeros(2, 3);
        var e = assertThrows(IllegalArgumentException.class, () -> TWO.embeddingForward(new int[] {1, 4}, table, out));
        assertTrue(e.getMessage().contains("ids[1] = 4 is outside the table of 4 rows"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TWO.embeddingBackward(new int[] {-1, 0}, out, table));
        assertTrue(e.getMessage().contains("ids[0] = -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TWO.embeddingForward(new int[] {1}, table, out));
        assertTrue(e.getMessage().contains("expected [1, 3]"), e.getMessage());
    }

    /** The masks are the reference's SplittableRandom stream bit for bit, split over threads or not. */
    @ParameterizedTest(name = "n={0} p={1} seed={2} threads={3}")
    @CsvSource({"1,0.5,1,1", "17,0.1,-5,2", "2000,0.3,1234,1", "40001,0.3,1234,2", "33000,0.9,987654321987,2",
            "100,0.0,9,2", "100,1.0,9,2", "5000,0.5,0,2"})
    void dropoutMasksAreTheReferenceMasks(int n, float p, long seed, int threads) {
        Random r = new Random(n);
        Tensor x = randn(r, 1f, n);
        Tensor me = Tensor.zeros(n), ma = Tensor.zeros(n), ye = Tensor.zeros(n), ya = Tensor.zeros(n);
        REF.dropoutForward(x, p, seed, me, ye);
        vk(threads).dropoutForward(x, p, seed, ma, ya);
        assertArrayEquals(me.toFloatArray(), ma.toFloatArray(), "mask");
        assertArrayEquals(ye.toFloatArray(), ya.toFloatArray(), "y");

        Tensor dy = randn(r, 1f, n), dx0 = randn(r, 1f, n), dxe = dx0.copy(), dxa = dx0.copy();
        REF.dropoutBackward(dy, me, dxe);
        vk(threads).dropoutBackward(dy, ma, dxa);
        assertClose("dropout backward", dxe, dxa, 1e-6, 1e-6);
    }

    @Test
    void dropoutErrorsAreTheReferenceErrors() {
        Tensor x = Tensor.zeros(3, 4);
        assertThrows(IllegalArgumentException.class, () -> TWO.dropoutForward(x, 1.5f, 1L, Tensor.zeros(3, 4), Tensor.zeros(3, 4)));
        assertThrows(IllegalArgumentException.class, () -> TWO.dropoutForward(x, 0.5f, 1L, Tensor.zeros(3, 5), Tensor.zeros(3, 4)));
    }
}
