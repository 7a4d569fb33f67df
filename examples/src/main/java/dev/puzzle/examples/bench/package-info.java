/** Benchmark programs; each prints plain numbers that a script in {@code bench/} sets beside a peer's. */
package dev.puzzle.examples.bench;
