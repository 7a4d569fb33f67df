/**
 * mip-solver: the architecture-search MIP over the numeric view of a block library ({@link dev.puzzle.mip.SearchLibrary}; OR-Tools CP-SAT and SCIP), budgets, diversity, frontier sweeps, verification. Built in issue #4; the typed library and its block_library.json adapter moved to block-library in issue #8.
 */
package dev.puzzle.mip;
