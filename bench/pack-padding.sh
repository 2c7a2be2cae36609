#!/usr/bin/env bash
# Padding with and without --pack: the share of padding tokens in an epoch of training batches,
# and the rows (batches) per epoch, for an sft file of many short documents (default: SST-2
# sentences as prompts, their label word as the completion) on the byte-level tokenizer of
# `xgblora make-model tiny`. Memory/padding figures only: no timing.
# Usage: bench/pack-padding.sh [--rows N] [--max-length T] [--batch-size B]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rows=4000
max=128
batch=8
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift ;;
    --max-length) max="$2"; shift ;;
    --batch-size) batch="$2"; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/xgblora" make-model tiny "$work/tiny" >/dev/null
# SST-2 rows as sft examples: {"prompt": sentence, "completion": positive|negative}
python3 - "$here/../shared/data/sst2/train.tsv" "$rows" > "$work/sft.jsonl" <<'PY'
import csv, json, sys
with open(sys.argv[1], newline="") as f:
    r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    for i, row in enumerate(r):
        if i >= int(sys.argv[2]):
            break
        print(json.dumps({"prompt": row["sentence"], "completion": "positive" if row["label"] == "1" else "negative"}))
PY
cat > "$work/PackPadding.java" <<'JAVA'
import dev.xgblora.io.Tokenizer;
import dev.xgblora.train.*;
import java.nio.file.Path;

/** One epoch of batches: real tokens, slots (rows x padded length), rows, for one way of batching. */
class PackPadding {
    public static void main(String[] a) {
        Path model = Path.of(a[0]), data = Path.of(a[1]);
        int max = Integer.parseInt(a[2]), batch = Integer.parseInt(a[3]);
        Dataset d = DatasetReader.read(data, DataOptions.of(Task.SFT));
        try (Tokenizer tok = Tokenizer.load(model)) {
            TextEncoder enc = new TokenizerEncoder(tok);
            System.out.printf("%d sft documents, --max-length %d, --batch-size %d%n", d.size(), max, batch);
            System.out.println("| batching | rows per epoch | batches per epoch | real tokens | padding tokens | padding share |");
            System.out.println("|---|---|---|---|---|---|");
            report("one document per row", new TaskData(d, enc, max), batch, false);
            report("one document per row, --bucket", new TaskData(d, enc, max), batch, true);
            report("--pack", TaskData.packed(d, enc, max, 0), batch, false);
        }
    }

    static void report(String name, TaskData td, int batch, boolean bucket) {
        DataOrder order = new DataOrder(td.units(), batch, 0, bucket ? td.lengths() : null);
        long real = 0, slots = 0;
        for (int i = 0; i < order.batchesPerEpoch(); i++) {
            Batch b = td.batch(order.next());
            real += b.tokens().realTokens();
            slots += (long) b.size() * b.tokens().seqLen();
        }
        System.out.printf("| %s | %d | %d | %d | %d | %.1f %% |%n", name, td.units(), order.batchesPerEpoch(), real, slots - real,
                100.0 * (slots - real) / slots);
    }
}
JAVA
source "$here/ci/find-jdk.sh"
nice -n 19 "$JAVA_HOME/bin/java" -Xmx1g -cp "$here/target/xgblora.jar" "$work/PackPadding.java" "$work/tiny" "$work/sft.jsonl" "$max" "$batch"
