#!/usr/bin/env bash
# Run-to-run spread of the training step: `xgblora bench step` N times (default 5) per method,
# each in a fresh JVM (so each run makes its own JIT inlining decisions), and prints per method the
# median tokens/s, min and max, the spread (max - min)/median and the largest deviation from the
# median, plus the median allocation per step. Issue 10's target: every run within ±5 % of the median.
#
# Usage: bench/step-spread.sh [--methods "xgblora lora full"] [--runs 5] [--steps 20] [--warmup 3]
#                             [--batch 32] [--seq 64] [--threads 2] [--out FILE]
# Env:   XGBLORA_JAVA_OPTS (JVM flags, default -Xmx1g).
# Measure on an otherwise idle machine: on a loaded one the spread says more about the load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

methods="xgblora lora full" runs=5 steps=20 warmup=3 batch=32 seq=64 threads=2
out="target/step-spread-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) methods="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --seq) seq="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
export XGBLORA_JAVA_OPTS="${XGBLORA_JAVA_OPTS:--Xmx1g}"
./xgblora import-onnx >/dev/null   # builds the jar if needed; imports the model once
mkdir -p "$(dirname "$out")"
: > "$out"
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# runs outer, methods inner: each method's runs are spread over the same minutes, so a drift of the
# host's speed shows in every method's spread alike instead of in whichever method ran during it
for ((i = 1; i <= runs; i++)); do
  for m in $methods; do
    echo "# $m: run $i/$runs ..." >&2
    ./xgblora bench step --method "$m" --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" \
      --threads "$threads" --json | grep '^{' >> "$out"
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["method"], []).append(r)
f = rows[0]
print(f"batch {f['batch']} x {f['seq']}, {f['threads']} threads, median of {f['steps']} steps after {f['warmup']} warmup per run, "
      f"one fresh JVM per run")
print("| method | runs | tok/s median | min | max | (max-min)/median | max deviation from median | alloc MiB/step (median) | utilisation (median) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for m, rs in by.items():
    t = [r["tokens_per_s"] for r in rs]
    med = statistics.median(t)
    dev = max(abs(x - med) for x in t) / med
    alloc = statistics.median(r.get("alloc_mib_per_step", float("nan")) for r in rs)
    util = statistics.median(r.get("utilisation", float("nan")) for r in rs)
    print(f"| {m} | {len(t)} | {med:.1f} | {min(t):.1f} | {max(t):.1f} | {(max(t) - min(t)) / med:.1%} | ±{dev:.1%} | {alloc:.2f} | {util:.3f} |")
print(f"tok/s per run: " + "; ".join(f"{m} " + ", ".join(f"{r['tokens_per_s']:.0f}" for r in rs) for m, rs in by.items()))
print(f"raw: {sys.argv[1]}")
PY
