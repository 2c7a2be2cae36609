#!/usr/bin/env bash
# Runs the whole test suite (the README's test command; CI calls it through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/find-jdk.sh
command -v mvn >/dev/null || { echo "Maven (mvn) is required: apt-get install maven" >&2; exit 1; }
exec mvn -B -ntp verify "$@"
