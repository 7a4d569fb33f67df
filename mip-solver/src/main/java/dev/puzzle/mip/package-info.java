/**
 * mip-solver: the architecture-search MIP over a block library (OR-Tools CP-SAT and SCIP), budgets, diversity, frontier sweeps, verification, and block_library.json exchange. Built in issue #4.
 */
package dev.puzzle.mip;
