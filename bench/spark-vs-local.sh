#!/usr/bin/env bash
# One process vs --spark local[2] (two replicas on this machine), back to back, same flags:
# all-MiniLM-L6-v2 on SST-2 train, batch 32 (global), 64 tokens. Prints a markdown table of
# training tokens/s (the final table's figure, excluding model loading), the bytes each replica
# exchanges per step and the median seconds an exchange took (run.jsonl's sync_bytes and
# sync_seconds), per method.
#
# Usage: bench/spark-vs-local.sh [--steps N] [--methods "xgblora lora full"] [--data DIR] [--out DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
steps=60
methods="xgblora lora"
data="${XGBLORA_DATA:-$here/../shared/data}"
out="$here/runs/spark-vs-local-$(date -u +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
export XGBLORA_JAVA_OPTS="${XGBLORA_JAVA_OPTS:--Xmx3g}"
echo "| method | run | training tokens/s | bytes exchanged per step per replica | exchange seconds per step (median) |"
echo "|---|---|---:|---:|---:|"
for m in $methods; do
  for mode in local spark; do
    dir="$out/$m-$mode"
    extra=()
    [ "$mode" = spark ] && extra=(--spark "local[2]")
    "$here/xgblora" train --train "$data/sst2/train.tsv" --method "$m" --steps "$steps" --batch-size 32 --log-every 10 \
      --no-baseline --no-export --json --output "$dir" "${extra[@]}" > "$dir.out" 2> "$dir.err" || { cat "$dir.err" >&2; exit 1; }
    tps=$(grep '"type":"final"' "$dir.out" | sed 's/.*"tokens_per_s":\([0-9.]*\).*/\1/')
    bytes=$(grep -h "\"sync_bytes\"" "$dir/run.jsonl" | tail -1 | sed "s/.*\"sync_bytes\":\([0-9]*\).*/\1/" || true)
    secs=$(grep -h '"sync_seconds"' "$dir/run.jsonl" | sed 's/.*"sync_seconds":\([0-9.eE-]*\).*/\1/' | sort -g \
      | awk '{a[NR]=$1} END{if (NR) printf "%.3f", a[int((NR+1)/2)]}' || true)
    printf "| %s | %s | %.0f | %s | %s |\n" "$m" "$([ "$mode" = spark ] && echo 'local[2], 2 replicas × 16' || echo 'one process × 32')" \
      "$tps" "${bytes:--}" "${secs:--}"
  done
done
