#!/usr/bin/env bash
# Training-step throughput, xgblora (Java) vs PyTorch, side by side on all-MiniLM-L6-v2.
# For each method it runs `xgblora bench step`, bench/torch_steps.py (Debian's python3-torch) and
# bench/djl-steps.sh (PyTorch 2.7.1 with MKL driven from Java through DJL 0.36: what a JVM user
# who wants PyTorch would pick), each in its own process (peak RSS is a per-process high-water
# mark), one after another, and prints per method the tokens/s of each, the ratios java/pytorch
# and java/djl, the peak RSS of each, the Java side's allocation per step, the median CPU time
# per step (all threads; a loaded machine inflates it far less than wall time) and the loss
# after the last step. All sides draw the same batch, head and adapters from the same seed, so
# the losses should agree (a check that they run the same computation).
# The raw JSON lines go to --out (default target/throughput-<UTC time>.jsonl).
#
# Usage: bench/throughput.sh [--methods "xgblora lora full qv-r1-all"] [--steps 20] [--warmup 3]
#                            [--batch 32] [--seq 64] [--threads 2] [--peers "pytorch djl"] [--out FILE]
# Env:   PYTHON (default /usr/bin/python3, Debian's python3-torch), XGBLORA_JAVA_OPTS (JVM flags;
#        the JVM's default heap limit is 1/4 of RAM and its peak RSS grows towards it with the
#        per-step garbage: compare with XGBLORA_JAVA_OPTS=-Xmx1g).
# Needs: JDK 25, the model imported (`./xgblora import-onnx`, done here if missing),
#        `apt-get install python3-torch libopenblas0-pthread` for the pytorch peer and Maven
#        Central (or the DJL jars in ~/.m2) for the djl peer; --peers picks the peers.
# Measure on an otherwise idle machine: both sides use --threads cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

methods="xgblora lora full qv-r1-all"
peers="pytorch djl"
steps=20 warmup=3 batch=32 seq=64 threads=2
out="target/throughput-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) methods="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --seq) seq="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --peers) peers="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

python="${PYTHON:-/usr/bin/python3}"
# Debian's torch mixes OpenMP and OpenBLAS pools; an active wait policy makes them fight (~1.8x slower).
export OMP_WAIT_POLICY=PASSIVE
if [[ " $peers " == *" pytorch "* ]] && ! "$python" -c "import torch" 2>/dev/null; then
  echo "$python cannot import torch: apt-get install -y python3-torch libopenblas0-pthread (or set PYTHON)" >&2
  exit 1
fi
./xgblora import-onnx >/dev/null   # builds the jar if needed; imports the model once

common=(--batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" --threads "$threads")
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for m in $methods; do
  echo "# $m: java ..." >&2
  ./xgblora bench step --method "$m" "${common[@]}" --json | grep '^{' >> "$tmp"
  if [[ " $peers " == *" pytorch "* ]]; then
    echo "# $m: pytorch ..." >&2
    "$python" bench/torch_steps.py --method "$m" "${common[@]}" | grep '^{' >> "$tmp"
  fi
  if [[ " $peers " == *" djl "* ]]; then
    echo "# $m: djl (PyTorch 2.7.1) ..." >&2
    bench/djl-steps.sh --method "$m" "${common[@]}" | grep '^{' >> "$tmp"
  fi
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
trap - EXIT

"$python" - "$out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["method"], {})[r["impl"]] = r
first = rows[0]
print(f"batch {first['batch']} x {first['seq']} tokens, {first['threads']} threads, median of {first['steps']} steps "
      f"after {first['warmup']} warmup; java/peer > 1 means Java is faster")
print("| method | java tok/s | pytorch tok/s | djl tok/s | java/pytorch | java/djl | peak RSS MiB java / pytorch / djl "
      "| java alloc MiB/step | CPU ms/step java / pytorch / djl | loss after last step java / pytorch / djl |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
g = lambda r, k: r.get(k, "-") if r else "-"
ratio = lambda a, b: f"{a['tokens_per_s'] / b['tokens_per_s']:.2f}" if a and b else "-"
for m, d in by.items():
    j, p, q = d.get("java"), d.get("pytorch"), d.get("djl")
    print(f"| {m} | {g(j, 'tokens_per_s')} | {g(p, 'tokens_per_s')} | {g(q, 'tokens_per_s')} | {ratio(j, p)} | {ratio(j, q)} "
          f"| {g(j, 'peak_rss_mib')} / {g(p, 'peak_rss_mib')} / {g(q, 'peak_rss_mib')} | {g(j, 'alloc_mib_per_step')} "
          f"| {g(j, 'cpu_ms_median')} / {g(p, 'cpu_ms_median')} / {g(q, 'cpu_ms_median')} "
          f"| {g(j, 'loss_last')} / {g(p, 'loss_last')} / {g(q, 'loss_last')} |")
version = lambda impl, k: next((r[k] for r in rows if r["impl"] == impl), "?")
print(f"java {version('java', 'java')} ({version('java', 'kernels')} kernels), Debian torch {version('pytorch', 'torch')}, "
      f"DJL {version('djl', 'djl')} with torch {version('djl', 'torch')}; raw: {sys.argv[1]}")
EOF
