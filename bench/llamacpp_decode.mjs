// Decode speed of real llama.cpp (node-llama-cpp 3.21.1, its prebuilt CPU binaries) on one GGUF: from BOS,
// greedy, STEPS positions (BOS included, as `puzzle generate --steps` and llama2.c's run.c count them), THREADS
// threads. Prints "achieved tok/s: X" with X = positions / seconds, timed from the first evaluation to the last
// token, as `puzzle generate` reports it.
// Usage: node llamacpp_decode.mjs MODEL.gguf STEPS THREADS
import {getLlama} from "node-llama-cpp";
const [model, steps, threads] = [process.argv[2], parseInt(process.argv[3]), parseInt(process.argv[4])];
const llama = await getLlama({gpu: false, logLevel: "error"});
const m = await llama.loadModel({modelPath: model});
const ctx = await m.createContext({contextSize: Math.max(steps, 32), batchSize: 32, threads});
const seq = ctx.getSequence();
let n = 1;
const t0 = process.hrtime.bigint();
for await (const token of seq.evaluate([m.tokens.bos], {temperature: 0})) {
  n++;
  if (n >= steps) break;
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(`achieved tok/s: ${(n / s).toFixed(1)} (${n} positions, ${s.toFixed(3)} s)\n`);
await ctx.dispose(); await m.dispose(); await llama.dispose();
