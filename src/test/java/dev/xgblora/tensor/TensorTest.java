package dev.xgblora.tensor;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class TensorTest {
    @Test
    void viewsShareMemoryAndTransposeSwapsIndices() {
        Tensor t = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor row1 = t.slice(1, 1);
        assertEquals(4f, row1.get(0));
        row1.set(2, 60f);
        assertEquals(60f, t.get(1, 2));
        Tensor tt = t.transposeLast2();
        assertArrayEquals(new long[] {3, 2}, tt.shape());
        assertEquals(t.get(0, 2), tt.get(2, 0));
        assertFalse(tt.isContiguous());
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 60}, tt.toFloatArray());
    }

    @Test
    void bf16AndF16RoundTripWithinTheirPrecision() {
        float[] values = {0f, 1f, -2.5f, 3.14159f, 1e-3f, 65504f};
        for (float v : values) {
            assertEquals(v, DType.bf16ToFloat(DType.floatToBf16(v)), Math.abs(v) * 0x1p-8 + 1e-30);
            assertEquals(v, DType.f16ToFloat(DType.floatToF16(v)), Math.abs(v) * 0x1p-11 + 1e-7);
        }
        // round to nearest even: 1 + 2^-8 lies halfway between two bf16 values and rounds to 1.
        assertEquals(1f, DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-8f)));
    }

    @Test
    void shapeErrorsNameTheTensor() {
        Tensor t = Tensor.zeros(2, 3).named("layer.0.weight");
        var e = assertThrows(IllegalArgumentException.class, () -> t.requireShape(3, 2));
        assertTrue(e.getMessage().contains("layer.0.weight") && e.getMessage().contains("[3, 2]"), e.getMessage());
    }
}
