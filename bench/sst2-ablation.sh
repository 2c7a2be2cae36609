#!/usr/bin/env bash
# XGBLoRA ablation over kappa (steps per booster) and L_s (layers per booster) on SST-2 with
# all-MiniLM-L6-v2: the recipe of bench/sst2-table.sh (r=1, alpha 16, all six targets, adapters
# lr 1e-3, head lr 5e-4, batch 32, max 64 tokens), one run per (kappa, L_s) at the same step
# budget, each evaluated on SST-2 dev. Prints a markdown grid of dev accuracy (rows kappa,
# columns L_s) and one of training tokens/s.
#
# Usage: bench/sst2-ablation.sh [--steps N] [--kappas "25 50 100 200"] [--layers "1 2 3 6"] [--seed S]
#                               [--data DIR] [--out DIR] [--print-only]
#   --steps N  budget per run (default 2105 = one epoch; 16 runs of an epoch take ~5 hours on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
steps=2105
kappas="25 50 100 200"
layers="1 2 3 6"
seed=0
print_only=0
data="${XGBLORA_DATA:-$here/../shared/data}"
out="$here/runs/sst2-ablation-$(date -u +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --kappas) kappas="$2"; shift 2 ;;
    --layers) layers="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --print-only) print_only=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
train="$data/sst2/train.tsv"; dev="$data/sst2/dev.tsv"
[ -f "$train" ] && [ -f "$dev" ] || { echo "SST-2 not found at $data/sst2 (pass --data DIR or set XGBLORA_DATA)" >&2; exit 1; }
mkdir -p "$out"
export XGBLORA_JAVA_OPTS="${XGBLORA_JAVA_OPTS:--Xmx2g}"

if [ "$print_only" = 0 ]; then
  "$here/xgblora" --version >/dev/null
  for k in $kappas; do
    for l in $layers; do
      name="k$k-l$l"
      echo "== kappa $k, L_s $l ($steps steps)" >&2
      rm -rf "$out/$name"
      "$here/xgblora" train --model minilm --train "$train" --valid "$dev" --batch-size 32 --max-length 64 --seed "$seed" \
        --warmup-ratio 0.06 --schedule linear --no-export --no-baseline --json --log-every 50 --steps "$steps" \
        --method xgblora --rank 1 --alpha 16 --targets all --lr 1e-3 --head-lr 5e-4 --kappa "$k" --layers-per-booster "$l" \
        --output "$out/$name" > "$out/$name.jsonl"
    done
  done
fi

python3 - "$out" "$kappas" "$layers" "$steps" <<'PY'
import json, os, sys
out, kappas, layers, steps = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]

def final(k, l):
    path = os.path.join(out, f"k{k}-l{l}.jsonl")
    if not os.path.exists(path):
        return None
    rec = None
    for line in open(path):
        if line.startswith("{"):
            o = json.loads(line)
            if o.get("type") == "final":
                rec = o
    return rec

for title, cell in (("SST-2 dev accuracy", lambda f: f"{100 * f['after_accuracy']:.2f} %"),
                    ("training tokens/s", lambda f: f"{f['tokens_per_s']:,.0f}")):
    print(f"\n{title}, XGBLoRA r=1, {steps} steps (rows: κ, columns: L_s of 6 layers)\n")
    print("| κ \\ L_s | " + " | ".join(layers) + " |")
    print("|---|" + "---|" * len(layers))
    for k in kappas:
        row = []
        for l in layers:
            f = final(k, l)
            row.append("—" if f is None else cell(f))
        print(f"| {k} | " + " | ".join(row) + " |")
PY
echo "runs and logs: $out" >&2
