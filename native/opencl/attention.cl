// Fused scaled dot-product attention, the straightforward version (Kernels.attentionForward /
// attentionBackward): no [T, S] probabilities are stored. q, out, dout, dq: [B,T,Hq,D];
// k, v, dk, dv: [B,S,Hkv,D]; lse, delta: [B,Hq,T]. Query head h reads kv head h / (Hq/Hkv) (K and V
// are never repeated). Query t sits at position p = t + S − T (the first S − T keys are a cache).
// The mask (AttentionMask) hides key s from that query when: keyValid[b,s] == 0 (hasValid), s > p
// (causal), s <= p − window (window > 0), segments[b·S+s] != segments[b·S+p] (hasSeg).
// A query with no visible key gets an all-zero output and lse = −inf.

inline long q_row(int b, int t, int h, int T, int Hq) { return ((long) b * T + t) * Hq + h; }
inline long kv_row(int b, int s, int hk, int S, int Hkv) { return ((long) b * S + s) * Hkv + hk; }
inline long lse_row(int b, int h, int t, int Hq, int T) { return ((long) b * Hq + h) * T + t; }

inline bool key_visible(int b, int p, int s, int S, __global const float* keyValid, int hasValid,
                        int causal, int window, __global const int* seg, int hasSeg) {
    if (hasValid && keyValid[(long) b * S + s] == 0.0f) return false;
    if (causal && s > p) return false;
    if (window > 0 && s <= p - window) return false;
    return !hasSeg || seg[(long) b * S + s] == seg[(long) b * S + p];
}

inline float dot_rows(__global const float* a, long ar, __global const float* b, long br, int D) {
    float acc = 0.0f;
    for (int d = 0; d < D; d++) acc += a[ar + d] * b[br + d];
    return acc;
}

// Forward, one work-item per (query t, query head h, batch b): an online softmax over the keys
// (running max m and sum l, the output row rescaled when m grows), accumulated in out itself, which
// only this work-item writes; then out /= l and lse = m + log l.
__kernel void attention_fwd(int T, int S, int Hq, int Hkv, int D,
                            __global const float* q, __global const float* k, __global const float* v,
                            __global const float* keyValid, int hasValid, int causal, int window,
                            __global const int* seg, int hasSeg, float scale,
                            __global float* out, __global float* lse) {
    int t = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (t >= T) return;
    int hk = h / (Hq / Hkv), p = t + (S - T);
    long qr = q_row(b, t, h, T, Hq) * D;
    for (int d = 0; d < D; d++) out[qr + d] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int s = 0; s < S; s++) {
        if (!key_visible(b, p, s, S, keyValid, hasValid, causal, window, seg, hasSeg)) continue;
        long kr = kv_row(b, s, hk, S, Hkv) * D;
        float score = dot_rows(q, qr, k, kr, D) * scale;
        if (score > m) {
            float alpha = exp(m - score); // 0 for the first visible key (m = −inf)
            l *= alpha;
            for (int d = 0; d < D; d++) out[qr + d] *= alpha;
            m = score;
        }
        float e = exp(score - m);
        l += e;
        for (int d = 0; d < D; d++) out[qr + d] += e * v[kr + d];
    }
    if (l > 0.0f) {
        float inv = 1.0f / l;
        for (int d = 0; d < D; d++) out[qr + d] *= inv;
    }
    lse[lse_row(b, h, t, Hq, T)] = l > 0.0f ? m + log(l) : -INFINITY;
}

// Backward, part 1, per (t, h, b): delta = Σ dout·out (= Σ_s P·dP), kept for part 2; then, when
// hasDq, dq += scale · Σ_s dS·k with P = exp(scale·q·k − lse) recomputed and
// dS = P ⊙ (dout·v − delta). acc is a scratch row of this work-item (sum apart, added to dq once).
__kernel void attention_bwd_q(int T, int S, int Hq, int Hkv, int D,
                              __global const float* dout, __global const float* q, __global const float* k,
                              __global const float* v, __global const float* out, __global const float* lse,
                              __global const float* keyValid, int hasValid, int causal, int window,
                              __global const int* seg, int hasSeg, float scale,
                              __global float* delta, __global float* acc, __global float* dq, int hasDq) {
    int t = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (t >= T) return;
    int hk = h / (Hq / Hkv), p = t + (S - T);
    long qr = q_row(b, t, h, T, Hq) * D, lr = lse_row(b, h, t, Hq, T);
    float dl = dot_rows(dout, qr, out, qr, D);
    delta[lr] = dl;
    if (!hasDq) return;
    float rowLse = lse[lr];
    for (int d = 0; d < D; d++) acc[qr + d] = 0.0f;
    for (int s = 0; s < S; s++) {
        if (!key_visible(b, p, s, S, keyValid, hasValid, causal, window, seg, hasSeg)) continue;
        long kr = kv_row(b, s, hk, S, Hkv) * D;
        float pr = exp(dot_rows(q, qr, k, kr, D) * scale - rowLse);
        float ds = pr * (dot_rows(dout, qr, v, kr, D) - dl);
        for (int d = 0; d < D; d++) acc[qr + d] += ds * k[kr + d];
    }
    for (int d = 0; d < D; d++) dq[qr + d] += scale * acc[qr + d];
}

// Backward, part 2, per (key s, kv head hk, batch b): dv += Σ P·dout and dk += scale · Σ dS·q over
// the grouped query heads and every query that sees key s, in a fixed order, so no two work-items
// write the same row and the sums do not depend on scheduling. accK, accV: scratch rows [B,S,Hkv,D].
__kernel void attention_bwd_kv(int T, int S, int Hq, int Hkv, int D,
                               __global const float* dout, __global const float* q, __global const float* k,
                               __global const float* v, __global const float* lse, __global const float* delta,
                               __global const float* keyValid, int hasValid, int causal, int window,
                               __global const int* seg, int hasSeg, float scale,
                               __global float* accK, __global float* accV,
                               __global float* dk, int hasDk, __global float* dv, int hasDv) {
    int s = get_global_id(0), hk = get_global_id(1), b = get_global_id(2);
    if (s >= S) return;
    int group = Hq / Hkv;
    long kr = kv_row(b, s, hk, S, Hkv) * D;
    for (int d = 0; d < D; d++) {
        accK[kr + d] = 0.0f;
        accV[kr + d] = 0.0f;
    }
    for (int h = hk * group; h < (hk + 1) * group; h++) {
        for (int t = 0; t < T; t++) {
            if (!key_visible(b, t + (S - T), s, S, keyValid, hasValid, causal, window, seg, hasSeg)) continue;
            long qr = q_row(b, t, h, T, Hq) * D, lr = lse_row(b, h, t, Hq, T);
            float pr = exp(dot_rows(q, qr, k, kr, D) * scale - lse[lr]);
            float ds = pr * (dot_rows(dout, qr, v, kr, D) - delta[lr]);
            for (int d = 0; d < D; d++) {
                accV[kr + d] += pr * dout[qr + d];
                accK[kr + d] += ds * q[qr + d];
            }
        }
    }
    for (int d = 0; d < D; d++) {
        if (hasDk) dk[kr + d] += scale * accK[kr + d];
        if (hasDv) dv[kr + d] += accV[kr + d];
    }
}
