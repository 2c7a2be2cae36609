package dev.xgblora.kernels;

import dev.xgblora.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Packed, register-blocked matrix multiply: C[M,N] (+)= A[M,K] · B[K,N] (+ bias[N]).
 *
 * <p>BLIS layout: B is packed per (NC columns × KC depth) block into NR-wide column panels, A per
 * (MC rows × KC depth) block into MR-tall row panels, and a micro-kernel keeps an MR × NR tile of C
 * in MR·NV vector registers (6 × 4 vectors of 16 lanes with AVX-512). Packing is where BF16/F16
 * weights are widened and where transposes disappear, so the micro-kernel only ever sees
 * contiguous F32. Each C element is summed in the same order whatever the thread split, so
 * results are bitwise independent of the thread count.
 */
final class VectorGemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final int MR = 6;
    /** Vectors per micro-tile row: 4 needs 24 accumulators (32 registers, AVX-512); 2 fits 16. */
    static final int NV = L >= 16 ? 4 : 2;
    static final int NR = NV * L;
    /**
     * Depth block. 512 rather than 256: an accumulating GEMM (dX, dW) re-reads and re-writes its
     * whole C once per depth block, and with K = 1536 (BERT FFN) or M = 2048 (dW over a batch) that
     * C traffic was 12-17% of a MiniLM training step; 512 cut the step's CPU time by ~13-20%
     * (bench step --method full) for 2 MiB more pack buffer per thread.
     */
    static final int KC = Integer.getInteger("xgblora.gemm.kc", 512);
    static final int MC = roundUp(Integer.getInteger("xgblora.gemm.mc", 72), MR);
    static final int NC = roundUp(Integer.getInteger("xgblora.gemm.nc", 2048), NR);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256;
    private static final VectorMask<Float> FIRST_MR = S8.indexInRange(0, MR);
    private static final int[] STRIDE_MR = java.util.stream.IntStream.range(0, L).map(l -> l * MR).toArray();

    /** Per-thread pack buffers, grown once and reused: no allocation in the hot path. */
    private static final class Workspace {
        // Full size up front (KC·NC floats of B, 4 MiB by default): a buffer that grows later is a
        // branch the JIT never saw taken, and taking it deoptimizes the compiled kernels.
        final float[] a = new float[MC * KC];
        final float[] b = new float[KC * NC];
        final float[] bias = new float[NC];
        final float[] tile = new float[MR * NR];
        final float[] stage = new float[L * L];
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    private VectorGemm() {
    }

    /**
     * C (+)= A·B (+ bias). a is [M,K] F32, b is [K,N] of any dtype, c is F32 at element offset cOff
     * with row stride cRs (columns contiguous). bias may be null; it is added only when not
     * accumulating.
     */
    static void multiply(KernelPool pool, Operand a, Operand b, Operand bias, MemorySegment c, long cOff, long cRs,
                         boolean accumulate) {
        multiply(pool, a, b, bias, null, c, cOff, cRs, accumulate);
    }

    /**
     * {@link #multiply} with a rank-r adapter term added where the bias is, in the first write of
     * each tile (so only when not accumulating): C = A·B + bias + lora. The term is read per tile
     * row, never materialised as a matrix.
     */
    static void multiply(KernelPool pool, Operand a, Operand b, Operand bias, VectorLora.Term lora, MemorySegment c,
                         long cOff, long cRs, boolean accumulate) {
        if (lora != null && accumulate) throw new IllegalArgumentException("an adapter term needs a fresh output");
        int m = a.rows(), k = a.cols(), n = b.cols();
        if (b.rows() != k) throw new IllegalArgumentException("inner dimensions differ: " + k + " vs " + b.rows());
        if (m == 0 || n == 0) return;
        int rowUnits = ceilDiv(m, MR), colUnits = ceilDiv(n, NR);
        if (rowUnits >= 4 * pool.threads() || rowUnits >= colUnits) {
            pool.forRange(m, MR, (m0, m1) -> block(a, b, bias, lora, c, cOff, cRs, accumulate, m0, m1, 0, n));
        } else {
            pool.forRange(n, NR, (n0, n1) -> block(a, b, bias, lora, c, cOff, cRs, accumulate, 0, m, n0, n1));
        }
    }

    /** One thread's share: rows [m0,m1) × columns [n0,n1) of C. */
    private static void block(Operand a, Operand b, Operand bias, VectorLora.Term lora, MemorySegment c, long cOff,
                              long cRs, boolean accumulate, int m0, int m1, int n0, int n1) {
        Workspace w = WORKSPACE.get();
        int k = a.cols();
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc), panels = ceilDiv(nc, NR);
            float[] biasPack = null;
            if (bias != null && !accumulate) {
                biasPack = w.bias;
                java.util.Arrays.fill(biasPack, 0, panels * NR, 0f);
                for (int j = 0; j < nc; j++) biasPack[j] = bias.get(0, jc + j);
            }
            if (k == 0) {
                if (lora != null) throw new IllegalArgumentException("an adapter term needs K > 0");
                if (!accumulate) fillRows(c, cOff, cRs, m0, m1, jc, nc, biasPack);
                continue;
            }
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                packB(b, pc, kc, jc, nc, w.b, w.stage);
                boolean first = pc == 0 && !accumulate;
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    packA(a, ic, mc, pc, kc, w.a);
                    for (int jr = 0; jr < panels; jr++) {
                        int cols = Math.min(NR, nc - jr * NR);
                        for (int ir = 0; ir * MR < mc; ir++) {
                            int rows = Math.min(MR, mc - ir * MR);
                            int row0 = ic + ir * MR, col0 = jc + jr * NR;
                            long cElem = cOff + (long) row0 * cRs + col0;
                            if (NV == 4) {
                                kernel6x4(kc, w.a, ir * kc * MR, w.b, jr * kc * NR, c, cElem * 4, cRs * 4,
                                        rows, cols, first, biasPack, jr * NR, w.tile, lora, row0, col0);
                            } else {
                                kernel6x2(kc, w.a, ir * kc * MR, w.b, jr * kc * NR, c, cElem * 4, cRs * 4,
                                        rows, cols, first, biasPack, jr * NR, w.tile, lora, row0, col0);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void fillRows(MemorySegment c, long cOff, long cRs, int m0, int m1, int jc, int nc, float[] bias) {
        for (int i = m0; i < m1; i++) {
            for (int j = 0; j < nc; j++) {
                c.setAtIndex(Operand.F32, cOff + (long) i * cRs + jc + j, bias == null ? 0f : bias[j]);
            }
        }
    }

    /** Packs B[pc:pc+kc, jc:jc+nc] into NR-wide panels, [panel][p][NR], zero-padded, widened to F32. */
    static void packB(Operand b, int pc, int kc, int jc, int nc, float[] dst, float[] stage) {
        MemorySegment seg = b.seg();
        for (int panel = 0; panel * NR < nc; panel++) {
            int n = jc + panel * NR, width = Math.min(NR, nc - panel * NR);
            int base = panel * kc * NR;
            if (b.cs() == 1 && b.dtype() == DType.F32) {
                // Rows of B are contiguous: copy NV vectors per depth step; masks zero the padding.
                for (int v = 0; v < NV; v++) {
                    VectorMask<Float> mask = S.indexInRange(v * L, width);
                    for (int p = 0; p < kc; p++) {
                        long src = (b.offset() + (pc + p) * b.rs() + n + (long) v * L) * 4;
                        FloatVector.fromMemorySegment(S, seg, src, LE, mask).intoArray(dst, base + p * NR + v * L);
                    }
                }
                continue;
            }
            if (b.cs() == 1 && b.dtype() == DType.BF16 && width == NR) {
                for (int p = 0; p < kc; p++) {
                    long src = b.offset() + (pc + p) * b.rs() + n;
                    for (int v = 0; v < NV; v++) {
                        VectorMatVec.widenBf16(seg, src + (long) v * L, dst, base + p * NR + v * L);
                    }
                }
                continue;
            }
            if (width < NR) {
                for (int p = 0; p < kc; p++) java.util.Arrays.fill(dst, base + p * NR + width, base + p * NR + NR, 0f);
            }
            if (b.rs() == 1) {
                packTransposed(b, pc, kc, n, width, dst, base, stage);
            } else {
                for (int p = 0; p < kc; p++) {
                    long src = b.offset() + (long) (pc + p) * b.rs() + (long) n * b.cs();
                    int d = base + p * NR;
                    long cs = b.cs();
                    switch (b.dtype()) {
                        case F32 -> { for (int j = 0; j < width; j++) dst[d + j] = seg.getAtIndex(Operand.F32, src + j * cs); }
                        case BF16 -> { for (int j = 0; j < width; j++) dst[d + j] = Float.intBitsToFloat(seg.getAtIndex(Operand.I16, src + j * cs) << 16); }
                        case F16 -> { for (int j = 0; j < width; j++) dst[d + j] = Float.float16ToFloat(seg.getAtIndex(Operand.I16, src + j * cs)); }
                    }
                }
            }
        }
    }

    /**
     * The transposed weight of a linear forward: panel column j is the contiguous weight row n + j.
     * With AVX-512, full panels go in 16 × 16 blocks: 16 weight rows are staged (BF16 widened) and
     * transposed in registers ({@link Transpose16}), so each store is a whole panel row segment;
     * the rest, and F16, element by element.
     */
    private static void packTransposed(Operand b, int pc, int kc, int n, int width, float[] dst, int base,
                                       float[] stage) {
        MemorySegment seg = b.seg();
        long cs = b.cs(), row0 = b.offset() + (long) n * cs + pc;
        int p = 0;
        if (L == Transpose16.N && width == NR && b.dtype() != DType.F16) {
            boolean bf16 = b.dtype() == DType.BF16;
            for (; p + L <= kc; p += L) {
                for (int jb = 0; jb < NR; jb += L) {
                    long at = row0 + jb * cs + p;
                    if (bf16) {
                        for (int j = 0; j < L; j++) VectorMatVec.widenBf16(seg, at + j * cs, stage, j * L);
                    } else {
                        for (int j = 0; j < L; j++) FloatVector.fromMemorySegment(S, seg, (at + j * cs) * 4, LE).intoArray(stage, j * L);
                    }
                    Transpose16.transpose(stage, dst, base + p * NR + jb, NR);
                }
            }
        }
        if (p == kc) return;
        for (int j = 0; j < width; j++) {
            long src = row0 + j * cs;
            int d = base + j;
            switch (b.dtype()) {
                case F32 -> { for (int q = p; q < kc; q++) dst[d + q * NR] = seg.getAtIndex(Operand.F32, src + q); }
                case BF16 -> { for (int q = p; q < kc; q++) dst[d + q * NR] = Float.intBitsToFloat(seg.getAtIndex(Operand.I16, src + q) << 16); }
                case F16 -> { for (int q = p; q < kc; q++) dst[d + q * NR] = Float.float16ToFloat(seg.getAtIndex(Operand.I16, src + q)); }
            }
        }
    }

    /** Packs A[ic:ic+mc, pc:pc+kc] (F32) into MR-tall panels, [panel][p][MR], zero-padded. */
    static void packA(Operand a, int ic, int mc, int pc, int kc, float[] dst) {
        if (a.dtype() != DType.F32) throw new IllegalArgumentException("activations must be F32, got " + a.dtype());
        MemorySegment seg = a.seg();
        for (int panel = 0; panel * MR < mc; panel++) {
            int rows = Math.min(MR, mc - panel * MR);
            int base = panel * kc * MR;
            if (rows < MR) {
                for (int p = 0; p < kc; p++) java.util.Arrays.fill(dst, base + p * MR + rows, base + p * MR + MR, 0f);
            }
            long cs = a.cs(), rs = a.rs();
            if (cs == 1) {
                for (int i = 0; i < rows; i++) {
                    long src = a.offset() + (long) (ic + panel * MR + i) * rs + pc;
                    int p = 0;
                    // L depth steps of one row at a time, scattered MR apart into the panel.
                    for (; p + L <= kc; p += L) {
                        FloatVector.fromMemorySegment(S, seg, (src + p) * 4, LE).intoArray(dst, base + i + p * MR, STRIDE_MR, 0);
                    }
                    for (; p < kc; p++) dst[base + i + p * MR] = seg.getAtIndex(Operand.F32, src + p);
                }
            } else {
                // Transposed activations (weight gradient): walk the depth, read MR neighbours per step.
                long src0 = a.offset() + (long) (ic + panel * MR) * rs + (long) pc * cs;
                if (rs == 1 && rows == MR) {
                    // MR neighbours are contiguous: one masked 8-lane copy per depth step.
                    for (int p = 0; p < kc; p++) {
                        FloatVector.fromMemorySegment(S8, seg, (src0 + p * cs) * 4, LE, FIRST_MR)
                                .intoArray(dst, base + p * MR, FIRST_MR);
                    }
                    continue;
                }
                for (int p = 0; p < kc; p++) {
                    long src = src0 + p * cs;
                    for (int i = 0; i < rows; i++) dst[base + p * MR + i] = seg.getAtIndex(Operand.F32, src + i * rs);
                }
            }
        }
    }

    /** The 6 × (4·L) micro-kernel: 24 accumulators, 4 B loads and 1 broadcast per depth step. */
    private static void kernel6x4(int kc, float[] ap, int ao, float[] bp, int bo, MemorySegment c, long cByte,
                                  long rowBytes, int rows, int cols, boolean first, float[] bias, int biasOff,
                                  float[] tile, VectorLora.Term lora, int row0, int col0) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00, c43 = c00;
        FloatVector c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        for (int p = 0; p < kc; p++, ao += MR, bo += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, bp, bo + 3 * L);
            FloatVector a = FloatVector.broadcast(S, ap[ao]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01); c02 = a.fma(b2, c02); c03 = a.fma(b3, c03);
            a = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11); c12 = a.fma(b2, c12); c13 = a.fma(b3, c13);
            a = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21); c22 = a.fma(b2, c22); c23 = a.fma(b3, c23);
            a = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31); c32 = a.fma(b2, c32); c33 = a.fma(b3, c33);
            a = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41); c42 = a.fma(b2, c42); c43 = a.fma(b3, c43);
            a = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51); c52 = a.fma(b2, c52); c53 = a.fma(b3, c53);
        }
        // Stage the tile and let storeTile add bias / C: no vector crosses a call, and this loop
        // holds no branch whose first use (an edge tile, accumulate) could deoptimise it.
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L); c12.intoArray(tile, NR + 2 * L); c13.intoArray(tile, NR + 3 * L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c22.intoArray(tile, 2 * NR + 2 * L); c23.intoArray(tile, 2 * NR + 3 * L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L); c32.intoArray(tile, 3 * NR + 2 * L); c33.intoArray(tile, 3 * NR + 3 * L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c42.intoArray(tile, 4 * NR + 2 * L); c43.intoArray(tile, 4 * NR + 3 * L);
        c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L); c52.intoArray(tile, 5 * NR + 2 * L); c53.intoArray(tile, 5 * NR + 3 * L);
        storeTile(tile, c, cByte, rowBytes, rows, cols, first, first ? bias : null, biasOff, first ? lora : null,
                row0, col0);
    }

    /** The 6 × (2·L) micro-kernel for machines with 16 vector registers. */
    private static void kernel6x2(int kc, float[] ap, int ao, float[] bp, int bo, MemorySegment c, long cByte,
                                  long rowBytes, int rows, int cols, boolean first, float[] bias, int biasOff,
                                  float[] tile, VectorLora.Term lora, int row0, int col0) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++, ao += MR, bo += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector a = FloatVector.broadcast(S, ap[ao]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L);
        storeTile(tile, c, cByte, rowBytes, rows, cols, first, first ? bias : null, biasOff, first ? lora : null,
                row0, col0);
    }

    /**
     * Writes the staged rows × cols of a tile to C: tile (+ bias, + the adapter term, when given)
     * when {@code first}, C + tile otherwise. Whole vectors for full ones, masked for the edge.
     * The tile's first element is C[row0, col0].
     */
    private static void storeTile(float[] tile, MemorySegment c, long cByte, long rowBytes, int rows, int cols,
                                  boolean first, float[] bias, int biasOff, VectorLora.Term lora, int row0, int col0) {
        for (int v = 0; v * L < cols; v++) {
            VectorMask<Float> mask = S.indexInRange(v * L, cols);
            boolean whole = v * L + L <= cols;
            for (int i = 0; i < rows; i++) {
                long at = cByte + i * rowBytes + 4L * v * L;
                FloatVector t = FloatVector.fromArray(S, tile, i * NR + v * L);
                if (bias != null) t = t.add(FloatVector.fromArray(S, bias, biasOff + v * L));
                if (lora != null) {
                    // + Σ_j h[row, j] · (scale·Bᵀ)[j, cols]: bt is zero-padded to whole vectors.
                    long hRow = lora.hOff() + (long) (row0 + i) * lora.hRs();
                    int bAt = col0 + v * L;
                    for (int j = 0; j < lora.rank(); j++, bAt += lora.stride()) {
                        t = FloatVector.fromArray(S, lora.bt(), bAt)
                                .fma(FloatVector.broadcast(S, lora.h().getAtIndex(Operand.F32, hRow + j)), t);
                    }
                }
                // masked access only on the matrix's right edge: C2 left the masked load's call chain un-inlined here
                // (6 % of a LoRA step in ScopedMemoryAccess.loadFromMemorySegmentMaskedScopedInternal)
                if (whole) {
                    if (!first) t = t.add(FloatVector.fromMemorySegment(S, c, at, LE));
                    t.intoMemorySegment(c, at, LE);
                } else {
                    if (!first) t = t.add(FloatVector.fromMemorySegment(S, c, at, LE, mask));
                    t.intoMemorySegment(c, at, LE, mask);
                }
            }
        }
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static int roundUp(int v, int m) {
        return Math.max(m, ceilDiv(v, m) * m);
    }
}
