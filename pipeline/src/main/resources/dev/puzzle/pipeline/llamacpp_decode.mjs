// Decode speed of real llama.cpp (node-llama-cpp, its prebuilt CPU binaries) on one GGUF, for the compress report:
// from BOS, greedy, STEPS positions (BOS included, as `puzzle generate --steps` counts them), THREADS threads.
// node-llama-cpp is loaded from the npm prefix DIR (`npm i -E node-llama-cpp@3.21.1 --prefix DIR`).
// Prints one JSON line: {"tokens_per_s": X, "tokens_per_s_after_first": Y, "positions": N, "seconds": S, "version": V}
// (Y: the positions after the first evaluation over their time, as `puzzle generate` and llama2.c's run.c report theirs).
// Usage: node llamacpp_decode.mjs DIR MODEL.gguf STEPS THREADS
import {createRequire} from "node:module";
import {readFileSync} from "node:fs";
import {pathToFileURL} from "node:url";
import {dirname, join} from "node:path";
const [dir, model, steps, threads] = [process.argv[2], process.argv[3], parseInt(process.argv[4]), parseInt(process.argv[5])];
const req = createRequire(dir + "/package.json");
const entry = req.resolve("node-llama-cpp");
const version = JSON.parse(readFileSync(join(dirname(dirname(entry)), "package.json"), "utf8")).version; // entry: PACKAGE/dist/index.js
const {getLlama} = await import(pathToFileURL(entry).href);
const llama = await getLlama({gpu: false, logLevel: "error"});
const m = await llama.loadModel({modelPath: model});
const ctx = await m.createContext({contextSize: Math.max(steps, 32), batchSize: 32, threads});
const seq = ctx.getSequence();
let n = 1;
const t0 = process.hrtime.bigint();
let t1 = 0n;
for await (const token of seq.evaluate([m.tokens.bos], {temperature: 0})) {
  if (t1 === 0n) t1 = process.hrtime.bigint(); // the first evaluation done: run.c's timer starts here
  n++;
  if (n >= steps) break;
}
const t2 = process.hrtime.bigint();
const s = Number(t2 - t0) / 1e9, after = Number(t2 - t1) / 1e9;
process.stdout.write(JSON.stringify({tokens_per_s: n / s, tokens_per_s_after_first: (n - 1) / after, positions: n, seconds: s, version}) + "\n");
await ctx.dispose(); await m.dispose(); await llama.dispose();
