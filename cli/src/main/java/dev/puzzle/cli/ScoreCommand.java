package dev.puzzle.cli;

import dev.puzzle.bld.Scorer;
import dev.puzzle.mip.BlockLibrary;
import dev.puzzle.mip.BlockLibrary.Replacement;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code puzzle score CONFIG}: replace-1-block scoring of every candidate into block_library.json. */
@Command(name = "score", mixinStandardHelpOptions = true,
        header = "Score every candidate by replacing one block of the parent (KL, LM loss, top-1 agreement, hidden cosine).",
        description = "Runs the parent with only one layer replaced by each candidate on held-out text and writes RUN_DIR/score/block_library.json (layer_i -> variant -> {stats, metrics}), with the costs of RUN_DIR/profile/block_costs.json merged in when 'puzzle profile' has run, ready for 'puzzle search'.",
        footer = {"", "Example:", "  puzzle score examples/stories260K/puzzle.yaml"})
final class ScoreCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Override
    public Integer call() throws Exception {
        run(new RunContext(config), spec.commandLine().getOut(), spec.commandLine().getErr());
        return ExitCodes.OK;
    }

    /** Scores every candidate and writes RUN_DIR/score/block_library.json; returns its path. */
    static Path run(RunContext ctx, java.io.PrintWriter out, java.io.PrintWriter err) throws Exception {
        boolean coupled = ctx.rc.distill().coupled();
        int[][] held = ctx.heldout();
        int total = 0;
        for (int l = 0; l < ctx.parent.config().numLayers(); l++) total += ctx.space.candidates(ctx.parent.config(), l).size();
        Progress p = new Progress(err, "score", total);
        List<Map<String, Map<String, Double>>> metrics = Scorer.score(ctx.parent, ctx.space, held, ctx.rc.runDir(), coupled, p::update);
        Path costs = ctx.rc.runDir().resolve("profile/block_costs.json");
        Map<String, Map<String, Double>> stats = new LinkedHashMap<>();
        if (Files.exists(costs)) for (Replacement r : BlockLibrary.read(costs).replacements()) stats.put(r.layerKey() + "/" + r.name(), r.values());
        List<Replacement> reps = new ArrayList<>();
        for (int l = 0; l < metrics.size(); l++) {
            for (var e : metrics.get(l).entrySet()) {
                Map<String, Double> v = new LinkedHashMap<>(stats.getOrDefault("layer_" + l + "/" + e.getKey(), Map.of()));
                v.putAll(e.getValue());
                reps.add(new Replacement(reps.size(), l, 1, e.getKey(), v));
            }
        }
        Path file = ctx.rc.runDir().resolve("score/block_library.json");
        new BlockLibrary(metrics.size(), reps, file.toString()).write(file);
        out.printf("scored %d candidates on %d held-out sequences of %d tokens%s: %s%n", reps.size(), held.length, held[0].length,
                stats.isEmpty() ? "" : " (with profile costs)", file);
        return file;
    }
}
