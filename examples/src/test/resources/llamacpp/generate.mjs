// Greedy generation with real llama.cpp (the npm package node-llama-cpp, pinned 3.21.1, its prebuilt CPU
// binaries): the prompt with BOS, temperature 0, until STEPS positions (prompt included), BOS or EOS.
// Prints one JSON line: the prompt's token ids, the generated ids, their text, and for every
// generated position the five most probable tokens with their probabilities.
// Usage: node generate.mjs MODEL.gguf PROMPT STEPS
import {getLlama} from "node-llama-cpp";
const [model, prompt, steps] = [process.argv[2], process.argv[3], parseInt(process.argv[4])];
const llama = await getLlama({gpu: false, logLevel: "error"});
const m = await llama.loadModel({modelPath: model});
// One thread: these models are tiny, and on a 2-core machine llama.cpp's spinning workers starve node's
// own thread (500 ms a token with the default, 1 ms with one thread).
const ctx = await m.createContext({contextSize: Math.max(steps, 32), batchSize: Math.max(steps, 32), threads: 1});
const seq = ctx.getSequence();
const promptTokens = [m.tokens.bos, ...m.tokenize(prompt, false)];
const out = [];
const probs = [];
let n = promptTokens.length;
for await (const r of seq.evaluateWithMetadata(promptTokens, {probabilities: true}, {temperature: 0})) {
  out.push(r.token);
  probs.push([...r.probabilities.entries()].slice(0, 5));
  n++;
  if (n >= steps || r.token === m.tokens.eos || r.token === m.tokens.bos) break;
}
process.stdout.write(JSON.stringify({prompt_tokens: promptTokens, tokens: out, text: m.detokenize(out), top_probs: probs}) + "\n");
await ctx.dispose(); await m.dispose(); await llama.dispose();
