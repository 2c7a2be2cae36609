#!/usr/bin/env bash
# Builds the library (installed into ~/.m2) and the JMH benchmarks, then runs them.
# Arguments go to JMH. Without a "-p shape=..." the 4096x4096 linear shape is left out.
# Examples:
#   bench/run-jmh.sh                                   # all benchmarks, default shapes, 1 and 2 threads
#   bench/run-jmh.sh LinearBench.forward -p dtype=BF16 -p threads=1
#   bench/run-jmh.sh LinearBench -p shape=4096x4096 -f 1 -wi 2 -i 3
#   bench/run-jmh.sh -rf json -rff jmh.json            # machine-readable results
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$root/ci/find-jdk.sh"
(cd "$root" && mvn -B -q -ntp -DskipTests install)
(cd "$here" && mvn -B -q -ntp package)
args=("$@")
case " ${args[*]-} " in
  *" shape="*|*"-p shape"*) ;;
  *) args+=(-p "shape=384x384,1536x384,384x1536") ;;
esac
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$here/target/classes:$here/target/lib/*" \
  org.openjdk.jmh.Main "${args[@]}"
