package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Vector RoPE (cos/sin table, vectorised rotation) against {@link ReferenceRope}. */
class VectorRopeTest {
    static final VectorBackends K = new VectorBackends();
    static final Kernels REF = K.ref;
    static final VectorKernels ONE = K.one, TWO = K.two;

    @AfterAll
    static void close() {
        K.close();
    }

    /** Frequencies as the model computes them: theta 10000, or Llama 3's scaled variant. */
    static float[] invFreq(int headDim, boolean llama3) throws Exception {
        String scaling = llama3 ? ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                + " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}" : "";
        String json = "{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": " + 2 * headDim
                + ", \"head_dim\": " + headDim + ", \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                + " \"intermediate_size\": 8, \"rope_theta\": 10000.0" + scaling + "}";
        return ModelConfig.fromJson((ObjectNode) new ObjectMapper().readTree(json), "test").ropeInvFreq();
    }

    /**
     * Queries with hq heads and keys with hkv (grouped-query shapes share one table), positions
     * that start at an offset (a KV cache) and restart per sequence (packing), odd head counts,
     * half dimensions below, at and above a vector's length.
     */
    @ParameterizedTest(name = "B={0} T={1} Hq={2} Hkv={3} D={4} offset={5} llama3={6} threads={7}")
    @CsvSource({"1,1,1,1,2,0,false,1", "2,5,3,1,6,7,false,2", "3,7,5,5,34,0,true,2", "2,9,4,2,64,100,true,1",
            "1,33,6,2,130,3,false,2", "4,3,7,7,16,4000,true,2"})
    void matchesTheReference(int b, int t, int hq, int hkv, int d, int offset, boolean llama3, int threads)
            throws Exception {
        Random r = new Random(b * 1000L + t * 100L + d);
        float[] inv = invFreq(d, llama3);
        int[] pos = new int[b * t];
        for (int i = 0; i < pos.length; i++) pos[i] = offset + (i % t) + (i / t) * (i % 2); // ragged restarts
        VectorKernels vk = K.threads(threads);
        for (int h : new int[] {hq, hkv}) {
            Tensor x = randn(r, 1f, b, t, h, d), dy = randn(r, 1f, b, t, h, d), dx0 = randn(r, 1f, b, t, h, d);
            Tensor ye = Tensor.zeros(b, t, h, d), ya = Tensor.zeros(b, t, h, d);
            REF.ropeForward(x, pos, inv, ye);
            vk.ropeForward(x, pos, inv, ya);
            assertClose("rope forward", ye, ya, 1e-6, 1e-5);
            Tensor inPlace = x.copy();
            vk.ropeForward(inPlace, pos, inv, inPlace);
            assertClose("rope forward in place", ye, inPlace, 1e-6, 1e-5);
            Tensor dxe = dx0.copy(), dxa = dx0.copy();
            REF.ropeBackward(dy, pos, inv, dxe);
            vk.ropeBackward(dy, pos, inv, dxa);
            assertClose("rope backward (accumulated)", dxe, dxa, 1e-6, 1e-5);
        }
    }

    @Test
    void theTableIsReusedOnlyForTheSamePositionsAndFrequencies() throws Exception {
        float[] inv = invFreq(8, false);
        int[] pos = {0, 1, 2, 3};
        VectorRope.Table t = VectorRope.Table.reuseOrBuild(null, pos, inv);
        assertSame(t, VectorRope.Table.reuseOrBuild(t, pos.clone(), inv.clone()), "same content, same table");
        int[] moved = {1, 2, 3, 4};
        assertNotSame(t, VectorRope.Table.reuseOrBuild(t, moved, inv), "other positions");
        assertNotSame(t, VectorRope.Table.reuseOrBuild(t, pos, invFreq(8, true)), "other frequencies");
        pos[0] = 9; // the table keeps its own copy: a caller reusing its array gets a fresh table
        assertNotSame(t, VectorRope.Table.reuseOrBuild(t, pos, inv));

        // Through the kernels: a second call with other positions must not rotate by the first ones.
        Random r = new Random(5);
        Tensor x = randn(r, 1f, 1, 4, 2, 8);
        Tensor first = Tensor.zeros(1, 4, 2, 8), ye = Tensor.zeros(1, 4, 2, 8), ya = Tensor.zeros(1, 4, 2, 8);
        TWO.ropeForward(x, new int[] {0, 1, 2, 3}, inv, first);
        REF.ropeForward(x, moved, inv, ye);
        TWO.ropeForward(x, moved, inv, ya);
        assertClose("rope after the positions changed", ye, ya, 1e-6, 1e-5);
        assertTrue(KernelTestSupport.maxAbsDiff(first, ya) > 1e-2, "positions matter");
    }

    @Test
    void badShapesGetTheReferenceErrors() {
        Tensor x = Tensor.zeros(1, 2, 1, 4);
        var e = assertThrows(IllegalArgumentException.class, () -> ONE.ropeForward(x, new int[] {0}, new float[] {1, 1}, x));
        assertTrue(e.getMessage().contains("expected B*T = 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ONE.ropeForward(x, new int[] {0, 1}, new float[] {1}, x));
        assertTrue(e.getMessage().contains("expected D/2 = 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ONE.ropeForward(x, new int[] {0, 1}, new float[] {1, 1}, Tensor.zeros(1, 2, 1, 6)));
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
    }
}
