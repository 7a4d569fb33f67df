package dev.puzzle.cli;

import dev.puzzle.blocklibrary.SearchSpace;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.eval.TokenData;
import dev.puzzle.core.io.Checkpoint;
import dev.puzzle.core.io.Checkpoints;
import dev.puzzle.core.source.ModelSource;
import dev.puzzle.core.tokenizer.BpeTokenizer;
import dev.puzzle.core.tokenizer.HfTokenizer;
import dev.puzzle.core.tokenizer.Tokenizer;

import java.nio.file.Path;

/** What the library, distill and score stages share: the parent, its tokenizer, the search space and the token data. */
final class RunContext {
    final RunConfig rc;
    final Checkpoint parent;
    final SearchSpace space;

    RunContext(Path config) {
        rc = RunConfig.read(config);
        ModelSource src = ModelSource.fromEnvironment().withMirrors(rc.mirrors());
        Checkpoint ck = Checkpoints.load(src.resolve(rc.parent()));
        if (rc.tokenizer() != null) {
            Path t = src.resolve(rc.tokenizer());
            Tokenizer tok = t.toString().endsWith(".json") ? HfTokenizer.read(t) : BpeTokenizer.readLlama2c(t, BpeTokenizer.countLlama2cTokens(t));
            ck = ck.withTokenizer(tok);
        }
        parent = ck;
        space = SearchSpace.parse(rc.searchSpace(), parent.config()); // absent: the parent's block only
    }

    Tokenizer tokenizer() {
        if (parent.tokenizer() == null) throw new PuzzleException(rc.file + ": the parent carries no tokenizer; name one under 'tokenizer'");
        return parent.tokenizer();
    }

    int[][] calibration() {
        RunConfig.Data d = rc.data();
        return TokenData.sequences(d.text(), tokenizer(), d.calibrationOffset(), d.calibrationSequences(), d.seqLen());
    }

    int[][] heldout() {
        RunConfig.Data d = rc.data();
        return TokenData.sequences(d.text(), tokenizer(), d.heldoutOffset(), d.heldoutSequences(), d.seqLen());
    }
}
