// Embedding gather / scatter-add and rotary position embedding.

// out[m, c] = table[ids[m], c]; table f32, bf16 or f16.
__kernel void embedding_fwd(int M, int C, __global const int* ids, __global const void* table, int tdt,
                            __global float* out) {
    int c = get_global_id(0), m = get_global_id(1);
    if (c < C && m < M) out[(long) m * C + c] = ld(table, tdt, (long) ids[m] * C + c);
}

// dtable[ids[m], c] += dout[m, c]: one work-item per column walks all rows in order, so repeated
// ids need no atomics and the sum order is fixed.
__kernel void embedding_bwd(int M, int C, __global const int* ids, __global const float* dout,
                            __global float* dtable) {
    int c = get_global_id(0);
    if (c >= C) return;
    for (int m = 0; m < M; m++) dtable[(long) ids[m] * C + c] += dout[(long) m * C + c];
}

// Hugging Face rotate_half: dim i pairs with i + D/2 and turns by sign · positions[bt] · invFreq[i].
// x, out: [B·T·H, D]. Forward overwrites out; backward (sign = −1, accumulate = 1) adds into it.
__kernel void rope(int H, int D, __global const float* x, __global const int* positions,
                   __global const float* invFreq, float sign, int accumulate, __global float* out) {
    int i = get_global_id(0), row = get_global_id(1);
    int hd = D / 2; // (half is a type name in OpenCL C)
    if (i >= hd) return;
    float angle = (float) positions[row / H] * invFreq[i];
    float c = cos(angle), s = sign * sin(angle);
    long at = (long) row * D;
    float x1 = x[at + i], x2 = x[at + i + hd];
    float y1 = x1 * c - x2 * s, y2 = x2 * c + x1 * s;
    if (accumulate) { out[at + i] += y1; out[at + i + hd] += y2; }
    else { out[at + i] = y1; out[at + i + hd] = y2; }
}
