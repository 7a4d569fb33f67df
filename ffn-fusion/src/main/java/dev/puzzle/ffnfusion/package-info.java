/**
 * ffn-fusion: block dependency analysis and fusion of runs of consecutive FFNs into one wide parallel FFN. Not built yet: no open issue covers it.
 */
package dev.puzzle.ffnfusion;
