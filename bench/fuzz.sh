#!/usr/bin/env bash
# Fuzzes every reader of files that strangers hand the toolkit with Jazzer (coverage-guided, libFuzzer's
# engine), SECONDS each (default 120): safetensors, gguf, llama2c (.bin, both versions), tokenizer-bin,
# tokenizer-json, block-library, run-config (YAML, sections and search space) and text (text -> tokens).
# The seeds are made at run time (fuzz/.../FuzzSeeds: tiny models from the toolkit's writers, ../shared's
# models and data, the repository's configs) plus the kept corpus in fuzz/corpus/TARGET. A finding (any
# outcome but success or one clean input error; a hang past 10 s; an allocation past the 1 GiB heap) stops
# that target and is copied to fuzz/corpus/TARGET/ as a regression input for CI's pass (FuzzRegressionTest).
# Each run's executions are appended to fuzz/executions.tsv (date, target, executions, seconds, finding).
# Usage: bench/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/jdk.sh
EACH=${1:-120}
shift || true
TARGETS=${*:-safetensors gguf llama2c tokenizer-bin tokenizer-json block-library run-config text}
SHARED=$(cd .. && pwd)/shared
mvn -B -ntp -q install -DskipTests >/dev/null
mvn -B -ntp -q -pl fuzz test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/fuzz.cp >/dev/null
W=fuzz/target/fuzz
# A snapshot of the classes and jars, so that a build during a long campaign does not change them under it.
rm -rf "$W/lib" && mkdir -p "$W/lib" && cp -r fuzz/target/test-classes "$W/lib/test-classes"
CP="$W/lib/test-classes"
IFS=: read -ra JARS < fuzz/target/fuzz.cp || true  # no newline at its end
for j in "${JARS[@]}"; do cp "$j" "$W/lib/" && CP="$CP:$W/lib/$(basename "$j")"; done
rm -rf "$W/seeds"
java --add-modules jdk.incubator.vector -Dpuzzle.shared="$SHARED" -cp "$CP" dev.puzzle.fuzz.FuzzSeeds "$W/seeds" 2>/dev/null
[ -f fuzz/executions.tsv ] || printf 'date\ttarget\texecutions\tseconds\tfinding\n' > fuzz/executions.tsv
printf '%-16s %12s %8s  %s\n' target executions exec/s finding
for t in $TARGETS; do
  mkdir -p "$W/corpus/$t" "$W/findings" "fuzz/corpus/$t"
  rm -f "$W/findings/$t-"*
  set +e
  java -Xmx1g -Xss4m -XX:+UseSerialGC --add-modules jdk.incubator.vector -XX:+EnableDynamicAgentLoading -Dpuzzle.shared="$SHARED" -Dpuzzle.fuzz.target="$t" \
    -cp "$CP" com.code_intelligence.jazzer.Jazzer --target_class=dev.puzzle.fuzz.FuzzTargets --instrumentation_includes='dev.puzzle.**' \
    -max_len=65536 -timeout=10 -rss_limit_mb=6144 -max_total_time="$EACH" -print_final_stats=1 -artifact_prefix="$W/findings/$t-" \
    --reproducer_path="$W/findings" "$W/corpus/$t" "$W/seeds/$t" "fuzz/corpus/$t" > "$W/$t.log" 2>&1
  set -e
  runs=$(grep -oP '^stat::number_of_executed_units: \K[0-9]+' "$W/$t.log" || grep -oP '^#\K[0-9]+' "$W/$t.log" | tail -1 || echo 0)
  finding=""
  for f in "$W/findings/$t-"*; do
    [ -f "$f" ] || continue
    case "$f" in *.java) continue ;; esac
    cp "$f" "fuzz/corpus/$t/$(basename "$f" | sed "s/^$t-//")"
    finding="$(grep -m1 -E '^== Java Exception|ERROR: libFuzzer|Timeout|out-of-memory' "$W/$t.log" | cut -c1-160) (kept as fuzz/corpus/$t/$(basename "$f" | sed "s/^$t-//"))"
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$t" "${runs:-0}" "$EACH" "${finding:-none}" >> fuzz/executions.tsv
  printf '%-16s %12s %8s  %s\n' "$t" "${runs:-0}" "$(( ${runs:-0} / (EACH > 0 ? EACH : 1) ))" "${finding:-none}"
done
