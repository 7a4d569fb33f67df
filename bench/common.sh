# Shared set-up for the benchmark scripts: JDK, build, classpath, peer packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/.ci/jdk.sh"
cd "$ROOT"
if [ ! -f examples/target/classes/dev/puzzle/examples/bench/GemmBench.class ] || [ -n "${PUZZLE_REBUILD:-}" ]; then
  mvn -q -B install -DskipTests >/dev/null 2>&1
fi
if [ ! -f examples/target/classpath.txt ]; then
  mvn -q -B dependency:build-classpath -pl examples -Dmdep.outputFile=target/classpath.txt >/dev/null 2>&1
fi
CP="examples/target/classes:$(cat examples/target/classpath.txt)"
JAVA_RUN=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "${JAVA_EXTRA_FLAGS[@]}" -XX:+UseParallelGC -XX:+UseTransparentHugePages -Xmx8g -cp "$CP")
THREADS="${THREADS:-2}"

need_debian() { # need_debian PYTHON_MODULE PACKAGE...
  if ! /usr/bin/python3 -c "import $1" 2>/dev/null; then
    echo "installing Debian packages: ${*:2}" >&2
    apt-get install -y -q "${@:2}" >/dev/null
  fi
}

# The peer runs at full speed: this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are unset for it only.
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" "$@"; }
