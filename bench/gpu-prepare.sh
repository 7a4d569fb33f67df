#!/usr/bin/env bash
# Here, before bench/gpu.sh and bench/gpu-cli.sh run on the accelerator machine (which has no JDK): builds the
# toolkit and writes build/gpu/ = a jlink runtime of only the modules the jars need + the jars GpuBench and the
# puzzle CLI's library/distill/score need (no OR-Tools: no search there) + data/, the stories260K files from
# ../shared that bench/gpu-cli.sh runs on (a copy for the trip, never committed), within the device tool's 64 MiB
# carry limit. Then: run bench/gpu.sh (or bench/gpu-cli.sh) there, carrying build/gpu.
source "$(dirname "$0")/common.sh"
G="$ROOT/build/gpu"
rm -rf "$G"
mkdir -p "$G/lib"
mvn -q -B dependency:build-classpath -pl examples -Dmdep.includeScope=runtime -Dmdep.outputFile="$G/cp.txt" >/dev/null
{ tr ':' '\n' <"$G/cp.txt"; echo; ls cli/target/lib/*.jar; } | grep -v -- '-tests\.jar$' | grep -E '/(puzzle-core|bld-distill|block-library|hardware-profiles|pipeline|mip-solver|expert-pruning|ffn-fusion)-[^/]*\.jar$|/jackson-|/snakeyaml-|/jcuda|/picocli-' |
  while read -r j; do cp "$j" "$G/lib/"; done
rm "$G/cp.txt"
(cd examples/target/classes && "$JAVA_HOME/bin/jar" --create --file "$G/lib/examples.jar" dev/puzzle/examples/bench)
cp cli/target/cli-*.jar "$G/lib/"
if [ -d ../shared/models/stories260K ]; then
  mkdir -p "$G/data"
  cp ../shared/models/stories260K/stories260K.bin ../shared/models/stories260K/tok512.bin ../shared/models/tinystories-val-text/tinystories_val.txt "$G/data/"
fi
# jcuda's natives jar also carries the NVRTC and PTX-compiler bindings (25 MB unpacked), which the backend does not use.
nat=$(ls "$G"/lib/jcuda-natives-*.jar)
tmp=$(mktemp -d)
(cd "$tmp" && unzip -q "$nat" 'lib/libJCudaDriver-*' 'lib/libJCudaRuntime-*' && "$JAVA_HOME/bin/jar" --create --file "$nat" lib)
rm -rf "$tmp"
# The modules GpuBench's and the CLI's paths load (jdeps would add java.desktop and java.sql for Jackson's optional
# parts, and java.net.http for model downloads: 20 MB this runtime does without); jdk.unsupported: the CLI's Ctrl-C
# handler (sun.misc.Signal).
mods=java.base,java.logging,jdk.management,jdk.incubator.vector,jdk.unsupported
"$JAVA_HOME/bin/jlink" --add-modules "$mods" --strip-debug --no-man-pages --no-header-files --compress zip-9 --output "$G/jdk" 2>&1 | grep -v "incubator modules" || true
size=$(du -sm "$G" | cut -f1)
echo "build/gpu: runtime of $mods + $(ls "$G/lib" | wc -l) jars, $size MiB"
[ "$size" -le 62 ] || { echo "build/gpu is $size MiB: over the device tool's 64 MiB carry limit" >&2; exit 1; }
