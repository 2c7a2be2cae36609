# Sourced by scripts: sets JAVA_HOME to a JDK 25 (JAVA_HOME if it is one, else the Temurin path).
xgb_is_jdk25() { [ -x "$1/bin/javac" ] && "$1/bin/java" -version 2>&1 | grep -qE 'version "25'; }
if [ -n "${JAVA_HOME:-}" ] && xgb_is_jdk25 "$JAVA_HOME"; then
  :
elif xgb_is_jdk25 /usr/lib/jvm/temurin-25-jdk-amd64; then
  JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
else
  echo "xgblora needs a JDK 25: set JAVA_HOME to one (looked at JAVA_HOME='${JAVA_HOME:-}' and /usr/lib/jvm/temurin-25-jdk-amd64)" >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
# Maven's bundled Guava calls sun.misc.Unsafe; JDK 25 warns about it on every build.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
