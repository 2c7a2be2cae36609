#!/usr/bin/env bash
# Ragged batches against fixed ones (issue 10): per method, `xgblora bench step` once at each fixed
# length (fresh JVM each) and once with --lengths cycling through all of them (one JVM, the shape
# changes every step, as with --bucket or dynamic padding). Every position is a real token, so the
# ragged run should take the sum of the fixed runs' step times: the last column is
# ragged tokens/s / the tokens/s the fixed medians predict (1.00 = no cost for changing shapes;
# below 1: scratch reallocated, kernels re-JITed or caches thrashed per shape).
#
# Usage: bench/ragged-step.sh [--methods "xgblora lora full"] [--lengths 16,32,48,64] [--steps 8]
#                             [--warmup 4] [--batch 32] [--threads 2] [--out FILE]
#   --steps: timed steps per length (the ragged run times steps x lengths)
# Env:   XGBLORA_JAVA_OPTS (JVM flags, default -Xmx1g). Measure on an otherwise idle machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

methods="xgblora lora full" lengths=16,32,48,64 steps=8 warmup=4 batch=32 threads=2
out="target/ragged-step-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) methods="$2"; shift 2 ;;
    --lengths) lengths="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
export XGBLORA_JAVA_OPTS="${XGBLORA_JAVA_OPTS:--Xmx1g}"
./xgblora import-onnx >/dev/null   # builds the jar if needed; imports the model once
mkdir -p "$(dirname "$out")"
: > "$out"
n=$(tr ',' '\n' <<< "$lengths" | wc -l)
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for m in $methods; do
  for t in ${lengths//,/ }; do
    echo "# $m: fixed length $t ..." >&2
    ./xgblora bench step --method "$m" --batch "$batch" --seq "$t" --steps "$steps" --warmup "$warmup" \
      --threads "$threads" --json | grep '^{' >> "$out"
  done
  echo "# $m: ragged $lengths ..." >&2
  ./xgblora bench step --method "$m" --batch "$batch" --lengths "$lengths" --steps "$((steps * n))" \
    --warmup "$((warmup * n))" --threads "$threads" --json | grep '^{' >> "$out"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
methods = list(dict.fromkeys(r["method"] for r in rows))
print("| method | " + " | ".join(f"fixed T={r['seq']} tok/s" for r in rows if r["method"] == methods[0] and "seq" in r)
      + " | ragged tok/s | predicted by the fixed runs | ragged / predicted | ragged alloc MiB/step |")
print("|---|" + "---:|" * (sum(1 for r in rows if r["method"] == methods[0] and "seq" in r) + 4))
for m in methods:
    fixed = {r["seq"]: r for r in rows if r["method"] == m and "seq" in r}
    ragged = next(r for r in rows if r["method"] == m and "lengths" in r)
    tokens = sum(r["batch"] * t for t, r in fixed.items())
    predicted = tokens / sum(r["step_ms_median"] / 1e3 for r in fixed.values())
    cells = " | ".join(f"{r['tokens_per_s']:,.0f}" for r in fixed.values())
    print(f"| {m} | {cells} | {ragged['tokens_per_s']:,.0f} | {predicted:,.0f} | {ragged['tokens_per_s'] / predicted:.2f} "
          f"| {ragged['alloc_mib_per_step']} |")
PY
