# Selects the newest installed JDK >= 25 (the language level: FFM for cuBLAS) as JAVA_HOME (sourced by .ci/run, ./puzzle and bench/).
# The version comes from each JDK's `release` file (running `java -version` per JDK cost half a second
# on every command); a JDK without one is asked.
jdk_major() {
  local v=""
  [ -f "$1/release" ] && v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")
  [[ "$v" =~ ^[0-9]+$ ]] || v=$("$1/bin/java" -version 2>&1 | awk -F'"' '/version/ {split($2, a, "."); print a[1]; exit}')
  echo "$v"
}
pick_jdk() {
  local best="" bestv=0 d v
  for d in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$d" ] && [ -x "$d/bin/javac" ] || continue
    v=$(jdk_major "$d")
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if [ "$v" -ge 25 ] && [ "$v" -gt "$bestv" ]; then best="$d"; bestv="$v"; fi
  done
  if [ -z "$best" ]; then
    echo "puzzle: no JDK >= 25 found under /usr/lib/jvm or JAVA_HOME; install one (e.g. apt-get install openjdk-25-jdk-headless, or Temurin 25)" >&2
    return 1
  fi
  export JAVA_HOME="$best"
  export PATH="$JAVA_HOME/bin:$PATH"
  JDK_MAJOR="$bestv"
}
pick_jdk
# OR-Tools' protobuf uses sun.misc.Unsafe: allowed quietly where the JDK (24+) knows the flag.
JAVA_EXTRA_FLAGS=()
[ "$JDK_MAJOR" -ge 24 ] && JAVA_EXTRA_FLAGS+=(--sun-misc-unsafe-memory-access=allow)
