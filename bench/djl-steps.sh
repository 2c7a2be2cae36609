#!/usr/bin/env bash
# The MiniLM training step in PyTorch 2.7.1 (libtorch with MKL) driven from Java through DJL 0.36
# (bench/djl): the peer of `xgblora bench step` that a JVM user who wants PyTorch would pick.
# Builds bench/djl with Maven if needed, then runs it offline (libtorch comes from the
# pytorch-native-cpu jar and is extracted once under ~/.djl.ai). Prints one JSON line ("impl": "djl").
#
# Usage: bench/djl-steps.sh --method xgblora|lora|full|qv-r1-all [--batch 32] [--seq 64] [--steps 20]
#                           [--warmup 3] [--threads 2] [--layers 4,5] [--rank 8] [--alpha 16] [--seed 0]
# Env:   DJL_JAVA_OPTS (extra JVM flags; default -Xmx512m: the tensors live in libtorch, not the heap).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../ci/find-jdk.sh"
djl="$here/djl"
if [ ! -f "$djl/target/xgblora-bench-djl-0.1.0-SNAPSHOT.jar" ] || [ -n "$(find "$djl/src" "$djl/pom.xml" -newer "$djl/target/xgblora-bench-djl-0.1.0-SNAPSHOT.jar" 2>/dev/null)" ]; then
  (cd "$djl" && mvn -B -q -ntp package >&2)
  touch "$djl/target/xgblora-bench-djl-0.1.0-SNAPSHOT.jar" # an unchanged jar keeps its old time
fi
threads=2
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--threads" ] && threads="${args[$((i + 1))]}"
done
# libtorch's OpenMP pool: no busy-waiting beside the JVM's threads (as torch_steps.py does for Debian's torch).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" ${DJL_JAVA_OPTS:--Xmx512m} --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$threads" -Dai.djl.pytorch.num_interop_threads=1 \
  -cp "$djl/target/xgblora-bench-djl-0.1.0-SNAPSHOT.jar:$djl/target/lib/*" dev.xgblora.bench.djl.DjlSteps "$@"
