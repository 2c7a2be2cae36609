package dev.xgblora.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.kernels.VectorKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shapes past 2^31 bytes: a sparse safetensors file with a 2 GiB+ BF16 tensor, mapped, sliced and multiplied. */
class LargeTensorTest {
    @TempDir
    Path tmp;

    private static final long ROWS = (1L << 20) + 8, COLS = 1024; // 2,147,500,032 bytes of BF16

    private static float value(long row, long col) {
        return (float) ((row % 7) - 3) + col / 1024f;
    }

    @Test
    void aTensorPast2GiBIsMappedSlicedAndUsedAtItsEnd() throws Exception {
        long bytes = ROWS * COLS * 2;
        assertTrue(bytes > (1L << 31));
        String json = "{\"big\":{\"dtype\":\"BF16\",\"shape\":[" + ROWS + "," + COLS + "],\"data_offsets\":[0," + bytes + "]}}";
        byte[] header = (json + " ".repeat((8 - json.length() % 8) % 8)).getBytes(StandardCharsets.UTF_8);
        Path file = tmp.resolve("big.safetensors");
        long dataStart = 8 + header.length;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(dataStart + bytes); // sparse: only the pages written below take disk space
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            f.write(header);
            ByteBuffer rows = ByteBuffer.allocate((int) (2 * COLS * 2)).order(ByteOrder.LITTLE_ENDIAN);
            for (long r = ROWS - 2; r < ROWS; r++) for (long c = 0; c < COLS; c++) rows.putShort(DType.floatToBf16(value(r, c)));
            f.seek(dataStart + (ROWS - 2) * COLS * 2);
            f.write(rows.array());
        }
        try (WeightStore st = WeightStore.open(file)) {
            Tensor big = st.tensor("big");
            assertEquals(ROWS, big.dim(0));
            Tensor last = big.slice(ROWS - 2, 2);
            assertTrue(last.byteOffset() > Integer.MAX_VALUE, "the slice starts past 2^31 bytes");
            assertEquals(value(ROWS - 1, 1023), last.get(1, 1023), 1e-2);
            assertEquals(value(ROWS - 1, 5), big.get((ROWS - 1) * COLS + 5), 1e-2);
            assertEquals(0f, big.get(12345), 0f, "holes read as zeros");
            Tensor x = Tensor.zeros(1, COLS);
            for (int c = 0; c < COLS; c++) x.set(0, c, (c % 3) - 1);
            double[] want = new double[2];
            for (int r = 0; r < 2; r++) for (int c = 0; c < COLS; c++) want[r] += (double) x.get(0, c) * last.get(r, c);
            ReferenceKernels ref = new ReferenceKernels();
            for (Kernels k : List.of(ref, new VectorKernels(2, ref))) {
                Tensor y = Tensor.zeros(1, 2);
                k.linearForward(x, last, null, y);
                for (int r = 0; r < 2; r++) assertEquals(want[r], y.get(0, r), 1e-3, k.name() + " row " + r);
            }
        }
    }

    @Test
    void heapTensorsPast2To31ElementsFailClearly() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(1L << 16, 1L << 16));
        assertTrue(e.getMessage().contains("more than a heap tensor holds") && e.getMessage().contains("[65536, 65536]"), e.getMessage());
        assertThrows(ArithmeticException.class, () -> Tensor.count(new long[] {1L << 40, 1L << 40}));
    }
}
