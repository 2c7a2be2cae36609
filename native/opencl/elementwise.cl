// Element-wise ops over flat float buffers of n elements: one work-item per element.

#define GELU_SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_TANH_C 0.044715f

inline float gelu(float x, int tanhApprox) {
    if (!tanhApprox) return 0.5f * x * erfc(-x * M_SQRT1_2_F);
    float u = GELU_SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
    return 0.5f * x * (1.0f + tanh(u));
}

inline float gelu_grad(float x, int tanhApprox) {
    if (!tanhApprox) return 0.5f * erfc(-x * M_SQRT1_2_F) + x * exp(-0.5f * x * x) * 0.3989422804014327f;
    float u = GELU_SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
    float t = tanh(u);
    float du = GELU_SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_C * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

inline float sigm(float x) { return 1.0f / (1.0f + exp(-x)); }

__kernel void gelu_fwd(long n, __global const float* x, int tanhApprox, __global float* y) {
    long i = get_global_id(0);
    if (i < n) y[i] = gelu(x[i], tanhApprox);
}

__kernel void gelu_bwd(long n, __global const float* dy, __global const float* x, int tanhApprox, __global float* dx) {
    long i = get_global_id(0);
    if (i < n) dx[i] += dy[i] * gelu_grad(x[i], tanhApprox);
}

__kernel void silu_fwd(long n, __global const float* x, __global float* y) {
    long i = get_global_id(0);
    if (i < n) y[i] = x[i] * sigm(x[i]);
}

__kernel void silu_bwd(long n, __global const float* dy, __global const float* x, __global float* dx) {
    long i = get_global_id(0);
    if (i < n) { float s = sigm(x[i]); dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s)); }
}

__kernel void swiglu_fwd(long n, __global const float* gate, __global const float* up, __global float* out) {
    long i = get_global_id(0);
    if (i < n) out[i] = gate[i] * sigm(gate[i]) * up[i];
}

// dgate += dout·up·silu'(gate), dup += dout·silu(gate); either may be skipped.
__kernel void swiglu_bwd(long n, __global const float* dout, __global const float* gate, __global const float* up,
                         __global float* dgate, int hasDgate, __global float* dup, int hasDup) {
    long i = get_global_id(0);
    if (i >= n) return;
    float g = gate[i], s = sigm(g);
    if (hasDgate) dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
    if (hasDup) dup[i] += dout[i] * g * s;
}

__kernel void add(long n, __global const float* a, __global const float* b, __global float* out) {
    long i = get_global_id(0);
    if (i < n) out[i] = a[i] + b[i];
}

__kernel void accumulate(long n, __global const float* src, float scale, __global float* dst) {
    long i = get_global_id(0);
    if (i < n) dst[i] += scale * src[i];
}

__kernel void scale(long n, __global float* dst, float scale) {
    long i = get_global_id(0);
    if (i < n) dst[i] *= scale;
}

// dx += dy ⊙ mask (dropout backward).
__kernel void mul_accumulate(long n, __global const float* dy, __global const float* mask, __global float* dx) {
    long i = get_global_id(0);
    if (i < n) dx[i] += dy[i] * mask[i];
}

// AdamW, PyTorch's formula; bc1 = 1 − β1^t and bc2 = 1 − β2^t come from the host (in double).
__kernel void adamw(long n, __global float* p, __global const float* g, __global float* m, __global float* v,
                    float lr, float beta1, float beta2, float eps, float wd, float bc1, float bc2) {
    long i = get_global_id(0);
    if (i >= n) return;
    float pi = p[i], gi = g[i];
    pi -= lr * wd * pi;
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    pi -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
}

// Partial Σ x² per work-group of ROW_WG items into partial[first + group]: one tensor's part of a
// global norm (sum_reduce adds them on the device; a single tensor's are added by the host in double).
__kernel void sum_squares(long n, __global const float* x, long first, __global float* partial) {
    __local float s[ROW_WG];
    float acc = 0.0f;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) acc += x[i] * x[i];
    acc = wg_sum(acc, s);
    if (get_local_id(0) == 0) partial[first + get_group_id(0)] = acc;
}

// x[first + i] = v: Tensor.fill / zero of a device-resident tensor, without a host round trip.
__kernel void fill_f32(long first, long n, float v, __global float* x) {
    long i = get_global_id(0);
    if (i < n) x[first + i] = v;
}

// out = a * b (dropout forward with a host-drawn mask).
__kernel void mul(long n, __global const float* a, __global const float* b, __global float* out) {
    long i = get_global_id(0);
    if (i < n) out[i] = a[i] * b[i];
}
