package dev.puzzle.bld;

import dev.puzzle.core.PuzzleException;

/**
 * Training produced a loss that is not finite (NaN or infinite: a learning rate far too high, say). The job
 * stops; the caller leaves its candidate out (BLD) or keeps the child untrained (GKD) and says so.
 */
public final class Diverged extends PuzzleException {
    public Diverged(String message) {
        super(message);
    }
}
