package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.checkChunkedCrossEntropy;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The vector LM-head loss tiles against the reference, and the same bits on 1 and 2 threads. */
class VectorChunkedCrossEntropyTest {
    private static final Kernels REF = new ReferenceKernels();

    @ParameterizedTest(name = "rows={0} vocab={1} tile={2}")
    @CsvSource({"1,1,1", "5,37,37", "7,130,64", "3,1000,333", "17,70,9", "9,300,160"})
    void chunkedCrossEntropyMatchesReference(int m, int v, int tile) {
        try (VectorKernels one = new VectorKernels(1, REF); VectorKernels two = new VectorKernels(2, REF)) {
            checkChunkedCrossEntropy(REF, one, m, v, tile);
            checkChunkedCrossEntropy(REF, two, m, v, tile);
            Random r = new Random(v);
            int[] targets = new int[m];
            for (int i = 0; i < m; i++) targets[i] = r.nextInt(v);
            Tensor logits = randn(r, 3f, m, v), s1 = Tensor.zeros(m, 3), s2 = Tensor.zeros(m, 3);
            one.chunkedCrossEntropyForward(logits, targets, 0, true, s1);
            two.chunkedCrossEntropyForward(logits, targets, 0, true, s2);
            assertArrayEquals(s1.toFloatArray(), s2.toFloatArray(), "thread count changed the state's bits");
        }
    }
}
