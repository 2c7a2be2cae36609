#!/usr/bin/python3
"""Golden losses for BenchStepCommandTest: bench/torch_steps.py (plain PyTorch) on a tiny BERT.

The tiny model's weights come from java.util.Random(42) in a fixed order (see tiny_weights), so
the Java test rebuilds exactly the same model without a binary fixture. For each method this
records the loss before the first step and after the third (--warmup 1 --steps 2) with lr 1e-3,
plus the trainable parameter count and the lowest layer autograd records.

Run from the repository root:
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 src/test/resources/golden/benchstep/make_bench_step_golden.py
"""
import json
import os
import struct
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "..", "..", "bench"))
import torch_steps  # noqa: E402  (sets OMP_WAIT_POLICY before torch)
import torch  # noqa: E402

CONFIG = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 1040, "hidden_size": 16,
          "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 32,
          "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
RUN = ["--batch", "4", "--seq", "8", "--warmup", "1", "--steps", "2", "--lr", "1e-3", "--threads", "1"]


def tiny_weights():
    """name -> float32 tensor; value = (u * 2 - 1) * scale (+ 1 for LayerNorm gains), u = nextFloat()."""
    rng = torch_steps.JavaRandom(42)
    c, ff = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    out = {}

    def uni(name, scale, shape, plus_one=False):
        n = 1
        for s in shape:
            n *= s
        u = torch.tensor([rng.next_float() for _ in range(n)], dtype=torch.float32)
        v = (u * 2 - 1) * torch.tensor(scale, dtype=torch.float32)
        out[name] = (v + 1 if plus_one else v).view(shape)

    def dense(name, o, i):
        uni(name + ".weight", 1.0 / i ** 0.5, [o, i])
        uni(name + ".bias", 0.1, [o])

    def norm(name):
        uni(name + ".weight", 0.2, [c], plus_one=True)
        uni(name + ".bias", 0.1, [c])

    uni("embeddings.word_embeddings.weight", 0.5, [CONFIG["vocab_size"], c])
    uni("embeddings.position_embeddings.weight", 0.5, [CONFIG["max_position_embeddings"], c])
    uni("embeddings.token_type_embeddings.weight", 0.5, [CONFIG["type_vocab_size"], c])
    norm("embeddings.LayerNorm")
    for l in range(CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        for m in ("query", "key", "value"):
            dense(p + "attention.self." + m, c, c)
        dense(p + "attention.output.dense", c, c)
        norm(p + "attention.output.LayerNorm")
        dense(p + "intermediate.dense", ff, c)
        dense(p + "output.dense", c, ff)
        norm(p + "output.LayerNorm")
    return out


def write_model(d, weights):
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(CONFIG, f)
    header, blobs, at = {}, [], 0
    for name, t in weights.items():
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    torch.set_num_threads(1)
    golden = {"config": CONFIG, "run": RUN, "torch": torch.__version__, "methods": {}}
    with tempfile.TemporaryDirectory() as d:
        write_model(d, tiny_weights())
        for m in torch_steps.METHODS:
            r = torch_steps.run_one(_args(m, d))
            golden["methods"][m] = {k: r[k] for k in ("loss_first", "loss_last", "trainable_params", "graph_starts_at_layer")}
            print(m, golden["methods"][m])
    path = os.path.join(here, "bench_step_losses.json")
    with open(path + ".tmp", "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def _args(method, model_dir):
    a = torch_steps.parse_args(["--method", method, "--model", model_dir] + RUN)
    a.method = method
    return a


if __name__ == "__main__":
    main()
