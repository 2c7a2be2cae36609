package dev.xgblora.adapt;

import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.LowRankMerge;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LoraAdapter;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.List;

/** Folding low-rank factors into a weight matrix, in float32 with double inner sums. */
public final class Merge {
    private Merge() {
    }

    /**
     * W += factor · B·A. A BF16/F16 or mapped weight first becomes an F32 working copy (once);
     * later merges add into that copy, so nothing is rounded to low precision again.
     */
    public static void into(Param weight, float[] a, float[] b, int rank, float factor) {
        into(weight, a, b, rank, factor, null);
    }

    /**
     * {@link #into(Param, float[], float[], int, float)} on {@code k} when it is a backend that
     * merges where the weight lives ({@link LowRankMerge}: an OpenCL device keeps W resident and
     * only the factors travel); on the host otherwise (k null or a CPU backend).
     */
    public static void into(Param weight, float[] a, float[] b, int rank, float factor, Kernels k) {
        Tensor w = weight.ensureWritableF32();
        int out = (int) w.dim(0), in = (int) w.dim(1);
        if (a.length != rank * in || b.length != out * rank) {
            throw new IllegalArgumentException("merge into '" + weight.name() + "' [" + out + ", " + in + "]: factors of rank "
                    + rank + " have " + a.length + " and " + b.length + " values");
        }
        if (k instanceof LowRankMerge device) {
            device.mergeInto(w, Tensor.fromArray(a, rank, in), Tensor.fromArray(b, out, rank), factor);
            return;
        }
        float[] wv = w.heapArray();
        for (int i = 0; i < out; i++) {
            int row = i * in;
            for (int j = 0; j < in; j++) {
                double s = 0;
                for (int r = 0; r < rank; r++) s += (double) b[i * rank + r] * a[r * in + j];
                wv[row + j] += (float) (factor * s);
            }
        }
    }

    /** ‖factor · B·A‖_F from the small Gram matrices: ‖BA‖² = Σ (BᵀB)∘(AAᵀ). */
    public static double frobenius(float[] a, float[] b, int rank, int in, int out, float factor) {
        double sum = 0;
        for (int p = 0; p < rank; p++) {
            for (int q = 0; q < rank; q++) {
                double bb = 0, aa = 0;
                for (int i = 0; i < out; i++) bb += (double) b[i * rank + p] * b[i * rank + q];
                for (int j = 0; j < in; j++) aa += (double) a[p * in + j] * a[q * in + j];
                sum += bb * aa;
            }
        }
        return Math.abs(factor) * Math.sqrt(Math.max(0, sum));
    }

    /**
     * Sets {@code lin}'s factored merged boosters to the stack of {@code boosters} (all of them for
     * this module, in merge order): V = the stacked A rows, U = the stacked B columns with each
     * booster's factor folded in, the same stacking the PEFT export writes.
     */
    public static void setFactors(Linear lin, List<Booster> boosters) {
        if (boosters.isEmpty()) {
            lin.setMergedFactors(null);
            return;
        }
        PeftAdapter.Module m = PeftAdapter.stack(boosters, n -> lin.name()).get(lin.name());
        lin.setMergedFactors(new LoraAdapter(new Param(lin.name() + ".merged_V", m.a(), false),
                new Param(lin.name() + ".merged_U", m.b(), false), m.scaling()));
    }

    /**
     * The weight of {@code lin} with its factored boosters folded in, as a new tensor of dtype
     * {@code t} (F32 on the heap when arena is null, else in the arena); the weight itself is
     * unchanged. Sums in float per row: W[i, :] + Σ_k U[i, k]·V[k, :].
     */
    public static Tensor folded(Linear lin, DType t, Arena arena) {
        Tensor w = lin.weight().value();
        LoraAdapter f = lin.mergedFactors();
        if (f == null) throw new IllegalStateException(lin.name() + " has no factored boosters to fold");
        int out = lin.out(), in = lin.in(), k = f.rank();
        float[] u = f.b().value().toFloatArray(), v = f.a().value().toFloatArray();
        float scale = f.scale();
        Tensor dst = t == DType.F32 && arena == null ? Tensor.zeros(out, in) : Tensor.allocate(arena, t, out, in);
        float[] row = new float[in];
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < in; j++) row[j] = w.get(i, j);
            for (int q = 0; q < k; q++) {
                float c = scale * u[i * k + q];
                int base = q * in;
                for (int j = 0; j < in; j++) row[j] += c * v[base + j];
            }
            for (int j = 0; j < in; j++) dst.set(i, j, row[j]);
        }
        return dst.named(w.name());
    }
}
