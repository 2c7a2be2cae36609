#!/usr/bin/python3
"""Training-step throughput of all-MiniLM-L6-v2 in plain PyTorch: the peer of `xgblora bench step`.

A hand-written BERT encoder (no transformers) equal to all-MiniLM-L6-v2 (post-LN, exact GELU,
eps from config.json), weights read from the model directory that `xgblora import-onnx` writes
(model.safetensors with Hugging Face BERT names), mean pooling over the mask, a linear head
(2 classes, N(0, 0.02), zero bias) and cross-entropy. One step = zero_grad + forward + backward
+ gradient norm + AdamW step (weight decay 0.01, none on biases and LayerNorms). Methods:

  xgblora    rank-1 adapters (scale 16) on q, k, v, attention.output.dense, intermediate.dense,
             output.dense of --layers (default 4,5: the top two of six, L_s = 2); base frozen;
             head trainable. Nothing below the lowest adapted layer needs a gradient, and
             autograd records nothing there (checked: see "graph_starts_at_layer").
  lora       rank 8, alpha 16 on the same six targets on all 6 layers; head trainable.
  full       every weight trainable (embeddings, LayerNorms, biases, head).
  qv-r1-all  rank-1 (scale 16) on query and value of all six layers; head trainable.

Input: batch 32 x 64 random token ids (ids in [1000, vocab), clear of special tokens), every
position valid, token type 0, random labels. The batch, the head and the adapters' A are drawn
with java.util.Random exactly as `xgblora bench step` draws them, so with the same seed both
sides start from the same state and their loss_first / loss_last should agree. Weights are
mapped copy-on-write (mmap ACCESS_COPY), like the Java side's mmap: frozen weights stay file
pages, written ones become private. Like the Java trainer, each step also computes the global
gradient norm (no clipping).

Each method runs in its own process (so peak RSS figures do not mix) when more than one is
asked for. Prints one JSON line per method.

Example:
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_steps.py --method xgblora lora full --steps 20
"""
import os

# Debian's torch mixes OpenMP and OpenBLAS thread pools; with an active wait policy they fight
# over the cores and a step runs ~1.8x slower. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import mmap
import resource
import statistics
import struct
import subprocess
import sys
import time

METHODS = ("xgblora", "lora", "full", "qv-r1-all")
ALL_TARGETS = ("query", "key", "value", "attn_out", "inter", "out")
DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


class JavaRandom:
    """java.util.Random (48-bit LCG), so that the batch, head and adapters equal those of
    `xgblora bench step` with the same seed, and the two sides' losses can be compared."""
    MASK = (1 << 48) - 1

    def __init__(self, seed):
        self.s = (seed ^ 0x5DEECE66D) & self.MASK
        self.spare = None

    def next(self, bits):
        self.s = (self.s * 0x5DEECE66D + 0xB) & self.MASK
        r = self.s >> (48 - bits)
        return r - (1 << 32) if r >= 1 << 31 else r  # (int) cast: negative only when bits == 32

    def next_int(self, bound):
        r, m = self.next(31), bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        while True:
            r = u % bound
            if u - r + m < 1 << 31:  # Java: no int overflow
                return r
            u = self.next(31)

    def next_float(self):
        return self.next(24) / float(1 << 24)

    def next_double(self):
        return ((self.next(26) << 27) + self.next(27)) * 2.0 ** -53

    def next_gaussian(self):
        if self.spare is not None:
            g, self.spare = self.spare, None
            return g
        while True:
            v1, v2 = 2 * self.next_double() - 1, 2 * self.next_double() - 1
            s = v1 * v1 + v2 * v2
            if 0 < s < 1:
                break
        mul = math.sqrt(-2 * math.log(s) / s)
        self.spare = v2 * mul
        return v1 * mul


