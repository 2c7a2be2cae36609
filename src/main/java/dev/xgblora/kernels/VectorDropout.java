package dev.xgblora.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteOrder;

/**
 * Inverted dropout for {@link VectorKernels}, with the reference's masks bit for bit. The reference
 * draws element i's keep test from {@code new SplittableRandom(seed).nextDouble()} called i + 1
 * times; that generator's state after i + 1 calls is seed + (i + 1)·γ and its output is a fixed
 * mix of that state, so every element's draw is computed directly, L lanes at a time, in any order
 * and on any thread. {@code nextDouble() ≥ p} is the integer test (bits >>> 11) ≥ ⌈p·2^53⌉.
 */
final class VectorDropout {
    /** 64-bit lanes, and floats with as many lanes (half the bit size). */
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> FS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(LS.vectorBitSize() / 2));
    private static final int L = LS.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int FLAT_GRAIN = 1 << 14;
    /** java.util.SplittableRandom's default gamma and its output mix (Stafford variant 13). */
    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
    private static final long MIX1 = 0xbf58476d1ce4e5b9L, MIX2 = 0x94d049bb133111ebL;
    private static final long[] LANE_INDEX = new long[L];

    static {
        for (int i = 0; i < L; i++) LANE_INDEX[i] = i;
    }

    private VectorDropout() {
    }

    /** mask[i] = keep ? 1/(1−p) : 0, y = x ⊙ mask; all flat F32 of one length. */
    static void forward(KernelPool pool, Operand x, float p, long seed, Operand mask, Operand y) {
        if (!(p >= 0f && p <= 1f)) throw new IllegalArgumentException("dropoutForward: p must be in [0, 1], got " + p);
        requireSameLength(x, mask, "dropoutForward mask");
        requireSameLength(x, y, "dropoutForward y");
        float keepScale = (float) (1.0 / (1.0 - p));
        long threshold = (long) Math.ceil(p * 0x1p53);
        LongVector lanes = LongVector.fromArray(LS, LANE_INDEX, 0);
        FloatVector keepV = FloatVector.broadcast(FS, keepScale), zero = FloatVector.zero(FS);
        pool.forRange(x.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) {
                LongVector z = lanes.add(i + 1L).mul(GOLDEN_GAMMA).add(seed);
                z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(MIX1);
                z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(MIX2);
                z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
                VectorMask<Float> keep = z.lanewise(VectorOperators.LSHR, 11).compare(VectorOperators.GE, threshold).cast(FS);
                FloatVector m = zero.blend(keepV, keep);
                m.intoMemorySegment(mask.seg(), (mask.offset() + i) * 4, LE);
                FloatVector.fromMemorySegment(FS, x.seg(), (x.offset() + i) * 4, LE).mul(m)
                        .intoMemorySegment(y.seg(), (y.offset() + i) * 4, LE);
            }
            for (; i < e; i++) {
                long z = seed + (i + 1L) * GOLDEN_GAMMA;
                z = (z ^ (z >>> 30)) * MIX1;
                z = (z ^ (z >>> 27)) * MIX2;
                z ^= z >>> 31;
                float m = (z >>> 11) >= threshold ? keepScale : 0f;
                mask.seg().setAtIndex(Operand.F32, mask.offset() + i, m);
                y.seg().setAtIndex(Operand.F32, y.offset() + i, x.seg().getAtIndex(Operand.F32, x.offset() + i) * m);
            }
        });
    }

    /** dx += dy ⊙ mask. */
    static void backward(KernelPool pool, Operand dy, Operand mask, Operand dx) {
        requireSameLength(mask, dy, "dropoutBackward dy");
        requireSameLength(mask, dx, "dropoutBackward dx");
        pool.forRange(mask.cols(), FLAT_GRAIN, (s, e) -> {
            int i = s;
            for (; i + L <= e; i += L) {
                long at = (dx.offset() + i) * 4;
                FloatVector.fromMemorySegment(FS, dy.seg(), (dy.offset() + i) * 4, LE)
                        .mul(FloatVector.fromMemorySegment(FS, mask.seg(), (mask.offset() + i) * 4, LE))
                        .add(FloatVector.fromMemorySegment(FS, dx.seg(), at, LE))
                        .intoMemorySegment(dx.seg(), at, LE);
            }
            for (; i < e; i++) {
                float d = dy.seg().getAtIndex(Operand.F32, dy.offset() + i) * mask.seg().getAtIndex(Operand.F32, mask.offset() + i);
                dx.seg().setAtIndex(Operand.F32, dx.offset() + i, dx.seg().getAtIndex(Operand.F32, dx.offset() + i) + d);
            }
        });
    }

    private static void requireSameLength(Operand a, Operand b, String what) {
        if (a.cols() != b.cols()) {
            throw new IllegalArgumentException(what + ": " + b.cols() + " elements, expected " + a.cols());
        }
    }
}
