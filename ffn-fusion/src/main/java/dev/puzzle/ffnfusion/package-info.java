/**
 * ffn-fusion: FFN Fusion — the pairwise FFN dependency on calibration text and the fusion of a run of
 * consecutive FFNs into one wide parallel FFN ({@link dev.puzzle.ffnfusion.FfnFusion}).
 */
package dev.puzzle.ffnfusion;