def default_model_dir():
    home = os.environ.get("XGBLORA_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "xgblora")
    return os.path.join(home, "models", "all-minilm-l6-v2")


def read_safetensors(path):
    """name -> tensor viewing a private (copy-on-write) mapping of the file."""
    import torch
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    if len(buf) < 8:
        raise ValueError(f"{path}: {len(buf)} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise ValueError(f"{path}: header length {n} exceeds file size {len(buf)}")
    header = json.loads(bytes(buf[8:8 + n]))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, expected one of {list(DTYPES)}")
        dtype = getattr(torch, dt)
        start, end = info["data_offsets"]
        count = math.prod(info["shape"])
        size = torch.tensor([], dtype=dtype).element_size()
        if end - start != count * size:
            raise ValueError(f"{path}: tensor {name} spans {end - start} bytes, shape {info['shape']} needs {count * size}")
        t = torch.frombuffer(buf, dtype=dtype, count=count, offset=base + start).view(info["shape"])
        out[name] = t.float() if dtype != torch.float32 else t
    out["__mmap__"] = buf  # keep the mapping alive as long as the tensors
    return out


def build(model_dir, method, layers, rank, alpha, seed):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    H, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    heads, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"config.json: hidden_act {cfg['hidden_act']}, this benchmark implements exact gelu only")

    def P(name):
        if name not in w:
            raise KeyError(f"model.safetensors has no tensor {name}")
        return nn.Parameter(w[name], requires_grad=(method == "full"))

    class Lin(nn.Module):
        """y = x W^T + b (+ scale * (x A^T) B^T when an adapter is attached), as PEFT computes it."""

        def __init__(self, prefix):
            super().__init__()
            self.weight, self.bias = P(prefix + ".weight"), P(prefix + ".bias")
            self.A = self.B = None

        def attach(self, r, scale, rng):
            d_out, d_in = self.weight.shape
            # PEFT's kaiming_uniform(a=sqrt(5)) bound; drawn as the Java side draws it, in float32
            bound = torch.tensor(1.0 / math.sqrt(d_in), dtype=torch.float32)
            u = torch.tensor([rng.next_float() for _ in range(r * d_in)], dtype=torch.float32)
            self.A = nn.Parameter(((u * 2 - 1) * bound).view(r, d_in))
            self.B = nn.Parameter(torch.zeros(d_out, r))
            self.scale = scale

        def forward(self, x):
            y = F.linear(x, self.weight, self.bias)
            if self.A is not None:
                y = y + F.linear(F.linear(x, self.A), self.B) * self.scale
            return y

    class LN(nn.Module):
        def __init__(self, prefix):
            super().__init__()
            self.weight, self.bias = P(prefix + ".weight"), P(prefix + ".bias")

        def forward(self, x):
            return F.layer_norm(x, (H,), self.weight, self.bias, eps)

    class Layer(nn.Module):
        def __init__(self, i):
            super().__init__()
            p = f"encoder.layer.{i}."
            self.query, self.key, self.value = (Lin(p + "attention.self." + n) for n in ("query", "key", "value"))
            self.attn_out = Lin(p + "attention.output.dense")
            self.ln1 = LN(p + "attention.output.LayerNorm")
            self.inter = Lin(p + "intermediate.dense")
            self.out = Lin(p + "output.dense")
            self.ln2 = LN(p + "output.LayerNorm")

        def forward(self, x, mask_add):
            b, t, _ = x.shape
            d = H // heads

            def split(y):
                return y.view(b, t, heads, d).transpose(1, 2)

            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + mask_add
            ctx = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(b, t, H)
            x = self.ln1(self.attn_out(ctx) + x)
            return self.ln2(self.out(F.gelu(self.inter(x))) + x)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = P("embeddings.word_embeddings.weight")
            self.pos = P("embeddings.position_embeddings.weight")
            self.tok_type = P("embeddings.token_type_embeddings.weight")
            self.ln = LN("embeddings.LayerNorm")
            self.layers = nn.ModuleList(Layer(i) for i in range(L))
            g = JavaRandom(seed)  # as EncoderClassifier draws its head
            self.head_w = nn.Parameter(torch.tensor([g.next_gaussian() * 0.02 for _ in range(2 * H)],
                                                    dtype=torch.float32).view(2, H))
            self.head_b = nn.Parameter(torch.zeros(2))
            self.grad_start = None  # first layer whose output autograd records (checked each forward)

        def forward(self, ids, mask):
            t = ids.shape[1]
            x = self.word[ids] + self.pos[:t].unsqueeze(0) + self.tok_type[0]
            x = self.ln(x)
            mask_add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            self.grad_start = None
            for i, layer in enumerate(self.layers):
                x = layer(x, mask_add)
                if self.grad_start is None and x.requires_grad:
                    self.grad_start = i
            m = mask.unsqueeze(-1).float()
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.linear(pooled, self.head_w, self.head_b)

    if layers is None:
        layers = [L - 2, L - 1] if L >= 2 else [0]
    bad = [i for i in layers if not 0 <= i < L]
    if bad:
        raise ValueError(f"--layers {bad}: the model has layers 0..{L - 1}")
    model = Model()
    model.adapted_layers = layers
    gen = JavaRandom(seed + 1)
    if method == "xgblora":
        for i in layers:
            for n in ALL_TARGETS:
                getattr(model.layers[i], n).attach(1, 16.0, gen)
    elif method == "lora":
        for layer in model.layers:
            for n in ALL_TARGETS:
                getattr(layer, n).attach(rank, alpha / rank, gen)
    elif method == "qv-r1-all":
        for layer in model.layers:
            for n in ("query", "value"):
                getattr(layer, n).attach(1, 16.0, gen)
    elif method != "full":
        raise ValueError(f"unknown method {method!r}, expected one of {METHODS}")
    return model, cfg


def run_one(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, cfg = build(args.model, args.method, args.layers, args.rank, args.alpha, args.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.dim() >= 2]
    no_decay = [p for p in trainable if p.dim() < 2]  # biases and LayerNorms
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)

    g = JavaRandom(args.seed)  # the same batch as `xgblora bench step --seed`
    n, span = args.batch * args.seq, max(1, cfg["vocab_size"] - 1000)
    ids = torch.tensor([1000 + g.next_int(span) for _ in range(n)]).view(args.batch, args.seq)
    mask = torch.ones(args.batch, args.seq, dtype=torch.long)
    labels = torch.tensor([g.next_int(2) for _ in range(args.batch)])

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(ids, mask), labels)
        loss.backward()
        torch.norm(torch.stack([p.grad.norm() for p in trainable]))  # the Java trainer computes it every step
        opt.step()
        return loss.item()

    times, cpus, losses = timed_steps(step, args.warmup, args.steps)
    med = statistics.median(times)
    result = {
        "impl": "pytorch",
        "method": args.method,
        "tokens_per_s": round(args.batch * args.seq / med, 1),
        "step_ms_median": round(med * 1000, 2),
        "step_ms_min": round(min(times) * 1000, 2),
        "cpu_ms_median": round(statistics.median(cpus) * 1000, 1),  # all threads; less sensitive to load than wall time
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "batch": args.batch, "seq": args.seq, "steps": args.steps, "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "trainable_params": sum(p.numel() for p in trainable),
        "graph_starts_at_layer": model.grad_start,
        "loss_first": round(losses[0], 6), "loss_last": round(losses[-1], 6),
        "torch": torch.__version__,
    }
    if args.method == "xgblora":
        result["layers"] = model.adapted_layers
    return result


