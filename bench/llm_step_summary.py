"""One bench/llm-step.sh case as table rows: xgblora's run and the PyTorch peer's JSON line.

Usage: llm_step_summary.py MODEL_DIR TIME_LOG SHAPE METHOD "B x T" STEPS "EXTRA OPTIONS" RUN_JSONL PEER_JSON PEAK_GFLOPS

tokens/s: the median step after the first (JIT) on each side; CPU per token: the whole process's CPU
seconds per step (xgblora's run log `cpu_s`, the peer's own figure) over the step's tokens, which survives
a machine shared with other jobs; model FLOP/s: FLOPs the method needs (below) over the median step,
against the f32 FMA peak of the cores used (nominal clock, so a lower bound of the true peak).

Model FLOPs of one step, 2 per multiply-add, recompute not counted: every linear and the LM head forward;
dX from the head down to the lowest adapted layer (that layer's q/k/v need none: nothing below trains);
adapters forward, their share of dX and dA/dB; causal attention 4·ctx·heads·head_dim per token forward
(ctx = (T+1)/2 on average) and twice that backward. Elementwise work is left out.
"""
import json
import os
import re
import statistics
import sys


def step_flops(cfg, batch, seq, adapted, rank):
    H, L, V, I = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    nh = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    linears = [("q", H, nh * hd), ("k", H, kv * hd), ("v", H, kv * hd), ("o", nh * hd, H),
               ("gate", H, I), ("up", H, I), ("down", I, H)]
    low = min(adapted)
    n, ctx = batch * seq, (seq + 1) / 2
    fwd = 2.0 * n * H * V + L * 4.0 * n * ctx * nh * hd
    bwd = 2.0 * n * H * V + (L - low) * 8.0 * n * ctx * nh * hd
    for layer in range(L):
        for name, i, o in linears:
            adapter = 2.0 * n * rank * (i + o) if layer in adapted else 0.0
            fwd += 2.0 * n * i * o + adapter
            if layer < low:
                continue
            if not (layer == low and name in ("q", "k", "v")):
                bwd += 2.0 * n * i * o + adapter
            bwd += adapter
    return fwd, bwd


def main():
    d, log, shape, method, bl, steps, extra, runlog, peer, peak = sys.argv[1:]
    peak = float(peak)
    weights = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log).read()).group(1)) * 1024
    b, t = (int(x) for x in bl.split(" x "))
    recs = [json.loads(line) for line in open(runlog)]
    steps_ = [r for r in recs if r["type"] == "step"]
    rounds = [r for r in recs if r["type"] == "round"]
    tokens = b * (t - 1)
    ends = [r["step"] * tokens / r["tokens_per_s"] for r in steps_ if r["tokens_per_s"] > 0]
    per = [y - x for x, y in zip(ends, ends[1:])] or ends[:1]
    cpu = [y["cpu_s"] - x["cpu_s"] for x, y in zip(steps_, steps_[1:]) if "cpu_s" in x and "cpu_s" in y]
    step_s = statistics.median(per) if per else float("nan")
    tps = tokens / step_s
    cpu_tok = statistics.median(cpu) / tokens if cpu else float("nan")

    cfg = json.load(open(os.path.join(d, "config.json")))
    L = cfg["num_hidden_layers"]
    adapted = rounds[0]["layers"] if method == "xgblora" and rounds else list(range(L))
    m = re.search(r"--rank (\d+)", extra)
    rank = 1 if method == "xgblora" else int(m.group(1)) if m else 8
    fwd, bwd = step_flops(cfg, b, t, adapted, rank)
    flops = fwd + bwd

    g = 1 << 30
    p = json.loads(peer) if peer else None
    ratio = f"{tps / p['tokens_per_s']:.2f}x" if p else "-"

    def util(seconds):
        return f"{flops / seconds / 1e9:.0f} GFLOP/s = {flops / seconds / 1e9 / peak:.0%}"

    def layers(ls):
        return ",".join(map(str, ls)) if method == "xgblora" else "all"

    print(f"| {shape} | xgblora {method} {extra} (layers {layers(adapted)}) | {bl} | {steps} | {weights / g:.2f} GiB | "
          f"{rss / g:.2f} GiB | {(rss - weights) / g:+.2f} GiB | {tps:.1f} | {cpu_tok * 1e3:.0f} ms | {util(step_s)} | {ratio} |")
    if p:
        print(f"| {shape} | PyTorch {p['torch']} {method} ({p['dtype']}{', checkpoint' if p['checkpoint'] else ''}, layers "
              f"{layers(p['adapted_layers'])}) | {bl} | {p['steps']} + 1 | {weights / g:.2f} GiB (read as f32) | "
              f"{p['peak_rss_mib'] / 1024:.2f} GiB | {(p['peak_rss_mib'] * 1048576 - weights) / g:+.2f} GiB | "
              f"{p['tokens_per_s']:.1f} | {p['cpu_s_per_token'] * 1e3:.0f} ms | {util(p['step_s_median'])} | |")
    print(f"{shape} {method}: model FLOPs per step {flops / 1e12:.2f} T (forward {fwd / 1e12:.2f} T), "
          f"peak {peak:.0f} GFLOP/s", file=sys.stderr)


if __name__ == "__main__":
    main()
