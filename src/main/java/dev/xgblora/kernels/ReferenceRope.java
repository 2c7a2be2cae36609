package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/** Rotary position embedding for {@link ReferenceKernels} (Hugging Face "rotate_half" layout). */
final class ReferenceRope {
    private ReferenceRope() {
    }

    /**
     * Rotates each (i, i + D/2) pair of every head by sign · positions[b·T+t] · invFreq[i].
     * Forward writes out (out may be x); backward (sign −1) accumulates into out.
     */
    static void rotate(String op, Tensor x, int[] positions, float[] invFreq, Tensor out, int sign, boolean accumulate) {
        checkArguments(op, x, positions, invFreq);
        long b = x.dim(0), t = x.dim(1), h = x.dim(2), d = x.dim(3);
        int half = (int) (d / 2);
        Mat mx = Mat.of(x, op + " input");
        Mat mo = Mat.of(out, op + " output", b * t * h, d);
        if (accumulate) mo.requireF32(op + " output");
        for (long bt = 0; bt < b * t; bt++) {
            for (long hi = 0; hi < h; hi++) {
                long row = bt * h + hi;
                for (int i = 0; i < half; i++) {
                    // The angle is rounded to float as Hugging Face computes it (inv_freq @ positions in F32).
                    float angle = positions[(int) bt] * invFreq[i];
                    double cos = Math.cos(angle), sin = sign * Math.sin(angle);
                    double x1 = mx.get(row, i), x2 = mx.get(row, i + half);
                    double y1 = x1 * cos - x2 * sin;
                    double y2 = x2 * cos + x1 * sin;
                    if (accumulate) {
                        mo.add(row, i, y1);
                        mo.add(row, i + half, y2);
                    } else {
                        mo.set(row, i, (float) y1);
                        mo.set(row, i + half, (float) y2);
                    }
                }
            }
        }
    }

    /** x is [B, T, H, D] with D even, one position per (b, t) and D/2 frequencies; else a clear error. */
    static void checkArguments(String op, Tensor x, int[] positions, float[] invFreq) {
        if (x == null || x.rank() != 4) {
            throw new IllegalArgumentException(op + ": input must be [B, T, H, D], got " + (x == null ? "null" : x.describe()));
        }
        long b = x.dim(0), t = x.dim(1), d = x.dim(3);
        if (d % 2 != 0) throw new IllegalArgumentException(op + ": head dimension " + d + " must be even");
        int half = (int) (d / 2);
        if (positions.length != b * t) {
            throw new IllegalArgumentException(op + ": " + positions.length + " positions given, expected B*T = " + b * t);
        }
        if (invFreq.length != half) {
            throw new IllegalArgumentException(op + ": " + invFreq.length + " inverse frequencies given, expected D/2 = " + half);
        }
    }
}
