"""Golden RoPE inverse frequencies, computed with PyTorch the way Hugging Face transformers does
(modeling_rope_utils: _compute_default_rope_parameters, linear scaling, _compute_llama3_parameters).
Run: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 make_rope_inv_freq.py > rope_inv_freq.json
Values are stored as float32 bit patterns so the Java test can compare them exactly."""
import json
import math
import struct

import torch

torch.set_num_threads(2)


def default_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def linear(base, dim, factor):
    inv_freq = default_inv_freq(base, dim)
    inv_freq /= factor
    return inv_freq


def llama3(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
    inv_freq = default_inv_freq(base, dim)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    # wavelen > low_freq_wavelen: low frequencies are divided by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between: interpolate smoothly
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def bits(t):
    return [struct.unpack("<i", struct.pack("<f", float(x)))[0] for x in t.tolist()]


cases = {
    "llama2_default_theta1e4_dim128": default_inv_freq(10000.0, 128),
    "qwen2_theta1e6_dim64": default_inv_freq(1000000.0, 64),
    "linear_factor2_theta1e4_dim64": linear(10000.0, 64, 2.0),
    "llama31_theta5e5_dim128": llama3(500000.0, 128, 8.0, 1.0, 4.0, 8192),
    "llama32_theta5e5_dim64_factor32": llama3(500000.0, 64, 32.0, 1.0, 4.0, 8192),
}
print(json.dumps({"torch": torch.__version__, "cases": {k: bits(v) for k, v in cases.items()}}, indent=1))
