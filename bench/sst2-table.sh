#!/usr/bin/env bash
# The SST-2 reproduction table: all-MiniLM-L6-v2, batch 32, max 64 tokens, one epoch of SST-2
# train (2,105 steps) per method at the same step budget, seed 0 (or --seed), evaluated on SST-2 dev:
#   head only   backbone frozen (--method head), head lr 1e-3
#   full        every weight, lr 2e-5 (the usual BERT fine-tuning rate), head lr 5e-4
#   lora        r=8, alpha 16, all linear modules of all 6 layers, lr 5e-4 (head too)
#   xgblora     r=1, alpha 16, L_s=2 of 6 layers, kappa=50, adapters lr 1e-3, head lr 5e-4
# Prints a markdown table: dev accuracy, training tokens/s, wall time, peak resident memory (with
# the heap capped at 2 GiB unless XGBLORA_JAVA_OPTS says otherwise, since a JVM's heap otherwise
# grows towards a quarter of RAM whatever it needs), the live heap (largest occupancy after a
# full GC: what the run really holds), trainable parameters per step and cumulative.
#
# Usage: bench/sst2-table.sh [--steps N] [--methods "head full lora xgblora"] [--seed S] [--data DIR] [--out DIR] [--print-only]
#   --steps N   shorter runs (default: one epoch); --seed S: another seed (data order, init, layer choice; default 0)
#   --data DIR  directory holding sst2/ (default ../shared/data)
#   --print-only  print the table of the runs already in --out (e.g. methods run in separate calls)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
steps=0
seed=0
print_only=0
methods="head full lora xgblora"
data="${XGBLORA_DATA:-$here/../shared/data}"
out="$here/runs/sst2-table-$(date -u +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --print-only) print_only=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
train="$data/sst2/train.tsv"; dev="$data/sst2/dev.tsv"
[ -f "$train" ] && [ -f "$dev" ] || { echo "SST-2 not found at $data/sst2 (pass --data DIR or set XGBLORA_DATA)" >&2; exit 1; }
mkdir -p "$out"
budget=(); [ "$steps" -gt 0 ] && budget=(--steps "$steps")
common=(--model minilm --train "$train" --valid "$dev" --batch-size 32 --max-length 64 --seed "$seed" --warmup-ratio 0.06
        --schedule linear --no-export --no-baseline --json --log-every 10)

args_for() {
  case "$1" in
    head) echo "--method head --head-lr 1e-3" ;;
    full) echo "--method full --lr 2e-5 --head-lr 5e-4" ;;
    lora) echo "--method lora --rank 8 --alpha 16 --targets all --lr 5e-4 --head-lr 5e-4" ;;
    xgblora) echo "--method xgblora --rank 1 --alpha 16 --layers-per-booster 2 --kappa 50 --targets all --lr 1e-3 --head-lr 5e-4" ;;
    *) echo "unknown method $1" >&2; exit 2 ;;
  esac
}

# make sure the jar is built before timing anything
[ "$print_only" = 1 ] || "$here/xgblora" --version >/dev/null

java_opts="${XGBLORA_JAVA_OPTS:--Xmx2g}"
for m in $methods; do
  [ "$print_only" = 1 ] && break
  export XGBLORA_JAVA_OPTS="$java_opts -Xlog:gc:file=$out/$m.gc.log"
  dir="$out/$m"
  rm -rf "$dir"
  echo "== $m: $(args_for "$m") ${budget[*]:-}" >&2
  start=$(date +%s%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$out/$m.time" "$here/xgblora" train "${common[@]}" $(args_for "$m") "${budget[@]}" --output "$dir" > "$out/$m.jsonl"
    peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/$m.time")
  else
    # no GNU time: sample the process' high-water mark (VmHWM) until it exits
    "$here/xgblora" train "${common[@]}" $(args_for "$m") "${budget[@]}" --output "$dir" > "$out/$m.jsonl" &
    pid=$!; peak_kb=0
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$v" ] && [ "$v" -gt "$peak_kb" ] && peak_kb=$v
      sleep 0.5
    done
    wait "$pid"
  fi
  end=$(date +%s%N)
  echo "$m $(( (end - start) / 1000000 )) $peak_kb" >> "$out/summary.txt"
done

python3 - "$out" $methods <<'PY'
import json, sys, os, re
out, methods = sys.argv[1], sys.argv[2:]
UNITS = {"K": 1 / 1024, "M": 1, "G": 1024}

def live_heap(m):
    """Live heap: the largest occupancy after a full GC; without one, the largest after a young GC
    (an upper bound, since the old generation still holds garbage then), marked with '≤'."""
    path = os.path.join(out, m + ".gc.log")
    if not os.path.exists(path):
        return "n/a"
    full, young = [], []
    for line in open(path):
        g = re.search(r"\d+[KMG]->(\d+)([KMG])\(", line)
        if g:
            (full if "Pause Full" in line else young).append(int(g.group(1)) * UNITS[g.group(2)])
    if full:
        return f"{max(full):,.0f} MiB"
    return f"≤ {max(young):,.0f} MiB" if young else "n/a"
names = {"head": "head only", "full": "full fine-tuning", "lora": "LoRA r=8", "xgblora": "XGBLoRA r=1, L_s=2, κ=50"}
meta = {}
for line in open(os.path.join(out, "summary.txt")):
    m, wall, kb = line.split()
    meta[m] = (int(wall) / 1000, int(kb))
print("| method | steps | dev accuracy | training tokens/s | wall time (process) | peak RSS | peak live heap | trainable params / step | cumulative |")
print("|---|---|---|---|---|---|---|---|---|")
for m in methods:
    final = None
    for line in open(os.path.join(out, m + ".jsonl")):
        line = line.strip()
        if line.startswith("{"):
            o = json.loads(line)
            if o.get("type") == "final":
                final = o
    if final is None:
        print(f"| {names[m]} | failed: no final record in {m}.jsonl | | | | | | | |")
        continue
    wall, kb = meta[m]
    acc = final.get("after_accuracy")
    live = live_heap(m)
    print(f"| {names[m]} | {final['steps']} | {100 * acc:.2f} % | {final['tokens_per_s']:,.0f} | {wall:.0f} s | {kb / 1024:,.0f} MiB | {live} "
          f"| {final['trainable_params_per_step']:,} | {final['trainable_params_cumulative']:,} |")
PY
echo "runs and logs: $out" >&2
