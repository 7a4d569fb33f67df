/**
 * puzzle-core: tensors and CPU kernels (Vector API, each with a scalar twin), the heterogeneous
 * Llama-family decoder with KV-cache generation, checkpoint IO (safetensors, Hugging Face
 * {@code config.json}, llama2.c {@code .bin}, GGUF), tokenizers and evaluation. Every other module
 * builds on this one; code that two modules need moves down here.
 */
package dev.puzzle.core;
