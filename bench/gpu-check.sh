#!/usr/bin/env bash
# The prepared check of the CUDA/PTX path (and of NVIDIA's OpenCL driver) for the day an NVIDIA GPU
# machine is at hand. Two halves, because the GPU machine builds nothing, has no Java and reaches no
# registry (its image has CUDA, python3 with numpy):
#
#   here:     bench/gpu-check.sh --prepare        compiles and lays out gpu-kit/ (gitignored):
#                                                 lib/ (the runtime jars, without the 81 MB MiniLM jar),
#                                                 test-lib/ (the kernel checks GpuChecks + JUnit's assertions),
#                                                 jre/ (a jlinked Java 25 runtime),
#                                                 minilm-shape/ (all-MiniLM-L6-v2's config, tokenizer and the
#                                                 safetensors headers, not its 87 MB of weights),
#                                                 and prints the sizes and the two device-tool calls that
#                                                 carry it (64 MiB a call: the runtime first, then the rest)
#   GPU box:  bench/gpu-check.sh [--decoder DIR] [--with-1b]      (carry gpu-kit; one run <= 8 minutes)
#
# On the GPU machine it prints nvidia-smi and `xgblora info` (CUDA and OpenCL devices), then
#   1. GpuChecks: CudaKernels vs the reference kernels on the GPU (GEMM 37x29x45 in every transpose and
#      dtype, adapter paths, attention forward/backward with GQA and masks), the checks CI runs on the
#      PTX interpreter, now on silicon;
#   2. bench kernels --backend cuda --json, and --backend opencl (NVIDIA's OpenCL ICD, if installed);
#   3. bench step --device cuda and --device cpu on a MiniLM-shaped model (the real config and tensor
#      layout, random weights written there by python3: the speed of a step does not depend on them);
#   4. a decoder training step on cuda and cpu: --decoder DIR (a model directory), or --with-1b
#      (make-model llama-3.2-1b, 2.5 GB written under /tmp), else make-model's tiny shape.
# Everything goes to $OUT (the device tool's output folder; default ./gpu-check-out); each step stops
# after STEP_TIMEOUT seconds (default 150). Nothing fails
# the script except a missing Java: each step's exit code is logged and the next one runs.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
kit="$here/gpu-kit"

if [ "${1:-}" = "--prepare" ]; then
  set -e
  source "$here/ci/find-jdk.sh"
  (cd "$here" && mvn -B -q -ntp -o test-compile)
  rm -rf "$kit" && mkdir -p "$kit/lib"
  (cd "$here/target/classes" && "$JAVA_HOME/bin/jar" cf "$kit/lib/xgblora-classes.jar" .)
  tr ':' '\n' < "$here/target/runtime-classpath.txt" | grep -v 'langchain4j-embeddings-all-minilm' | while read -r j; do
    [ -f "$j" ] && cp "$j" "$kit/lib/"
  done
  # DJL's tokenizers jar carries its native library for five platforms: keep linux-x86_64's (18 MB -> 6 MB)
  for j in "$kit"/lib/tokenizers-*.jar; do
    python3 - "$j" <<'PY'
import re, sys, zipfile
src = sys.argv[1]
with zipfile.ZipFile(src) as z:
    items = [(i, z.read(i)) for i in z.infolist() if not re.match(r"native/lib/(win|osx|linux-aarch64)", i.filename)]
with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
    for i, data in items:
        z.writestr(i, data)
