#!/usr/bin/env bash
# Issue 9's end-to-end check on a decoder: an XGBLoRA run killed with SIGKILL and resumed reaches
# the same losses (and the same exported bytes) as an uninterrupted one, and its exports reproduce
# the trained model: the PEFT adapter added to the base in f32 and the merged bf16 export, both read
# by the independent PyTorch implementation (bench/torch_llm_steps.py), give logits within the
# printed difference, and xgblora's own score of the merged export agrees with PyTorch's.
#
# Usage: bench/llm-resume-check.sh [--shape llama-3.2-1b] [--steps 100] [--batch 1] [--length 64]
#                                  [--kill-at 50] [--models DIR] [--out DIR]
#   --shape tiny checks the script itself in a minute.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shape=llama-3.2-1b; steps=100; batch=1; length=64; kill_at=50
models=/tmp/xgblora-models; out="$here/runs/llm-resume-check-$(date -u +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shape="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --length) length="$2"; shift 2 ;;
    --kill-at) kill_at="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null || { echo "needs Debian's python3-torch (/usr/bin/python3 with torch)" >&2; exit 1; }
mkdir -p "$models" "$out"
dir="$models/$shape"
[ -d "$dir" ] || "$here/xgblora" make-model "$shape" "$dir" >&2
text="$out/text.txt"
cat "$here"/README.md "$here"/../shared/docs/*.md > "$text" 2>/dev/null || cat "$here"/README.md > "$text"
export XGBLORA_JAVA_OPTS="${XGBLORA_JAVA_OPTS:--Xmx4g}"
train=(train --model "$dir" --task lm --train "$text" --method xgblora --steps "$steps" --batch-size "$batch" --max-length "$length"
       --kappa 10 --checkpoint-every 10 --log-every 1 --seed 0 --no-baseline --json)

echo "== uninterrupted run ($steps steps)" >&2
"$here/xgblora" "${train[@]}" --output "$out/whole" > "$out/whole.jsonl"

echo "== the same run, killed with SIGKILL after step $kill_at, then resumed" >&2
"$here/xgblora" "${train[@]}" --output "$out/killed" > "$out/killed-1.jsonl" &
pid=$!
until [ -f "$out/killed/run.jsonl" ] && python3 -c "
import json, sys
n = max([json.loads(l).get('step', 0) for l in open(sys.argv[1]) if '\"type\":\"step\"' in l] or [0])
sys.exit(0 if n >= int(sys.argv[2]) else 1)" "$out/killed/run.jsonl" "$kill_at"; do
  kill -0 "$pid" 2>/dev/null || { echo "the run ended before step $kill_at" >&2; exit 1; }
  sleep 1
done
# the java process itself (the launcher script execs it or waits for it)
pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"$here/xgblora" train --resume "$out/killed" --json > "$out/killed-2.jsonl"

python3 - "$out" "$dir" <<'PY'
import json, random, sys
out, model = sys.argv[1:]
def losses(d):
    return {r["step"]: r["loss"] for r in (json.loads(l) for l in open(f"{out}/{d}/run.jsonl")) if r.get("type") == "step"}
a, b = losses("whole"), losses("killed")
diff = [s for s in a if a[s] != b.get(s)]
print(f"losses: {len(a)} steps uninterrupted, {len(b)} after the resume; steps that differ: {len(diff)}"
      + (f" (first {diff[0]}: {a[diff[0]]} vs {b.get(diff[0])})" if diff else " (bit for bit equal)"))
vocab = json.load(open(f"{model}/config.json"))["vocab_size"]
r = random.Random(7)
with open(f"{out}/prompts.jsonl", "w") as f:
    for n in (16, 48, 96):
        f.write(json.dumps({"ids": [r.randrange(vocab) for _ in range(n)]}) + "\n")
PY
for d in merged adapter; do
  if cmp -s <(cd "$out/whole/$d" && find . -type f -exec sha256sum {} + | sort) <(cd "$out/killed/$d" && find . -type f -exec sha256sum {} + | sort); then
    echo "$d/: the same bytes after the resume"
  else
    echo "$d/: DIFFERENT bytes after the resume"
  fi
done
peer="$here/bench/torch_llm_steps.py"
/usr/bin/python3 "$peer" --model "$dir" --adapter "$out/whole/adapter" --score-ids "$out/prompts.jsonl" --logits-out "$out/adapter.pt" > "$out/adapter-scores.jsonl"
/usr/bin/python3 "$peer" --model "$out/whole/merged" --score-ids "$out/prompts.jsonl" --logits-out "$out/merged.pt" > "$out/merged-scores.jsonl"
"$here/xgblora" score --model "$out/whole/merged" --input "$out/prompts.jsonl" > "$out/xgblora-merged-scores.jsonl"
echo "logits, base + PEFT adapter (f32) vs merged bf16 export, both in PyTorch: $(/usr/bin/python3 "$peer" --compare-logits "$out/adapter.pt" "$out/merged.pt")"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
t = [json.loads(l)["logprob"] for l in open(f"{out}/merged-scores.jsonl")]
x = [json.loads(l)["logprob"] for l in open(f"{out}/xgblora-merged-scores.jsonl")]
print("log-likelihood of the 3 prompts on the merged export, xgblora vs PyTorch: max relative difference "
      f"{max(abs(a - b) / abs(b) for a, b in zip(x, t)):.2e}")
PY
echo "files: $out" >&2
