/**
 * expert-pruning: router statistics and expert ranking on calibration text ({@link dev.puzzle.expertpruning.ExpertScores}:
 * routing frequency, REAP, ranked-choice voting, removal with re-routing) and the choice of the experts a
 * MoE candidate keeps; the slicing itself is block-library's {@code CandidateInit.experts}.
 */
package dev.puzzle.expertpruning;
