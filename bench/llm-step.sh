#!/usr/bin/env bash
# Peak memory (and indicative tokens/s) of a few training steps on random-weight decoders at real
# shapes, written by `xgblora make-model`. Prints one table row per case:
#   shape | method | batch x length | steps | mapped weights | peak RSS | RSS - weights | tokens/s
# Usage: bench/llm-step.sh [--with-8b] [--steps N] [--models DIR] [--quick]
#   --quick: every case on the tiny shape at 2 x 64 (checks the script itself in a minute)
#   models are made once under DIR (default /tmp/xgblora-models: 2.5 GB + 1 GB, + 16 GB with --with-8b)
# Memory figures are valid on a shared machine; tokens/s only on an idle one.
# TODO: the PyTorch peer column (bench/torch_steps.py extended to Llama/Qwen2 with HF semantics).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
models=/tmp/xgblora-models
steps=3
with8b=0
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --with-8b) with8b=1 ;;
    --steps) steps="$2"; shift ;;
    --models) models="$2"; shift ;;
    --quick) quick=1 ;;
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
  if [ "$quick" = 1 ]; then shape=tiny; batch=2; len=64; heap=512m; fi
  local dir out log
  dir=$(model "$shape")
  out=$(mktemp -d)
  log="$out/time.log"
  XGBLORA_JAVA_OPTS="-Xmx$heap" nice /usr/bin/time -v "$here/xgblora" train --model "$dir" --task lm --train "$text" \
      --method "$method" --steps "$steps" --batch-size "$batch" --max-length "$len" --no-baseline --no-export --json \
      --output "$out/run" "$@" > "$out/stdout.jsonl" 2> "$log" || { echo "$shape $method failed: see $log" >&2; return; }
  python3 - "$dir" "$out/stdout.jsonl" "$log" "$shape" "$method" "$batch x $len" "$steps" "$*" <<'EOF'
import json, os, re, sys
d, stdout, log, shape, method, bl, steps, extra = sys.argv[1:]
weights = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log).read()).group(1)) * 1024
final = [json.loads(l) for l in open(stdout) if l.startswith("{")][-1]
tps = final.get("tokens_per_s", float("nan"))
g = 1 << 30
print(f"| {shape} | {method} {extra} | {bl} | {steps} | {weights/g:.2f} GiB | {rss/g:.2f} GiB | {(rss-weights)/g:+.2f} GiB | {tps:.1f} |")
EOF
}

echo "| shape | method | batch x length | steps | mapped weights | peak RSS | RSS - weights | tokens/s (indicative) |"
echo "|---|---|---|---|---|---|---|---|"
run_case llama-3.2-1b xgblora 4 512 3g --kappa 1 --recompute
run_case qwen2.5-0.5b xgblora 4 512 3g --kappa 1 --recompute
run_case llama-3.2-1b lora 4 512 3g --rank 8 --recompute
if [ "$with8b" = 1 ]; then
  run_case llama-3.1-8b xgblora 1 512 3g --kappa 1 --recompute
fi
echo "| PyTorch peer | TODO | | | | | | |"
