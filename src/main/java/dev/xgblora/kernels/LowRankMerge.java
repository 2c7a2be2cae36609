package dev.xgblora.kernels;

import dev.xgblora.tensor.Tensor;

/**
 * A backend that merges W += scale·B·A where W lives (a device: the weight stays resident, only
 * the small factors travel). adapt.Merge uses it when the training backend offers it; otherwise it
 * merges on the host with double inner sums.
 */
public interface LowRankMerge {
    /** W[N,K] += scale · B[N,r] · A[r,K]; W is F32. */
    void mergeInto(Tensor w, Tensor a, Tensor b, float scale);
}
