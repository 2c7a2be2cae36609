#!/usr/bin/env bash
# The prepared check of the CUDA/PTX path (and of NVIDIA's OpenCL driver) for the day an NVIDIA GPU
# machine is at hand. Two halves, because the GPU machine builds nothing and reaches no registry:
#
#   here:     bench/gpu-check.sh --prepare        compiles and lays out gpu-kit/ (gitignored):
#                                                 lib/ (the runtime jars, without the 81 MB MiniLM jar),
#                                                 jre/ (a jlinked JDK 25 runtime, for a machine without one),
#                                                 minilm/ (all-MiniLM-L6-v2 from ~/.cache/xgblora, when present
#                                                 and it fits), and prints its size (the device tool carries 64 MiB)
#   GPU box:  bench/gpu-check.sh [--decoder DIR] [--with-1b]      (carry gpu-kit; one run <= 8 minutes)
#
# On the GPU machine it prints nvidia-smi and `xgblora info` (CUDA and OpenCL devices), then
#   1. CudaKernels vs the reference kernels on the GPU (GEMM 37x29x45 in every transpose and dtype,
#      attention forward/backward with GQA and masks): the interpreter-checked PTX, now on silicon;
#   2. bench kernels --backend cuda --json, and --backend opencl (NVIDIA's OpenCL ICD, if installed);
#   3. bench step --device cuda and --device cpu on MiniLM (gpu-kit/minilm), same batch;
#   4. the decoder step on cuda and cpu: --decoder DIR (a model directory), or --with-1b
#      (make-model llama-3.2-1b, 2.5 GB written under /tmp), else the tiny decoder shape.
# Everything goes to $OUT (the device tool's output folder; default ./gpu-check-out). Nothing fails
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
  # the kernel checks of the tests as a main (GpuChecks) and the JUnit jars they assert with
  mkdir -p "$kit/test-lib"
  (cd "$here/target/test-classes" && "$JAVA_HOME/bin/jar" cf "$kit/test-lib/xgblora-tests.jar" dev/xgblora/device/cuda dev/xgblora/kernels)
  v=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$here/pom.xml")
  for j in org/junit/jupiter/junit-jupiter-api/$v org/opentest4j/opentest4j/1.3.0 org/apiguardian/apiguardian-api/1.1.2 \
           org/junit/platform/junit-platform-commons/${v/5./1.}; do
    cp "$HOME"/.m2/repository/$j/*.jar "$kit/test-lib/"
  done
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.compiler,java.desktop,java.logging,java.management,java.naming,java.sql,jdk.incubator.vector,jdk.management,jdk.unsupported \
      --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$kit/jre"
  m=$(find "$HOME/.cache/xgblora/models" -name config.json -path '*MiniLM*' -printf '%h\n' 2>/dev/null | head -1)
  if [ -n "$m" ]; then cp -r "$m" "$kit/minilm"; fi
  du -sh "$kit" "$kit"/*
  echo "carry gpu-kit (device tool: carry [\"gpu-kit\"]; 64 MiB at most: drop gpu-kit/minilm or gpu-kit/jre if over)"
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

xg() { # the CLI from the carried jars
  "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx24g \
      -Dxgblora.root="$here" -cp "$kit/lib/*" dev.xgblora.cli.Main "$@"
}
step() { # name, command...: output to $out/NAME.txt, its exit code logged, never stops the script
  local name=$1; shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  local t0=$SECONDS
  timeout 240 "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - t0)) s (tail below)" | tee -a "$out/summary.txt"
  tail -n 15 "$out/$name.txt" | sed 's/^/   /' | tee -a "$out/summary.txt"
}

{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv; } > "$out/nvidia-smi.txt" 2>&1
step info xg info
step kernels-vs-reference "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$kit/lib/*:$kit/test-lib/*" dev.xgblora.device.cuda.GpuChecks cuda:0
step bench-kernels-cuda xg bench kernels --backend cuda --threads 1 --repeat 10 --json
step bench-kernels-opencl xg bench kernels --backend opencl --threads 1 --repeat 10 --json
cores=$(nproc)
if [ -d "$kit/minilm" ]; then
  for dev in cuda cpu; do
    step "step-minilm-$dev" xg bench step --method xgblora --model "$kit/minilm" --device "$dev" --batch 32 --seq 64 --steps 5 --warmup 2 --threads "$cores" --json
  done
else
  echo "== MiniLM step skipped: no gpu-kit/minilm (prepare found no imported MiniLM)" | tee -a "$out/summary.txt"
fi
if [ -z "$decoder" ]; then
  if [ "$with1b" = 1 ]; then decoder=/tmp/xgblora-llama-1b; shape=llama-3.2-1b; else decoder=/tmp/xgblora-tiny; shape=tiny; fi
  [ -d "$decoder" ] || step make-decoder xg make-model "$shape" "$decoder"
fi
printf 'xgblora trains on the GPU.\n%.0s' $(seq 1 400) > /tmp/xgblora-text.txt
for dev in cuda cpu; do
  step "step-decoder-$dev" xg train --model "$decoder" --task lm --train /tmp/xgblora-text.txt --method xgblora --steps 3 \
      --batch-size 4 --max-length 256 --no-baseline --no-export --json --log-every 1 --device "$dev" --output "/tmp/xgblora-run-$dev"
done
echo "done: $out" | tee -a "$out/summary.txt"
