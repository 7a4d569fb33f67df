package dev.puzzle.cli;

import dev.puzzle.hardware.HardwareProfile;
import dev.puzzle.pipeline.CostValidation;
import dev.puzzle.pipeline.ProfileStage;
import dev.puzzle.pipeline.Run;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;

/** {@code puzzle profile CONFIG}: the cost of every candidate block on a hardware profile and workload. */
@Command(name = "profile", mixinStandardHelpOptions = true,
        header = "Cost every candidate block of the search space on a hardware profile and workload.",
        description = "Reads the run config's parent, search_space, hardware, workload and cost_model (roofline, or measured: the real kernels timed here; with hardware: llamacpp-cpu, timed in real llama.cpp on one thread, node-llama-cpp from compress.llama_cpp.dir). Writes RUN_DIR/profile/block_costs.json (block_library.json layout, stats only) and RUN_DIR/profile/model_costs.json (embeddings, head, the parent's totals), and prints a table.",
        footer = {"", "--validate N: after profiling, draws N random children of the search",
                "space, predicts each as the search would and measures it whole on this",
                "machine; prints each error, the MAPE, the worst error and Spearman's rank",
                "correlation (and the roofline's beside a measured cost model), and writes",
                "RUN_DIR/profile/validation.json. Meaningful with hardware: local-cpu, or",
                "llamacpp-cpu (the children measured in llama.cpp).", "", "Examples:",
                "  puzzle profile examples/stories260K/puzzle.yaml",
                "  puzzle profile examples/stories260K/local-cpu.yaml --validate 20"})
final class ProfileCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @picocli.CommandLine.Mixin
    BackendOption backendOpt;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "The run config (YAML).")
    Path config;

    @Option(names = "--hardware", paramLabel = "PROFILE", description = "Override the config's hardware profile.")
    String hardware;

    @Option(names = "--validate", paramLabel = "N", description = "Then predict and measure N random children (see below).")
    Integer validate;

    @Option(names = "--seed", paramLabel = "S", description = "The draw of --validate (default: 1).")
    long seed = 1;

    @Option(names = "--reps", paramLabel = "R", description = "Timed repeats per model of --validate (default: 5).")
    int reps = 5;

    @Override
    public Integer call() throws Exception {
        if (validate != null) { // refused before any work
            if (validate < 2) throw new dev.puzzle.core.PuzzleException("--validate needs at least 2 children (a rank correlation of fewer says nothing), got " + validate);
            if (hardware != null) throw new dev.puzzle.core.PuzzleException("--validate checks the config's own hardware profile; drop --hardware");
            if (reps < 3) throw new dev.puzzle.core.PuzzleException("--reps must be >= 3 (quartiles of fewer say nothing), got " + reps);
        }
        Run run = Run.open(config, backendOpt.backend());
        PrintWriter out = spec.commandLine().getOut();
        // Loaded once: local-cpu measures this machine to make its profile.
        HardwareProfile hw = HardwareProfile.load(hardware != null ? hardware : run.config.hardware(), run.backend);
        ProfileStage.Result r = ProfileStage.run(run, hw, new TerminalListener(out, spec.commandLine().getErr()));
        for (String line : r.table(run.parent.source())) out.println(line);
        out.printf("wrote %s and %s%n", run.dir.blockCosts(), run.dir.modelCosts());
        if (validate != null) {
            CostValidation.Result v = CostValidation.run(run, hw, validate, seed, reps, new TerminalListener(out, spec.commandLine().getErr()));
            for (String line : v.lines()) out.println(line);
            out.printf("wrote %s%n", run.dir.layout().costValidation());
        }
        return ExitCodes.OK;
    }
}
