// Shared helpers for every xgblora OpenCL kernel (the host concatenates the .cl files in the
// order OpenClProgram.SOURCES lists, this one first). Activations, gradients and optimizer state
// are float; weights and embedding tables may be bf16 or f16, widened here, summed in float.

// dtype codes passed by the host: 0 = f32, 1 = bf16, 2 = f16.
inline float ld(__global const void* p, int dt, long i) {
    if (dt == 0) return ((__global const float*) p)[i];
    if (dt == 1) return as_float(((uint) ((__global const ushort*) p)[i]) << 16);
    return vload_half(i, (__global const half*) p);
}

// Row reductions use work-groups of exactly ROW_WG items (the host launches them so).
#define ROW_WG 64

inline float wg_sum(float v, __local float* s) {
    int l = get_local_id(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = ROW_WG / 2; o > 0; o >>= 1) {
        if (l < o) s[l] += s[l + o];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline float wg_max(float v, __local float* s) {
    int l = get_local_id(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = ROW_WG / 2; o > 0; o >>= 1) {
        if (l < o) s[l] = fmax(s[l], s[l + o]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
