/**
 * examples: the bundled example (stories260K on TinyStories text, named by Hugging Face coordinates,
 * see {@code examples/stories260K/}) and the benchmark programs that {@code bench/*.sh} run beside
 * their peers.
 */
package dev.puzzle.examples;
