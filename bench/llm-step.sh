#!/usr/bin/env bash
# Peak memory, tokens/s, CPU per token and model FLOP/s of a few training steps on random-weight decoders
# at real shapes, written by `xgblora make-model`. Prints one table row per case (bench/llm_step_summary.py):
#   shape | method | batch x length | steps | mapped weights | peak RSS | RSS - weights | tokens/s |
#   CPU per token | model FLOP/s against the FMA peak | xgblora / PyTorch
# XGBLoRA runs one round (--kappa = steps) and the peer adapts the layers that round drew (the same work).
# Usage: bench/llm-step.sh [--with-8b] [--steps N] [--models DIR] [--quick]
#   --quick: every case on the tiny shape at 2 x 64 (checks the script itself in a minute)
#   models are made once under DIR (default /tmp/xgblora-models: 2.5 GB + 1 GB, + 16 GB with --with-8b)
# Memory figures are valid on a shared machine; tokens/s only on an idle one.
# Each case is followed by the PyTorch peer (bench/torch_llm_steps.py: Debian's PyTorch, a
# hand-written Llama/Qwen2 with Hugging Face semantics, f32 weights, layer checkpointing where
# xgblora recomputes) on the same weights, batch and method; tokens/s are medians of the steps
# after the first on both sides, and the last column is xgblora / PyTorch.
#   --no-peer: xgblora only; --case "SHAPE METHOD": only that case (e.g. "llama-3.2-1b xgblora")
# Both sides use the CPUs this script may run on (`nproc`: taskset -c 0 gives a 1-thread comparison).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
models=/tmp/xgblora-models
steps=3
with8b=0
quick=0
peer=1
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --with-8b) with8b=1 ;;
    --steps) steps="$2"; shift ;;
    --models) models="$2"; shift ;;
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --case) only="$2"; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }
mkdir -p "$models"
text="$models/text.txt"
[ -f "$text" ] || cat "$here"/README.md "$here"/../shared/docs/*.md > "$text" 2>/dev/null || cat "$here"/README.md > "$text"

model() { # shape -> directory, made once
  [ -d "$models/$1" ] || "$here/xgblora" make-model "$1" "$models/$1" >&2
  echo "$models/$1"
}

# case: shape method batch length heap extra-options...
run_case() {
  local shape=$1 method=$2 batch=$3 len=$4 heap=$5; shift 5
  [ -z "$only" ] || [ "$only" = "$shape $method" ] || return 0
  if [ "$quick" = 1 ]; then shape=tiny; batch=2; len=64; heap=512m; fi
  local dir out log
  dir=$(model "$shape")
  out=$(mktemp -d)
  log="$out/time.log"
  # XGBLoRA runs one round over all steps (--kappa = steps), so its random layers stay fixed and the peer
  # gets the same ones: backward reaches down to the lowest adapted layer on both sides (the same work)
  local round=()
  [ "$method" = xgblora ] && round=(--kappa "$steps")
  XGBLORA_JAVA_OPTS="-Xmx$heap" nice /usr/bin/time -v "$here/xgblora" train --model "$dir" --task lm --train "$text" \
      --method "$method" --steps "$steps" "${round[@]}" --batch-size "$batch" --max-length "$len" --no-baseline --no-export \
      --json --log-every 1 --output "$out/run" "$@" > "$out/stdout.jsonl" 2> "$log" || { echo "$shape $method failed: see $log" >&2; return; }
  local peer_json=""
  if [ "$peer" = 1 ]; then
    local ck="" layers=()
    case " $* " in *" --recompute "*) ck=--checkpoint ;; esac
    [ "$method" = xgblora ] && layers=(--layers "$(python3 -c 'import json, sys
print(",".join(map(str, next(r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "round")["layers"])))' "$out/run/run.jsonl")")
    peer_json=$(nice /usr/bin/python3 "$here/bench/torch_llm_steps.py" --model "$dir" --method "$method" --batch "$batch" --seq "$len" \
        --steps "$((steps > 1 ? steps - 1 : 1))" --warmup 1 --threads "$(nproc)" $ck "${layers[@]}" 2> "$out/peer.err" | tail -1) \
      || { echo "PyTorch peer failed: see $out/peer.err" >&2; peer_json=""; }
  fi
  python3 "$here/bench/llm_step_summary.py" "$dir" "$log" "$shape" "$method" "$batch x $len" "$steps" "$*" "$out/run/run.jsonl" \
      "$peer_json" "$peak"
}

# the f32 FMA peak of the cores this script may use (`xgblora info` gives it per core, at the nominal clock)
peak=$(python3 -c 'import os, sys; print(len(os.sched_getaffinity(0)) * float(sys.argv[1]))' \
    "$("$here/xgblora" info 2>/dev/null | sed -n 's/^f32 FMA peak: *\([0-9.]*\) GFLOP.*/\1/p')")

echo "| shape | implementation, method | batch x length | steps | mapped weights | peak RSS | RSS - weights | tokens/s (median step) | CPU per token | model FLOP/s, of the FMA peak | xgblora / PyTorch |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
run_case llama-3.2-1b xgblora 4 512 2g --recompute
run_case qwen2.5-0.5b xgblora 4 512 3g --recompute
run_case qwen2.5-0.5b lora 4 512 3g --rank 8 --recompute
run_case llama-3.2-1b lora 4 512 2g --rank 8 --recompute
if [ "$with8b" = 1 ]; then
  run_case llama-3.1-8b xgblora 1 512 3g --recompute
fi
