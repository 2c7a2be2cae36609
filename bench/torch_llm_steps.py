#!/usr/bin/python3
"""Training-step throughput of a Llama-family decoder in plain PyTorch: the peer of
`bench/llm-step.sh` (xgblora train --task lm on the directories `xgblora make-model` writes).

A hand-written LlamaForCausalLM / Qwen2ForCausalLM with Hugging Face semantics (no transformers
here): RMSNorm in float32, rotary embeddings with HF's rotate_half layout and the "llama3"
rope_scaling of config.json, grouped-query attention (K/V heads repeated), causal softmax in
float32, SiLU-gated MLP, q/k/v biases where the checkpoint has them (Qwen2), tied or separate LM
head, cross-entropy of each token's successor. Weights from the sharded safetensors directory
(model.safetensors.index.json or model.safetensors), bf16 widened to float32 unless --dtype bf16.

One step = zero_grad + forward + loss + backward + AdamW step on the trainables. Methods:
  xgblora  rank-1 adapters (alpha 16) on every linear of L_s = round(L/3) layers (--layers; by
           default the top ones: nothing below them needs a gradient, the cheapest choice; xgblora
           picks random layers, so bench/llm-step.sh passes the layers xgblora's round chose), base frozen
  lora     rank 8 (alpha 16) on every linear of every layer, base frozen
--checkpoint recomputes each layer in backward (torch.utils.checkpoint), like xgblora's --recompute.

--score-ids FILE prints, for each line {"ids": [...]} of FILE, the sequence's log-likelihood
(sum over tokens 1..n-1 of log p(token | prefix)), the figure `xgblora score --input FILE`
prints: the two implementations agree when their models do. --adapter DIR adds a PEFT LoRA
adapter (adapter_config.json with rank_pattern/alpha_pattern, adapter_model.safetensors) to the
base weights; --logits-out F.pt saves the scored lines' logits, and --compare-logits A.pt B.pt
prints the largest absolute difference between two such files.

Prints one JSON line: tokens/s (median step), step times, CPU time, peak RSS, losses.
Example:
  /usr/bin/python3 bench/torch_llm_steps.py --model /tmp/xgblora-models/llama-3.2-1b --method lora --batch 4 --seq 512 --steps 3
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see torch_steps.py

import argparse
import json
import math
import resource
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_steps import read_safetensors, timed_steps  # noqa: E402  (the validated reader, copy-on-write mapping)


def load_weights(model_dir, keep_bf16):
    import torch
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.isfile(index) else ["model.safetensors"]
    out, maps = {}, []
    for f in files:
        t = read_safetensors_raw(os.path.join(model_dir, f)) if keep_bf16 else read_safetensors(os.path.join(model_dir, f))
        maps.append(t.pop("__mmap__"))
        out.update(t)
    out["__mmaps__"] = maps
    return out


def read_safetensors_raw(path):
    """As torch_steps.read_safetensors, without widening to float32."""
    import torch
    import mmap
    import struct
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(bytes(buf[8:8 + n]))
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}[info["dtype"]]
        start, _ = info["data_offsets"]
        out[name] = torch.frombuffer(buf, dtype=dtype, count=math.prod(info["shape"]), offset=8 + n + start).view(info["shape"])
    out["__mmap__"] = buf
    return out


def rope_inv_freq(cfg, head_dim):
    import torch
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    sc = cfg.get("rope_scaling") or {}
    kind = sc.get("rope_type", sc.get("type"))
    if kind == "llama3":  # transformers' _compute_llama3_parameters
        factor, low, high = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        old = sc["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < high_wl) & ~(wl > low_wl)
        inv = torch.where(medium, smoothed, scaled)
    elif kind not in (None, "default"):
        raise SystemExit(f"rope_scaling type {kind} is not implemented in this peer")
    return inv.float()


def add_adapter(model, adapter_dir):
    """Adds s * B @ A of each module of a PEFT LoRA adapter to the frozen weights (f32)."""
    import torch
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    if cfg.get("peft_type") != "LORA":
        raise SystemExit(f"{adapter_dir}: peft_type {cfg.get('peft_type')}, expected LORA")
    w = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    w.pop("__mmap__")
    rank_p, alpha_p = cfg.get("rank_pattern") or {}, cfg.get("alpha_pattern") or {}
    done = 0
    for name, module in model.named_linears():
        a = w.get(f"base_model.model.{name}.lora_A.weight")
        if a is None:
            continue
        b = w[f"base_model.model.{name}.lora_B.weight"]
        r, alpha = rank_p.get(name, cfg["r"]), alpha_p.get(name, cfg["lora_alpha"])
        scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        module.w.data = module.w.data.float() + scale * (b.double() @ a.double()).float()
        done += 1
    expected = sum(1 for k in w if k.endswith(".lora_A.weight"))
    if done != expected:
        raise SystemExit(f"{adapter_dir}: {expected - done} adapter module(s) match no linear of the model")
    return done


def build(model_dir, method, rank, alpha, seed, dtype, layers=None):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.utils.checkpoint  # noqa: F401  (not imported by torch itself in 1.13)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = load_weights(model_dir, dtype == "bf16")
    L, H, KV = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hidden = cfg["hidden_size"]
    hd = cfg.get("head_dim") or hidden // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    g = torch.Generator().manual_seed(seed)

    def P(name):
        return nn.Parameter(W[name], requires_grad=False)

    class Lin(nn.Module):
        def __init__(self, prefix):
            super().__init__()
            self.w = P(prefix + ".weight")
            self.b = P(prefix + ".bias") if prefix + ".bias" in W else None
            self.a = None

        def attach(self, r):
            out_f, in_f = self.w.shape
            # PEFT: A kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0
            bound = 1 / math.sqrt(in_f)
            self.a = nn.Parameter((torch.rand(r, in_f, generator=g) * 2 - 1) * bound)
            self.bb = nn.Parameter(torch.zeros(out_f, r))
            self.scale = alpha / r

        def forward(self, x):
            y = F.linear(x, self.w, self.b)
            if self.a is not None:
                y = y + F.linear(F.linear(x, self.a.to(x.dtype)), self.bb.to(x.dtype)) * self.scale
            return y

    def rms(x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    class Layer(nn.Module):
        def __init__(self, i):
            super().__init__()
            p = f"model.layers.{i}."
            self.ln1, self.ln2 = P(p + "input_layernorm.weight"), P(p + "post_attention_layernorm.weight")
            self.q, self.k, self.v, self.o = (Lin(p + "self_attn." + n) for n in ("q_proj", "k_proj", "v_proj", "o_proj"))
            self.gate, self.up, self.down = (Lin(p + "mlp." + n) for n in ("gate_proj", "up_proj", "down_proj"))

        def linears(self):
            return [self.q, self.k, self.v, self.o, self.gate, self.up, self.down]

        def forward(self, x, cos, sin, mask):
            B, T, _ = x.shape
            h = rms(x, self.ln1)
            q = self.q(h).view(B, T, H, hd).transpose(1, 2)
            k = self.k(h).view(B, T, KV, hd).transpose(1, 2)
            v = self.v(h).view(B, T, KV, hd).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            if KV != H:
                k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
            s = (q @ k.transpose(-1, -2)).float() / math.sqrt(hd) + mask
            a = (s.softmax(-1).to(v.dtype) @ v).transpose(1, 2).reshape(B, T, H * hd)
            x = x + self.o(a)
            h = rms(x, self.ln2)
            return x + self.down(F.silu(self.gate(h)) * self.up(h))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = P("model.embed_tokens.weight")
            self.layers = nn.ModuleList(Layer(i) for i in range(L))
            self.norm = P("model.norm.weight")
            self.head = self.embed if cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in W else P("lm_head.weight")
            self.inv_freq = rope_inv_freq(cfg, hd)
            self.checkpoint = False

        def forward(self, ids):
            B, T = ids.shape
            x = F.embedding(ids, self.embed)
            freqs = torch.outer(torch.arange(T, dtype=torch.float32), self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
            mask = torch.full((T, T), float("-inf")).triu(1)
            for i, layer in enumerate(self.layers):
                if self.checkpoint and i >= self.grad_start:
                    x = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, mask, use_reentrant=False)  # noqa
                else:
                    x = layer(x, cos, sin, mask)
            return F.linear(rms(x, self.norm), self.head).float()

    m = Model()

    def named_linears():
        for i, layer in enumerate(m.layers):
            for n, lin in zip(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"), layer.linears()):
                yield f"model.layers.{i}.{n}", lin

    m.named_linears = named_linears
    if method == "xgblora":
        ls = max(1, round(L / 3))
        adapted, r = (sorted(layers) if layers else list(range(L - ls, L))), 1
        if adapted[0] < 0 or adapted[-1] >= L:
            raise SystemExit(f"--layers {layers}: the model has layers 0..{L - 1}")
    elif method == "lora":
        adapted, r = list(range(L)), rank
    else:
        raise SystemExit(f"unknown method {method}")
    for i in adapted:
        for lin in m.layers[i].linears():
            lin.attach(r)
    m.grad_start = adapted[0]
    m.adapted = adapted
    m.weights = W
    return m, cfg


def loglik(model, ids):
    """The log-likelihood of ids and the logits it came from."""
    import torch
    with torch.no_grad():
        logits = model(torch.tensor([ids]))
        lp = logits[0, :-1].log_softmax(-1)
        return float(lp.gather(1, torch.tensor(ids[1:]).unsqueeze(1)).sum()), logits[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a directory from `xgblora make-model` (or any Llama/Qwen2 HF directory)")
    ap.add_argument("--method", default="xgblora", choices=("xgblora", "lora"))
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--dtype", choices=("f32", "bf16"), default="f32", help="compute dtype of the frozen weights (default f32)")
    ap.add_argument("--layers", type=lambda v: [int(x) for x in v.split(",")],
                    help="xgblora: the adapted layers, comma separated (default the top round(L/3); give the layers "
                         "xgblora's round chose for the same work: backward reaches down to the lowest)")
    ap.add_argument("--checkpoint", action="store_true", help="recompute each layer in backward")
    ap.add_argument("--score-ids", metavar="FILE", help="print each line's log-likelihood instead of training")
    ap.add_argument("--adapter", metavar="DIR", help="with --score-ids: add this PEFT LoRA adapter to the base weights")
    ap.add_argument("--logits-out", metavar="FILE", help="with --score-ids: save the logits of every line (torch.save)")
    ap.add_argument("--compare-logits", nargs=2, metavar=("A", "B"), help="largest |difference| between two --logits-out files")
    if "--compare-logits" in sys.argv:  # no model needed
        args = ap.parse_args()
        import torch
        a, b = torch.load(args.compare_logits[0]), torch.load(args.compare_logits[1])
        if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
            raise SystemExit("the two files hold logits of different shapes")
        d = max(float((x - y).abs().max()) for x, y in zip(a, b))
        scale = max(float(x.abs().max()) for x in a)
        print(json.dumps({"max_abs_diff": d, "max_abs_logit": scale, "lines": len(a)}))
        return
    args = ap.parse_args()
    if not args.model:
        ap.error("--model is required (except with --compare-logits)")
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, cfg = build(args.model, args.method, args.rank, args.alpha, args.seed, args.dtype, args.layers)
    if args.score_ids:
        if args.adapter:
            n = add_adapter(model, args.adapter)
            print(f"adapter: {n} module(s) merged in f32", file=sys.stderr)
        kept = []
        for line in open(args.score_ids):
            if line.strip():
                ids = json.loads(line)["ids"]
                lp, logits = loglik(model, ids)
                kept.append(logits)
                print(json.dumps({"logprob": lp, "tokens": len(ids)}), flush=True)
        if args.logits_out:
            torch.save(kept, args.logits_out)
        return
    model.checkpoint = args.checkpoint
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=gen)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        del logits
        loss.backward()
        opt.step()
        return loss.item()

    times, cpus, losses = timed_steps(step, args.warmup, args.steps, progress=True)
    med = statistics.median(times)
    tokens = args.batch * (args.seq - 1)
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "method": args.method, "dtype": args.dtype, "checkpoint": args.checkpoint,
        "tokens_per_s": round(tokens / med, 2), "step_s_median": round(med, 3), "step_s_min": round(min(times), 3),
        "step_s_max": round(max(times), 3), "cpu_s_per_token": round(statistics.median(cpus) / tokens, 5),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "batch": args.batch, "seq": args.seq, "steps": args.steps, "warmup": args.warmup, "threads": torch.get_num_threads(),
        "trainable_params": sum(p.numel() for p in trainable), "adapted_layers": model.adapted,
        "loss_first": round(losses[0], 6), "loss_last": round(losses[-1], 6),
    }), flush=True)


if __name__ == "__main__":
    main()
