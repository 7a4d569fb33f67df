package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;

/** The {@code puzzle} command: compress a trained LLM into a faster child for a hardware budget. */
@Command(name = "puzzle", mixinStandardHelpOptions = true, version = "puzzle " + dev.puzzle.core.BuildInfo.VERSION,
        header = "Puzzle for Java: distillation-based architecture search that makes an LLM faster for a hardware budget.",
        description = {"", "Each stage reads and writes files; run 'puzzle COMMAND --help' for details.", ""},
        footer = {"", "Models: a Hugging Face directory, a .safetensors file beside its config.json, a llama2.c .bin, a .gguf,",
                "or hf:OWNER/REPO/PATH (cache, then the mirror directories in PUZZLE_HF_MIRRORS or --mirror, then a download).",
                "", "Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 74 a write failed (full disk), 130 interrupted."})
public final class PuzzleCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * The subcommands by name, in --help's order. A command line built for a run registers only the one it names
     * ({@link #commandLine(String[])}): picocli reads every registered command's options by reflection when the
     * command line is built, and all of them took 0.1-0.2 s of every start (2026-12-05, Xeon, two cores: `puzzle
     * generate` of one token 0.79 -> 0.64 s with the launcher's AOT cache, medians of five; 1.00 -> 0.80 s without it,
     * medians of eight). Each name is its class's {@code @Command} name (CliTest checks).
     */
    static final java.util.Map<String, java.util.function.Supplier<Object>> COMMANDS = commands();

    private static java.util.Map<String, java.util.function.Supplier<Object>> commands() {
        java.util.Map<String, java.util.function.Supplier<Object>> m = new java.util.LinkedHashMap<>();
        m.put("inspect", InspectCommand::new);
        m.put("convert", ConvertCommand::new);
        m.put("generate", GenerateCommand::new);
        m.put("eval", EvalCommand::new);
        m.put("compress", CompressCommand::new);
        m.put("report", ReportCommand::new);
        m.put("library", LibraryCommand::new);
        m.put("distill", DistillCommand::new);
        m.put("score", ScoreCommand::new);
        m.put("profile", ProfileCommand::new);
        m.put("search", SearchCommand::new);
        m.put("moefy", MoefyCommand::new);
        m.put("hybridize", HybridizeCommand::new);
        m.put("qad", QadCommand::new);
        m.put("cluster", ClusterCommand::new);
        m.put("status", StatusCommand::new);
        m.put("aot-train", AotTrainCommand::new);
        m.put("help", CommandLine.HelpCommand::new);
        return java.util.Collections.unmodifiableMap(m);
    }

    /** A command line with every subcommand, wired with this toolkit's error handling (in-process tests; help). */
    public static CommandLine commandLine() {
        return commandLine(new String[0]);
    }

    /**
     * A command line for {@code args}: with only the subcommand its first argument names, or with all of them (no
     * subcommand named, an unknown one — whose error lists the others —, or {@code help}).
     */
    public static CommandLine commandLine(String[] args) {
        CommandLine cl = new CommandLine(new PuzzleCli());
        String named = args.length > 0 ? args[0] : "";
        if (COMMANDS.containsKey(named) && !named.equals("help")) cl.addSubcommand(COMMANDS.get(named).get());
        else COMMANDS.values().forEach(c -> cl.addSubcommand(c.get()));
        cl.setExecutionExceptionHandler(PuzzleCli::handle);
        cl.setExecutionStrategy(parsed -> { // what jobs say on the way goes to this command's error stream
            PrintWriter err = cl.getErr();
            dev.puzzle.core.Notices.to(line -> {
                err.println(line);
                err.flush();
            });
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setParameterExceptionHandler((ex, given) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("puzzle: " + UsageErrors.message(ex, given));
            return ExitCodes.USAGE;
        });
        return cl;
    }

    private static int handle(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        return report(ex, cl.getErr());
    }

    /**
     * One line for any failure, and its exit code: the toolkit's validated input errors (a file, a field,
     * a value) exit 3; running out of heap exits 1 naming the heap and how to raise it; anything else is a
     * bug and says so (exit 1, the stack trace with PUZZLE_DEBUG=1).
     */
    static int report(Throwable ex, PrintWriter err) {
        if (dev.puzzle.core.io.AtomicFiles.isStopping()) return ExitCodes.INTERRUPTED; // a worker cut short on the way out: the signal said it all
        for (Throwable c = ex; c != null; c = c.getCause()) {
            if (c instanceof OutOfMemoryError) {
                err.printf(java.util.Locale.ROOT, "puzzle: out of memory: the Java heap (at most %,d MiB) is too small for this work; give it more with"
                        + " PUZZLE_JAVA_OPTS=-Xmx<size>, e.g. PUZZLE_JAVA_OPTS=-Xmx16g%n", Runtime.getRuntime().maxMemory() >> 20);
                return ExitCodes.SOFTWARE;
            }
        }
        Throwable t = ex;
        while ((t instanceof java.io.UncheckedIOException || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) t = t.getCause();
        if (t instanceof dev.puzzle.core.io.AtomicFiles.WriteFailed) {
            err.println("puzzle: " + t.getMessage());
            return ExitCodes.IO;
        }
        if (t instanceof PuzzleException p) { // a setting's error names its flag
            err.println("puzzle: " + (p.setting() == null ? p.getMessage() : p.messageNaming("--" + p.setting())));
            return ExitCodes.INPUT;
        }
        if (t instanceof NoSuchFileException n) {
            err.println("puzzle: " + n.getFile() + ": no such file or directory");
            return ExitCodes.INPUT;
        }
        if (t instanceof java.nio.file.AccessDeniedException a) {
            err.println("puzzle: " + a.getFile() + ": permission denied");
            return ExitCodes.INPUT;
        }
        if (t instanceof IOException io) {
            err.println("puzzle: " + io);
            return ExitCodes.SOFTWARE;
        }
        err.println("puzzle: internal error: " + t);
        if (System.getenv("PUZZLE_DEBUG") != null) t.printStackTrace(err);
        else err.println("(set PUZZLE_DEBUG=1 for the stack trace, and please report it)");
        return ExitCodes.SOFTWARE;
    }

    /** Ctrl-C (SIGINT) and SIGTERM end the run with exit 130; in-flight temporary files are removed on the way out, finished ones stay. */
    private static void exitOnSignals(PrintWriter err) {
        for (String name : new String[]{"INT", "TERM"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
                    err.println();
                    err.println("puzzle: interrupted (SIG" + name + "); finished work is kept, rerun the same command to resume");
                    err.flush();
                    Runtime.getRuntime().exit(ExitCodes.INTERRUPTED);
                });
            } catch (IllegalArgumentException e) {
                // this platform does not know the signal
            }
        }
    }

    public static void main(String[] args) {
        CommandLine cl = commandLine(args);
        PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, java.nio.charset.StandardCharsets.UTF_8), true);
        cl.setOut(out);
        PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, java.nio.charset.StandardCharsets.UTF_8), true);
        cl.setErr(err);
        exitOnSignals(err);
        int code;
        try {
            code = cl.execute(args);
        } catch (Throwable t) { // an Error past picocli's handler: out of memory above all
            code = report(t, err);
        }
        out.flush(); // autoflush covers println only: a command's final print(...) would be lost at exit
        System.out.flush();
        err.flush();
        System.exit(code);
    }
}
