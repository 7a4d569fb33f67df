// Decode speed of real llama.cpp (node-llama-cpp, its prebuilt CPU binaries) on one GGUF, for the compress report:
// from BOS, greedy, STEPS positions (BOS included, as `puzzle generate --steps` counts them), THREADS threads.
// node-llama-cpp is loaded from the npm prefix DIR (`npm i -E node-llama-cpp@3.21.1 --prefix DIR`).
// Prints one JSON line: {"tokens_per_s": X, "positions": N, "seconds": S, "version": V}.
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
for await (const token of seq.evaluate([m.tokens.bos], {temperature: 0})) {
  n++;
  if (n >= steps) break;
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(JSON.stringify({tokens_per_s: n / s, positions: n, seconds: s, version}) + "\n");
await ctx.dispose(); await m.dispose(); await llama.dispose();
