// Times GGUF models in real llama.cpp (node-llama-cpp, its prebuilt CPU binaries) for this toolkit's llamacpp-cpu
// cost model: one sequence of a serving workload — PREFILL tokens evaluated as one batch, then GENERATE tokens one at
// a time, greedy — one untimed repeat, then REPS timed ones, on THREADS threads.
// node-llama-cpp is loaded from the npm prefix DIR (`npm i -E node-llama-cpp@3.21.1 --prefix DIR`).
// Reads one JSON request a line on stdin: {"model": PATH, "prefill": P, "generate": G, "reps": R, "vocab": V};
// answers each with one JSON line: {"model": PATH, "prefill_ms": [...], "decode_ms": [...]} or {"model": PATH, "error": M}.
// The prompt is the same pseudo-random ids below V for every model.
// Usage: node llamacpp_time.mjs DIR THREADS
import {createRequire} from "node:module";
import {createInterface} from "node:readline";
import {pathToFileURL} from "node:url";
const [dir, threads] = [process.argv[2], parseInt(process.argv[3])];
const req = createRequire(dir + "/package.json");
const {getLlama} = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);
const llama = await getLlama({gpu: false, logLevel: "error"});
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function ids(n, vocab) { // a small LCG: the same ids on every run
  const out = [];
  let s = 42;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out.push(1 + (s % (vocab - 1)));
  }
  return out;
}

async function time({model, prefill, generate, reps, vocab}) {
  const prompt = ids(prefill + 1, vocab);
  const m = await llama.loadModel({modelPath: model});
  try {
    const ctx = await m.createContext({contextSize: Math.max(prefill + generate, 32), batchSize: Math.max(prefill, 1), threads, sequences: 1});
    try {
      const seq = ctx.getSequence();
      const pre = [], dec = [];
      for (let r = 0; r <= reps; r++) {
        await seq.clearHistory();
        let t0 = process.hrtime.bigint();
        if (prefill > 0) await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, prefill));
        const p = ms(t0);
        t0 = process.hrtime.bigint();
        let n = 0;
        if (generate > 0) {
          for await (const token of seq.evaluate([prompt[prefill]], {temperature: 0})) {
            if (++n >= generate) break;
          }
        }
        const d = ms(t0);
        if (r > 0) { pre.push(p); dec.push(d); }
      }
      return {model, prefill_ms: pre, decode_ms: dec};
    } finally {
      await ctx.dispose();
    }
  } finally {
    await m.dispose();
  }
}

for await (const line of createInterface({input: process.stdin})) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  let out;
  try {
    out = await time(r);
  } catch (e) {
    out = {model: r.model, error: String(e && e.message ? e.message : e)};
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
await llama.dispose();
