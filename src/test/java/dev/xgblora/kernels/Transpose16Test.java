package dev.xgblora.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class Transpose16Test {
    /** Every element lands at (column, row) in a strided destination, and nothing else is written. */
    @Test
    void transposesIntoAStridedPanel() {
        Random rnd = new Random(3);
        float[] src = new float[256];
        for (int i = 0; i < src.length; i++) src[i] = rnd.nextFloat();
        int stride = 64, off = 5;
        float[] dst = new float[off + 16 * stride];
        java.util.Arrays.fill(dst, -1f);
        Transpose16.transpose(src, dst, off, stride);
        for (int r = 0; r < 16; r++) {
            for (int c = 0; c < 16; c++) assertEquals(src[r * 16 + c], dst[off + c * stride + r], "element (" + r + ", " + c + ")");
        }
        for (int c = 0; c < 16; c++) {
            for (int j = 16; j < stride && off + c * stride + j < dst.length; j++) assertEquals(-1f, dst[off + c * stride + j]);
        }
    }

    /** A block read from inside a wider row-major source (row stride 40, offset 7). */
    @Test
    void readsABlockOfAStridedSource() {
        Random rnd = new Random(4);
        int sStride = 40, sOff = 7, dStride = 64;
        float[] src = new float[sOff + 16 * sStride];
        for (int i = 0; i < src.length; i++) src[i] = rnd.nextFloat();
        float[] dst = new float[16 * dStride];
        Transpose16.transpose(src, sOff, sStride, dst, 0, dStride);
        for (int r = 0; r < 16; r++) {
            for (int c = 0; c < 16; c++) assertEquals(src[sOff + r * sStride + c], dst[c * dStride + r], "element (" + r + ", " + c + ")");
        }
    }
}