PY
  done
  # the kernel checks of the tests as a main (GpuChecks) and the JUnit jars they assert with
  mkdir -p "$kit/test-lib"
  (cd "$here/target/test-classes" && "$JAVA_HOME/bin/jar" cf "$kit/test-lib/xgblora-tests.jar" dev/xgblora/device/cuda dev/xgblora/kernels)
  v=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$here/pom.xml")
  for j in org/junit/jupiter/junit-jupiter-api/$v org/opentest4j/opentest4j/1.3.0 org/apiguardian/apiguardian-api/1.1.2 \
           org/junit/platform/junit-platform-commons/${v/5./1.}; do
    cp "$HOME"/.m2/repository/$j/*.jar "$kit/test-lib/"
  done
  # a Java 25 runtime for a machine without one: the modules the CLI's bench/train paths load, libjvm stripped
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.sql,jdk.incubator.vector,jdk.management,jdk.unsupported \
      --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$kit/jre"
  strip --strip-unneeded "$kit/jre/lib/server/libjvm.so"
  # MiniLM's shape without its weights: every small file, and each safetensors file's header
  m=$(find "$HOME/.cache/xgblora/models" -name config.json -printf '%h\n' 2>/dev/null | grep -i minilm | head -1)
  if [ -n "$m" ]; then
    mkdir -p "$kit/minilm-shape"
    find "$m" -maxdepth 1 -type f ! -name '*.safetensors' -exec cp {} "$kit/minilm-shape/" \;
    for f in "$m"/*.safetensors; do
      python3 -c 'import sys,struct; b=open(sys.argv[1],"rb"); n=struct.unpack("<Q",b.read(8))[0]; sys.stdout.buffer.write(struct.pack("<Q",n)+b.read(n))' \
          "$f" > "$kit/minilm-shape/$(basename "$f").header"
    done
  fi
  for d in "$kit"/*; do du -sh "$d"; done
  echo "The device tool carries 64 MiB a call (working tree included) and keeps carried paths on a warm machine:"
  echo "  run 1: carry [\"gpu-kit/jre\"], command: true"
  echo "  run 2: carry [\"gpu-kit/lib\", \"gpu-kit/test-lib\", \"gpu-kit/minilm-shape\"], command: bash bench/gpu-check.sh"
  exit 0
fi

out="${OUT:-$here/gpu-check-out}"
mkdir -p "$out"
decoder=""
with1b=0
while [ $# -gt 0 ]; do
  case "$1" in
    --decoder) decoder="$2"; shift ;;
    --with-1b) with1b=1 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done

java=""
for j in "${JAVA_HOME:-}/bin/java" "$kit/jre/bin/java" "$(command -v java || true)"; do
  [ -x "$j" ] && "$j" -version 2>&1 | grep -q 'version "25' && { java="$j"; break; }
done
[ -n "$java" ] || { echo "no Java 25 here and no gpu-kit/jre: run bench/gpu-check.sh --prepare on the build machine and carry gpu-kit" | tee "$out/FAILED"; exit 1; }
[ -d "$kit/lib" ] || { echo "no gpu-kit/lib: run bench/gpu-check.sh --prepare first and carry gpu-kit" | tee "$out/FAILED"; exit 1; }

# the CLI from the carried jars, as a command `timeout` can run
xg=/tmp/xgblora-cli.sh
cat > "$xg" <<EOF
#!/usr/bin/env bash
exec "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx24g \\
    -Dxgblora.root="$here" -cp "$kit/lib/*" dev.xgblora.cli.Main "\$@"
EOF
chmod +x "$xg"
step() { # name, command...: output to $out/NAME.txt, its exit code logged, never stops the script
  local name=$1; shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  local t0=$SECONDS
  timeout "${STEP_TIMEOUT:-150}" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - t0)) s (tail below)" | tee -a "$out/summary.txt"
  tail -n 15 "$out/$name.txt" | sed 's/^/   /' | tee -a "$out/summary.txt"
}

{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv; } > "$out/nvidia-smi.txt" 2>&1
step info "$xg" info
step kernels-vs-reference "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$kit/lib/*:$kit/test-lib/*" dev.xgblora.device.cuda.GpuChecks cuda:0
step bench-kernels-cuda "$xg" bench kernels --backend cuda --threads 1 --repeat 5 --warmup-ms 300 --jit-warmup-ms 1000 --json
step bench-kernels-opencl "$xg" bench kernels --backend opencl --threads 1 --repeat 5 --warmup-ms 300 --jit-warmup-ms 1000 --json
cores=$(nproc)
if [ -d "$kit/minilm-shape" ]; then
  # random weights in MiniLM's exact tensor layout: the header as it was, floats N(0, 0.05), integer
  # tensors (position ids) 0, 1, 2, ... along their last axis
  mini=/tmp/xgblora-minilm-random
  mkdir -p "$mini"
  find "$kit/minilm-shape" -maxdepth 1 -type f ! -name '*.header' -exec cp {} "$mini/" \;
  for h in "$kit"/minilm-shape/*.header; do
    python3 - "$h" "$mini/$(basename "$h" .header)" <<'PY'
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
size = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
data = np.zeros(size, dtype=np.uint8)
rng = np.random.default_rng(0)
for name, t in header.items():
    if name == "__metadata__":
        continue
    a, b = t["data_offsets"]
    count = int(np.prod(t["shape"])) if t["shape"] else 1
    if t["dtype"] in ("F32", "F16"):
        v = (rng.standard_normal(count) * 0.05).astype(np.float32 if t["dtype"] == "F32" else np.float16)
    elif t["dtype"] == "BF16":
        v = ((rng.standard_normal(count) * 0.05).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    else:
        last = t["shape"][-1] if t["shape"] else 1
        v = (np.arange(count) % last).astype({"I64": np.int64, "I32": np.int32}[t["dtype"]])
    data[a:b] = np.frombuffer(v.tobytes(), dtype=np.uint8)
open(sys.argv[2], "wb").write(raw[:8 + n] + data.tobytes())
PY
  done
  for dev in cuda cpu; do
    step "step-minilm-$dev" "$xg" bench step --method xgblora --model "$mini" --device "$dev" --batch 32 --seq 64 --steps 5 --warmup 2 --threads "$cores" --json
  done
else
  echo "== MiniLM step skipped: no gpu-kit/minilm-shape (prepare found no imported MiniLM in ~/.cache/xgblora)" | tee -a "$out/summary.txt"
fi
if [ -z "$decoder" ]; then
  if [ "$with1b" = 1 ]; then decoder=/tmp/xgblora-llama-1b; shape=llama-3.2-1b; else decoder=/tmp/xgblora-tiny; shape=tiny; fi
  [ -d "$decoder" ] || step make-decoder "$xg" make-model "$shape" "$decoder"
fi
printf 'xgblora trains on the GPU.\n%.0s' $(seq 1 400) > /tmp/xgblora-text.txt
for dev in cuda cpu; do
  step "step-decoder-$dev" "$xg" train --model "$decoder" --task lm --train /tmp/xgblora-text.txt --method xgblora --steps 3 \
      --batch-size 4 --max-length 256 --no-baseline --no-export --json --log-every 1 --device "$dev" --output "/tmp/xgblora-run-$dev"
done
echo "done: $out" | tee -a "$out/summary.txt"
