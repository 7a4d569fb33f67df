#!/usr/bin/env bash
# On the accelerator machine (run bench/gpu-prepare.sh here first and carry build/gpu): the puzzle command itself
# on the GPU — library, then distill and score of a small stories260K run (2 KV heads, window 64, linear and
# no-op attention; half-width, linear and no-op FFN: 25 BLD jobs, 100 candidates scored at the workload's
# context of 512) with --backend cuda in FP32 and in BF16, and with --backend cpu on the same machine; the block
# libraries compared metric by metric (FP32 GPU vs CPU within 1e-3 relative; BF16's deviation printed) and the
# stage times printed. Exit 1 when the FP32 comparison fails.
#   Usage: bench/gpu-cli.sh   (writes its logs under $OUT, or bench-out/gpu-cli)
set -uo pipefail
cd "$(dirname "$0")/.."
G=build/gpu
O="${OUT:-bench-out/gpu-cli}"
W=$(mktemp -d)
mkdir -p "$O"
[ -x "$G/jdk/bin/java" ] && [ -f "$G/data/stories260K.bin" ] || { echo "bench/gpu-cli.sh: no $G/jdk or $G/data; run bench/gpu-prepare.sh first (beside ../shared) and carry build/gpu" >&2; exit 2; }
source bench/gpu-env.sh
D=$(cd "$G/data" && pwd)
puzzle() { "$G/jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx16g "${JOPTS[@]}" -cp "$G/lib/*" dev.puzzle.cli.PuzzleCli "$@"; }
for run in cpu cuda-fp32 cuda-bf16; do
  cat >"$W/$run.yaml" <<EOF
parent: $D/stories260K.bin
tokenizer: $D/tok512.bin
run_dir: $W/$run
hardware: h200
workload: {batch: 64, prefill_length: 256, generation_length: 256, weight_dtype: bf16, kv_dtype: bf16}
search_space:
  attention: {kv_heads: [2], window: [64], linear: true, no_op: true}
  ffn: {widths: [0.5], linear: true, no_op: true}
data:
  text: $D/tinystories_val.txt
  seq_len: 128
  calibration: {offset: 0, sequences: 16}
  heldout: {offset: 400000, sequences: 2}
distill: {mode: decoupled, tokens: 4096, batch_sequences: 4, lr: 2.0e-3, seed: 1}
EOF
  backend=${run%%-*}
  JOPTS=()
  [ "$run" = cuda-fp32 ] && JOPTS=(-Dpuzzle.cuda.precision=fp32)
  for stage in library distill score; do
    t0=$(date +%s%N)
    if [ "$stage" = library ]; then puzzle library "$W/$run.yaml" >"$O/$run-$stage.txt" 2>&1; else puzzle "$stage" "$W/$run.yaml" --backend "$backend" >"$O/$run-$stage.txt" 2>&1; fi
    rc=$?
    printf "%-10s %-8s rc %d  %6d ms  %s\n" "$run" "$stage" "$rc" "$(( ($(date +%s%N) - t0) / 1000000 ))" "$(grep -v '^\(WARNING\|cache\|init\|distill\|score\) \[' "$O/$run-$stage.txt" | tail -1)"
    [ "$rc" -eq 0 ] || { tail -20 "$O/$run-$stage.txt"; exit 1; }
  done
  cp "$W/$run/score/block_library.json" "$O/$run-block_library.json"
done
python3 - "$O" <<'EOF'
import json, sys
o = sys.argv[1]
lib = {r: json.load(open(f"{o}/{r}-block_library.json")) for r in ("cpu", "cuda-fp32", "cuda-bf16")}
def worst(a, b):
    w, n = 0.0, 0
    for layer, variants in a.items():
        for v, e in variants.items():
            for k, x in e.get("metrics", {}).items():
                y = b[layer][v]["metrics"][k]
                w = max(w, abs(x - y) / max(abs(x), 1e-3)); n += 1
    return w, n
ok = True
for r in ("cuda-fp32", "cuda-bf16"):
    w, n = worst(lib["cpu"], lib[r])
    good = w <= 1e-3 or r == "cuda-bf16"
    ok &= good
    print(f"{r} vs cpu: {n} metrics, worst relative difference {w:.2e}" + ("" if r == "cuda-bf16" else (" ok" if good else " FAIL (> 1e-3)")))
sys.exit(0 if ok else 1)
EOF
