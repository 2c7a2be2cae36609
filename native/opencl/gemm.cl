// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] (+ bias[N]), or C += that when accumulate != 0.
// Transposes are strides: A(i,k) = A[aoff + i·ars + k·acs], B(k,j) = B[boff + k·brs + j·bcs],
// so linear forward (B = Wᵀ), dX (B = W), dW (A = dYᵀ), the rank-r adapter paths and the merge
// W += s·B·A are all this one kernel. 16×16 tiles staged in local memory, float accumulation.
#define TS 16

__kernel void gemm(int M, int N, int K,
                   __global const void* A, int adt, long aoff, long ars, long acs,
                   __global const void* B, int bdt, long boff, long brs, long bcs,
                   __global float* C, long coff, long crs,
                   float alpha, int accumulate, __global const float* bias, int hasBias) {
    __local float As[TS][TS + 1];
    __local float Bs[TS][TS + 1];
    int li = get_local_id(1), lj = get_local_id(0);
    int i = get_group_id(1) * TS + li, j = get_group_id(0) * TS + lj;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TS) {
        int ka = k0 + lj, kb = k0 + li;
        As[li][lj] = (i < M && ka < K) ? ld(A, adt, aoff + (long) i * ars + (long) ka * acs) : 0.0f;
        Bs[li][lj] = (kb < K && j < N) ? ld(B, bdt, boff + (long) kb * brs + (long) j * bcs) : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TS; kk++) acc += As[li][kk] * Bs[kk][lj];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (i < M && j < N) {
        long c = coff + (long) i * crs + j;
        float v = alpha * acc;
        if (hasBias) v += bias[j];
        C[c] = accumulate ? C[c] + v : v;
    }
}

// db[N] += Σ_rows dy[M,N]: one work-item per column.
__kernel void column_sums(int M, int N, __global const float* dy, __global float* db) {
    int j = get_global_id(0);
    if (j >= N) return;
    float s = 0.0f;
    for (int i = 0; i < M; i++) s += dy[(long) i * N + j];
    db[j] += s;
}
