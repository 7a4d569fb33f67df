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
# The collector the puzzle launcher picks: serial with large arrays straight to the old generation on two cores or fewer,
# else G1. The parallel collector the benchmarks had used resized its young generation for seconds after a workload
# started (an attention block's training step 2.4x slower for its first ~3 s, in the timed steps).
GC=(-XX:+UseG1GC)
[ "$(nproc 2>/dev/null || echo 4)" -le 2 ] && GC=(-XX:+UseSerialGC -XX:PretenureSizeThreshold=1m)
JAVA_RUN=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "${JAVA_EXTRA_FLAGS[@]}" "${GC[@]}" -XX:+UseTransparentHugePages -Xmx8g -cp "$CP")
THREADS="${THREADS:-2}"

# The shared inputs the benchmarks run on (../shared/models): the Llama-2 tokenizer and the TinyStories validation text.
TOK="$ROOT/../shared/models/llama2-tokenizer/tokenizer.bin"
TEXT="$ROOT/../shared/models/tinystories-val-text/tinystories_val.txt"
need_shared() { # need_shared FILE...: each present, else one line naming the script and what it lacks
  local f
  for f in "$@"; do [ -f "$f" ] || { echo "bench/$(basename "$0") needs $f (../shared)" >&2; exit 1; }; done
}

need_debian() { # need_debian PYTHON_MODULE PACKAGE...
  if ! /usr/bin/python3 -c "import $1" 2>/dev/null; then
    echo "installing Debian packages: ${*:2}" >&2
    apt-get install -y -q "${@:2}" >/dev/null
  fi
}

# The peer runs at full speed: this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are unset for it only.
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" "$@"; }

# node-llama-cpp 3.21.1 (real llama.cpp, the runtime GGUF children are deployed on) under ~/.cache/puzzle; sets NLC.
need_llamacpp() {
  NLC="$HOME/.cache/puzzle/node-llama-cpp-3.21.1"
  if [ ! -f "$NLC/node_modules/node-llama-cpp/package.json" ]; then
    command -v npm >/dev/null || apt-get install -y -q nodejs npm >/dev/null
    mkdir -p "$NLC" && npm i -E node-llama-cpp@3.21.1 --no-audit --no-fund --prefix "$NLC" >"$NLC/npm.log" 2>&1
  fi
  LLAMACPP_DECODE="$ROOT/pipeline/src/main/resources/dev/puzzle/pipeline/llamacpp_decode.mjs"  # what compress.llama_cpp runs
}
