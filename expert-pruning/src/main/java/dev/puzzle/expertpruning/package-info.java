/**
 * expert-pruning: router statistics, expert ranking and MoE children with a per-layer expert count. Not built yet: no open issue covers MoE parents.
 */
package dev.puzzle.expertpruning;