def timed_steps(step, warmup, steps, progress=False):
    """Runs warmup + steps calls of step(); returns the wall and CPU seconds of the timed ones and every loss."""
    times, cpus, losses = [], [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        losses.append(step())
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= warmup:
            times.append(dt)
            cpus.append(dc)
        if progress:
            print(f"step {i + 1}/{warmup + steps}: loss {losses[-1]:.4f}, {dt:.1f} s", file=sys.stderr, flush=True)
    return times, cpus, losses


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", nargs="+", default=["xgblora"], choices=METHODS)
    ap.add_argument("--model", default=default_model_dir(), help="model dir from `xgblora import-onnx`")
    ap.add_argument("--layers", help="xgblora: adapted layers, e.g. 4,5 (default: the top two, 4,5 on six layers)")
    ap.add_argument("--rank", type=int, default=8, help="lora rank")
    ap.add_argument("--alpha", type=float, default=16.0, help="lora alpha")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (all trainables)")
    args = ap.parse_args(argv)
    if args.layers is not None:
        args.layers = sorted({int(s) for s in args.layers.split(",")})
    return args


def main():
    args = parse_args()
    if not os.path.isfile(os.path.join(args.model, "model.safetensors")):
        sys.exit(f"{args.model}: no model.safetensors; run `./xgblora import-onnx` first or pass --model")
    if len(args.method) == 1:
        args.method = args.method[0]
        print(json.dumps(run_one(args)), flush=True)
        return
    # One process per method: ru_maxrss is a per-process high-water mark.
    for m in args.method:
        argv = [a for a in sys.argv[1:]]
        i = argv.index("--method")
        j = i + 1
        while j < len(argv) and not argv[j].startswith("--"):
            j += 1
        argv[i:j] = ["--method", m]
        rc = subprocess.call([sys.executable, os.path.abspath(__file__)] + argv)
        if rc != 0:
            sys.exit(rc)


if __name__ == "__main__":
    main()
