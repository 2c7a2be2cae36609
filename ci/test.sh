#!/usr/bin/env bash
# Runs the whole test suite (the README's test command; CI calls it through .ci/run): the core,
# then the spark module (spark/, a Maven project of its own that resolves the core from the local
# repository, hence install). Extra arguments go to the core's build; a targeted run (-Dtest=...)
# skips the spark module.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/find-jdk.sh
command -v mvn >/dev/null || { echo "Maven (mvn) is required: apt-get install maven" >&2; exit 1; }
mvn -B -ntp install "$@"
offline=""
for a in "$@"; do
  case "$a" in
    -Dtest=*) exit 0 ;;
    -o|--offline) offline="-o" ;;
  esac
done
exec mvn -B -ntp $offline -f spark/pom.xml verify
