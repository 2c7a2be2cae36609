// Task heads on the device, so a training step needs no host round trip beyond its inputs and the
// loss: sentence pooling (mask mean, first token), the pooler's tanh, the chunked LM cross-entropy
// (online logsumexp over vocabulary tiles) and the global squared norm of gradient clipping.

// out[b, j] = Σ_t mask[b·T+t]·hidden[b·T+t, j] / max(Σ_t mask[b·T+t], 1e-9); one work-item per (j, b).
__kernel void mean_pool_fwd(int T, int C, __global const float* hidden, __global const int* mask, __global float* out) {
    int j = get_global_id(0), b = get_global_id(1);
    if (j >= C) return;
    float acc = 0.0f, count = 0.0f;
    for (int t = 0; t < T; t++) {
        int m = mask[b * T + t];
        if (m == 0) continue;
        acc += m * hidden[((long) b * T + t) * C + j];
        count += m;
    }
    out[(long) b * C + j] = acc / fmax(count, 1e-9f);
}

// dhidden[b·T+t, j] += mask[b·T+t] · dout[b, j] / count_b; one work-item per (j, b·T+t).
__kernel void mean_pool_bwd(int T, int C, __global const float* dout, __global const int* mask, __global float* dhidden) {
    int j = get_global_id(0);
    long r = get_global_id(1);
    if (j >= C) return;
    int m = mask[r];
    if (m == 0) return;
    int b = (int) (r / T);
    float count = 0.0f;
    for (int t = 0; t < T; t++) count += mask[b * T + t];
    dhidden[r * C + j] += m * (dout[(long) b * C + j] / fmax(count, 1e-9f));
}

// out[b, j] = hidden[b·T, j] (the first token); one work-item per (j, b).
__kernel void cls_pool_fwd(int T, int C, __global const float* hidden, __global float* out) {
    int j = get_global_id(0), b = get_global_id(1);
    if (j < C) out[(long) b * C + j] = hidden[(long) b * T * C + j];
}

// dhidden[b·T, j] += dout[b, j].
__kernel void cls_pool_bwd(int T, int C, __global const float* dout, __global float* dhidden) {
    int j = get_global_id(0), b = get_global_id(1);
    if (j < C) dhidden[(long) b * T * C + j] += dout[(long) b * C + j];
}

__kernel void tanh_fwd(long n, __global const float* x, __global float* y) {
    long i = get_global_id(0);
    if (i < n) y[i] = tanh(x[i]);
}

// dx += dy · (1 − y²), y the forward's output.
__kernel void tanh_bwd(long n, __global const float* dy, __global const float* y, __global float* dx) {
    long i = get_global_id(0);
    if (i < n) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

// One row of a logits tile [rows, C] (vocabulary entries v0 .. v0+C) into the row's state
// (running max, running Σexp, target logit): online logsumexp. first: the state starts here.
__kernel void chunked_ce_fwd(int C, long v0, int first, __global const float* logits, __global const int* targets,
                             __global float* state) {
    __local float s[ROW_WG];
    int r = get_group_id(0), l = get_local_id(0);
    long row = r * (long) C;
    float mx = -INFINITY;
    for (int j = l; j < C; j += ROW_WG) mx = fmax(mx, logits[row + j]);
    mx = wg_max(mx, s);
    float sum = 0.0f;
    for (int j = l; j < C; j += ROW_WG) sum += exp(logits[row + j] - mx);
    sum = wg_sum(sum, s);
    if (l != 0) return;
    float m0 = first ? -INFINITY : state[3 * r], s0 = first ? 0.0f : state[3 * r + 1];
    float m = fmax(m0, mx);
    state[3 * r] = m;
    state[3 * r + 1] = (s0 == 0.0f ? 0.0f : s0 * exp(m0 - m)) + sum * exp(mx - m);
    long t = targets[r] - v0;
    if (t >= 0 && t < C) state[3 * r + 2] = logits[row + t];
    else if (first) state[3 * r + 2] = 0.0f;
}

// lse[r] = max + log(Σexp) per row; total[0] = Σ over counted rows of lse − target logit. One work-group.
__kernel void chunked_ce_loss(int M, int ignoreIndex, __global const float* state, __global const int* targets,
                              __global float* lse, __global float* total) {
    __local float s[ROW_WG];
    int l = get_local_id(0);
    float acc = 0.0f;
    for (int r = l; r < M; r += ROW_WG) {
        float v = state[3 * r] + log(state[3 * r + 1]);
        lse[r] = v;
        if (targets[r] != ignoreIndex) acc += v - state[3 * r + 2];
    }
    acc = wg_sum(acc, s);
    if (l == 0) total[0] = acc;
}

// A logits tile turned in place into scale · (softmax − onehot(target)) with the forward's lse;
// ignored rows become 0. One work-item per (j, row).
__kernel void chunked_ce_bwd(int C, long v0, int ignoreIndex, float scale, __global const int* targets,
                             __global const float* lse, __global float* logits) {
    int j = get_global_id(0), r = get_global_id(1);
    if (j >= C) return;
    long i = (long) r * C + j;
    int t = targets[r];
    if (t == ignoreIndex) { logits[i] = 0.0f; return; }
    float g = scale * exp(logits[i] - lse[r]);
    if (t - v0 == j) g -= scale;
    logits[i] = g;
}

// Σ of n partial sums into out[0] (one work-group of ROW_WG): the global squared norm, one scalar.
__kernel void sum_reduce(long n, __global const float* partial, __global float* out) {
    __local float s[ROW_WG];
    float acc = 0.0f;
    for (long i = get_local_id(0); i < n; i += ROW_WG) acc += partial[i];
    acc = wg_sum(acc, s);
    if (get_local_id(0) == 0) out[0] = acc;
}
