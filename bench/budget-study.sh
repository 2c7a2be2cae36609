#!/usr/bin/env bash
# Budget study (issue 14): each method and setting trained for a wall-clock budget on a GLUE task,
# with all-MiniLM-L6-v2, then evaluated with the task's metric. Runs come from a queue file, one
# per line: TASK CONFIG BUDGET SEED [extra train options...]
#   TASK    sst2, cola or rte (../shared/data/sst2, ../shared/data/glue/{cola,rte})
#   CONFIG  head, full, lora, relora, cola, xgb (the defaults of each --method), or a name of your
#           own for an ablation (xgb-k25 ...): the method comes from the prefix before the first '-'
#           and the extra options set the rest
#   BUDGET  wall-clock budget of the training loop in LoRA-epoch-equivalents (the time LoRA r=8 takes
#           for one epoch of that task on this machine: E below), or "epoch" for one epoch unbudgeted
# The queue is re-read after every run (edit it while the study runs); a run whose results.json
# exists is skipped, so an interrupted study continues where it stopped. bench/budget_table.py
# prints the tables.
#
# Usage: bench/budget-study.sh QUEUE [--out DIR] [--data DIR]
#   E per task (seconds, LoRA r=8 one epoch, batch 32, 2 threads): override with E_SST2, E_COLA, E_RTE
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
queue="${1:?usage: bench/budget-study.sh QUEUE [--out DIR] [--data DIR]}"; shift
out="$here/runs/budget-study"
data="${XGBLORA_DATA:-$here/../shared/data}"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# measured here: LoRA r=8 one epoch, training loop only (bench/budget-study.sh with BUDGET "epoch")
E_SST2="${E_SST2:-1000}"; E_COLA="${E_COLA:-100}"; E_RTE="${E_RTE:-150}"
mkdir -p "$out"
"$here/xgblora" --version >/dev/null

task_args() {
  case "$1" in
    sst2) echo "--train $data/sst2/train.tsv --valid $data/sst2/dev.tsv --max-length 64" ;;
    cola) echo "--train $data/glue/cola/train.tsv --valid $data/glue/cola/val.tsv --max-length 64" ;;
    rte) echo "--train $data/glue/rte/train.tsv --valid $data/glue/rte/val.tsv --text-column sentence1 --pair-column sentence2 --max-length 128" ;;
    *) echo "unknown task $1" >&2; return 2 ;;
  esac
}
epoch_seconds() {
  case "$1" in sst2) echo "$E_SST2" ;; cola) echo "$E_COLA" ;; rte) echo "$E_RTE" ;; esac
}
method_of() {
  case "${1%%-*}" in
    head|full|lora|relora|cola) echo "${1%%-*}" ;;
    xgb) echo xgblora ;;
    *) echo "unknown config $1 (prefix head, full, lora, relora, cola or xgb)" >&2; return 2 ;;
  esac
}

next_run() { # the first queue line without results
  while read -r task config budget seed extra; do
    case "$task" in ''|\#*) continue ;; esac
    name="$task/$config-b$budget-s$seed"
    [ -f "$out/$name/results.json" ] || [ -f "$out/$name.failed" ] || { echo "$task $config $budget $seed $extra"; return 0; }
  done < "$queue"
  return 1
}

while line=$(next_run); do
  # E measured by an "epoch" run of this study can be set in DIR/E.env (E_RTE=...) while it runs
  [ -f "$out/E.env" ] && source "$out/E.env"
  read -r task config budget seed extra <<< "$line"
  name="$task/$config-b$budget-s$seed"
  dir="$out/$name"
  rm -rf "$dir"; mkdir -p "$(dirname "$dir")"
  limit=(--epochs 1)
  if [ "$budget" != epoch ]; then
    secs=$(python3 -c "print(round($budget * $(epoch_seconds "$task"), 1))")
    limit=(--epochs 50 --time-budget "$secs")
  fi
  echo "== $(date -u +%H:%M:%S) $name ${limit[*]} $extra" >&2
  export XGBLORA_JAVA_OPTS="-Xmx2g -Xlog:gc:file=$dir.gc.log"
  # shellcheck disable=SC2046,SC2086
  if ! /usr/bin/time -v -o "$dir.time" "$here/xgblora" train --model minilm $(task_args "$task") --batch-size 32 --seed "$seed" --bucket \
      --method "$(method_of "$config")" --no-export --no-baseline --json --log-every 20 "${limit[@]}" $extra --output "$dir" > "$dir.jsonl" 2> "$dir.err"; then
    echo "   failed: see $dir.err" >&2
    touch "$dir.failed"
  fi
done
echo "queue done: $out" >&2
