// Scaled dot-product attention, the straightforward version: one work-item per (batch, query head,
// query). q, out: [B,T,Hq,D]; k, v: [B,S,Hkv,D]; probs, ds: [B,Hq,T,S]. Query head h reads kv head
// h / (Hq/Hkv). keyValid[B,S] (hasValid) masks padding; causal: key s is seen by query t when
// s <= t + S − T. A row with no visible key gets all-zero probabilities and output.

inline long q_row(int b, int t, int h, int T, int Hq) { return ((long) b * T + t) * Hq + h; }
inline long kv_row(int b, int s, int h, int S, int Hkv, int group) { return ((long) b * S + s) * Hkv + h / group; }
inline long p_row(int b, int h, int t, int Hq, int T) { return ((long) b * Hq + h) * T + t; }

__kernel void attention_fwd(int B, int T, int S, int Hq, int Hkv, int D,
                            __global const float* q, __global const float* k, __global const float* v,
                            __global const float* keyValid, int hasValid, int causal, float scale,
                            __global float* probs, __global float* out) {
    int t = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (t >= T) return;
    int group = Hq / Hkv;
    long qr = q_row(b, t, h, T, Hq) * D, pr = p_row(b, h, t, Hq, T) * S;
    float mx = -INFINITY;
    for (int s = 0; s < S; s++) {
        bool visible = (!hasValid || keyValid[(long) b * S + s] != 0.0f) && (!causal || s <= t + (S - T));
        float score = -INFINITY;
        if (visible) {
            long kr = kv_row(b, s, h, S, Hkv, group) * D;
            float dot = 0.0f;
            for (int d = 0; d < D; d++) dot += q[qr + d] * k[kr + d];
            score = dot * scale;
            mx = fmax(mx, score);
        }
        probs[pr + s] = score;
    }
    float sum = 0.0f;
    for (int s = 0; s < S; s++) {
        float e = probs[pr + s] == -INFINITY ? 0.0f : exp(probs[pr + s] - mx);
        probs[pr + s] = e;
        sum += e;
    }
    for (int d = 0; d < D; d++) out[qr + d] = 0.0f;
    for (int s = 0; s < S; s++) {
        float p = sum > 0.0f ? probs[pr + s] / sum : 0.0f;
        probs[pr + s] = p;
        if (p == 0.0f) continue;
        long vr = kv_row(b, s, h, S, Hkv, group) * D;
        for (int d = 0; d < D; d++) out[qr + d] += p * v[vr + d];
    }
}

// Backward, part 1, per (b, h, t): dS = P ⊙ (dP − Σ P ⊙ dP) with dP = dout·Vᵀ, kept in ds for
// part 2; dq += scale · dS · K.
__kernel void attention_bwd_q(int B, int T, int S, int Hq, int Hkv, int D,
                              __global const float* dout, __global const float* k, __global const float* v,
                              __global const float* probs, float scale, __global float* ds,
                              __global float* dq, int hasDq) {
    int t = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (t >= T) return;
    int group = Hq / Hkv;
    long qr = q_row(b, t, h, T, Hq) * D, pr = p_row(b, h, t, Hq, T) * S;
    float dot = 0.0f;
    for (int s = 0; s < S; s++) {
        float p = probs[pr + s], dp = 0.0f;
        if (p != 0.0f) {
            long vr = kv_row(b, s, h, S, Hkv, group) * D;
            for (int d = 0; d < D; d++) dp += dout[qr + d] * v[vr + d];
        }
        ds[pr + s] = dp;
        dot += p * dp;
    }
    for (int s = 0; s < S; s++) ds[pr + s] = probs[pr + s] * (ds[pr + s] - dot);
    if (!hasDq) return;
    for (int d = 0; d < D; d++) {
        float acc = 0.0f;
        for (int s = 0; s < S; s++) {
            float g = ds[pr + s];
            if (g != 0.0f) acc += g * k[kv_row(b, s, h, S, Hkv, group) * D + d];
        }
        dq[qr + d] += scale * acc;
    }
}

// Backward, part 2, per (b, kv head, key s): dk += scale · Σ dS·q and dv += Σ P·dout over the
// grouped query heads and all queries, summed here so no two work-items write the same row.
__kernel void attention_bwd_kv(int B, int T, int S, int Hq, int Hkv, int D,
                               __global const float* dout, __global const float* q,
                               __global const float* probs, __global const float* ds, float scale,
                               __global float* dk, int hasDk, __global float* dv, int hasDv) {
    int s = get_global_id(0), hk = get_global_id(1), b = get_global_id(2);
    if (s >= S) return;
    int group = Hq / Hkv;
    long kr = ((long) b * S + s) * Hkv * D + (long) hk * D;
    for (int d = 0; d < D; d++) {
        float ak = 0.0f, av = 0.0f;
        for (int h = hk * group; h < (hk + 1) * group; h++) {
            for (int t = 0; t < T; t++) {
                long pi = p_row(b, h, t, Hq, T) * S + s;
                float p = probs[pi];
                if (p == 0.0f) continue;
                long qr = q_row(b, t, h, T, Hq) * D + d;
                ak += ds[pi] * q[qr];
                av += p * dout[qr];
            }
        }
        if (hasDk) dk[kr + d] += scale * ak;
        if (hasDv) dv[kr + d] += av;
    }
}
