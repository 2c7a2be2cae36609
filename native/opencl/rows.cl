// Row-wise ops: one work-group of ROW_WG items per row of a [M, C] matrix.

__kernel void softmax_fwd(int C, __global const float* x, __global float* y) {
    __local float s[ROW_WG];
    long row = get_group_id(0) * (long) C;
    int l = get_local_id(0);
    float mx = -INFINITY;
    for (int j = l; j < C; j += ROW_WG) mx = fmax(mx, x[row + j]);
    mx = wg_max(mx, s);
    float sum = 0.0f;
    for (int j = l; j < C; j += ROW_WG) sum += exp(x[row + j] - mx);
    sum = wg_sum(sum, s);
    for (int j = l; j < C; j += ROW_WG) y[row + j] = exp(x[row + j] - mx) / sum;
}

__kernel void softmax_bwd(int C, __global const float* dy, __global const float* y, __global float* dx) {
    __local float s[ROW_WG];
    long row = get_group_id(0) * (long) C;
    int l = get_local_id(0);
    float dot = 0.0f;
    for (int j = l; j < C; j += ROW_WG) dot += dy[row + j] * y[row + j];
    dot = wg_sum(dot, s);
    for (int j = l; j < C; j += ROW_WG) dx[row + j] += y[row + j] * (dy[row + j] - dot);
}

__kernel void layernorm_fwd(int C, float eps, __global const float* x,
                            __global const void* gamma, int gdt, __global const void* beta, int bdt,
                            __global float* y, __global float* mean, __global float* rstd) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    float sum = 0.0f;
    for (int j = l; j < C; j += ROW_WG) sum += x[row + j];
    float mu = wg_sum(sum, s) / C;
    float sq = 0.0f;
    for (int j = l; j < C; j += ROW_WG) { float d = x[row + j] - mu; sq += d * d; }
    float rs = rsqrt(wg_sum(sq, s) / C + eps);
    for (int j = l; j < C; j += ROW_WG) y[row + j] = (x[row + j] - mu) * rs * ld(gamma, gdt, j) + ld(beta, bdt, j);
    if (l == 0) { mean[r] = mu; rstd[r] = rs; }
}

// dx += r · (g − mean(g) − x̂ · mean(g ⊙ x̂)), g = dy ⊙ γ, x̂ = (x − μ)·r.
__kernel void layernorm_bwd_dx(int C, __global const float* dy, __global const float* x,
                               __global const void* gamma, int gdt, __global const float* mean,
                               __global const float* rstd, __global float* dx) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    float mu = mean[r], rs = rstd[r], mg = 0.0f, mgx = 0.0f;
    for (int j = l; j < C; j += ROW_WG) {
        float g = dy[row + j] * ld(gamma, gdt, j);
        mg += g;
        mgx += g * (x[row + j] - mu) * rs;
    }
    mg = wg_sum(mg, s) / C;
    mgx = wg_sum(mgx, s) / C;
    for (int j = l; j < C; j += ROW_WG) {
        float xh = (x[row + j] - mu) * rs;
        dx[row + j] += rs * (dy[row + j] * ld(gamma, gdt, j) - mg - xh * mgx);
    }
}

// dgamma[j] += Σ_rows dy·x̂ (layer norm: x̂ = (x − μ)·r; rms norm: pass mean = null → μ = 0),
// dbeta[j] += Σ_rows dy. One work-item per column; hasMean/hasDg/hasDb select the parts.
__kernel void norm_bwd_params(int M, int C, __global const float* dy, __global const float* x,
                              __global const float* mean, int hasMean, __global const float* rstd,
                              __global float* dgamma, int hasDg, __global float* dbeta, int hasDb) {
    int j = get_global_id(0);
    if (j >= C) return;
    float sg = 0.0f, sb = 0.0f;
    for (int i = 0; i < M; i++) {
        float d = dy[(long) i * C + j];
        float mu = hasMean ? mean[i] : 0.0f;
        sg += d * (x[(long) i * C + j] - mu) * rstd[i];
        sb += d;
    }
    if (hasDg) dgamma[j] += sg;
    if (hasDb) dbeta[j] += sb;
}

__kernel void rmsnorm_fwd(int C, float eps, __global const float* x, __global const void* gamma, int gdt,
                          __global float* y, __global float* rstd) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    float sq = 0.0f;
    for (int j = l; j < C; j += ROW_WG) sq += x[row + j] * x[row + j];
    float rs = rsqrt(wg_sum(sq, s) / C + eps);
    for (int j = l; j < C; j += ROW_WG) y[row + j] = x[row + j] * rs * ld(gamma, gdt, j);
    if (l == 0) rstd[r] = rs;
}

// dx += r · (g − x̂ · mean(g ⊙ x̂)), g = dy ⊙ γ, x̂ = x·r.
__kernel void rmsnorm_bwd_dx(int C, __global const float* dy, __global const float* x,
                             __global const void* gamma, int gdt, __global const float* rstd,
                             __global float* dx) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    float rs = rstd[r], mgx = 0.0f;
    for (int j = l; j < C; j += ROW_WG) mgx += dy[row + j] * ld(gamma, gdt, j) * x[row + j] * rs;
    mgx = wg_sum(mgx, s) / C;
    for (int j = l; j < C; j += ROW_WG) {
        dx[row + j] += rs * (dy[row + j] * ld(gamma, gdt, j) - x[row + j] * rs * mgx);
    }
}

// Cross-entropy per row: loss = logsumexp − logit[target]; counted = 0 for ignored rows.
__kernel void cross_entropy_fwd(int C, __global const float* logits, __global const int* targets,
                                int ignoreIndex, __global float* losses) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    int t = targets[r];
    float mx = -INFINITY;
    for (int j = l; j < C; j += ROW_WG) mx = fmax(mx, logits[row + j]);
    mx = wg_max(mx, s);
    float sum = 0.0f;
    for (int j = l; j < C; j += ROW_WG) sum += exp(logits[row + j] - mx);
    sum = wg_sum(sum, s);
    if (l == 0) losses[r] = t == ignoreIndex ? 0.0f : mx + log(sum) - logits[row + t];
}

// dlogits += scale · (softmax − onehot(target)) for counted rows.
__kernel void cross_entropy_bwd(int C, __global const float* logits, __global const int* targets,
                                int ignoreIndex, float scale, __global float* dlogits) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    int t = targets[r];
    // Ignored rows still run the reductions: every work-item of a group must reach each barrier
    // (PoCL hangs on a group that returns early, uniform or not).
    float mx = -INFINITY;
    for (int j = l; j < C; j += ROW_WG) mx = fmax(mx, logits[row + j]);
    mx = wg_max(mx, s);
    float sum = 0.0f;
    for (int j = l; j < C; j += ROW_WG) sum += exp(logits[row + j] - mx);
    sum = wg_sum(sum, s);
    if (t == ignoreIndex) return;
    for (int j = l; j < C; j += ROW_WG) {
        float p = exp(logits[row + j] - mx) / sum;
        dlogits[row + j] += scale * (p - (j == t ? 1.0f : 0.0f));
    }
}
