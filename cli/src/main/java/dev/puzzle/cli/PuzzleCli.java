package dev.puzzle.cli;

import dev.puzzle.core.PuzzleException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;

/** The {@code puzzle} command: compress a trained LLM into a faster child for a hardware budget. */
@Command(name = "puzzle", mixinStandardHelpOptions = true, version = "puzzle 0.1.0",
        header = "Puzzle for Java: distillation-based architecture search that makes an LLM faster for a hardware budget.",
        description = {"", "Each stage reads and writes files; run 'puzzle COMMAND --help' for details.", ""},
        subcommands = {InspectCommand.class, ConvertCommand.class, GenerateCommand.class, EvalCommand.class, CompressCommand.class, ReportCommand.class, LibraryCommand.class, DistillCommand.class, ScoreCommand.class, ProfileCommand.class, SearchCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Models: a Hugging Face directory, a .safetensors file beside its config.json, a llama2.c .bin, a .gguf,",
                "or hf:OWNER/REPO/PATH (cache, then the mirror directories in PUZZLE_HF_MIRRORS or --mirror, then a download).",
                "", "Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 130 interrupted."})
public final class PuzzleCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A command line wired with this toolkit's error handling, for main and for in-process tests. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new PuzzleCli());
        cl.setExecutionExceptionHandler(PuzzleCli::handle);
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("puzzle: " + ex.getMessage());
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for more information.");
            return ExitCodes.USAGE;
        });
        return cl;
    }

    private static int handle(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        Throwable t = ex;
        if (t instanceof java.io.UncheckedIOException u) t = u.getCause();
        if (t instanceof PuzzleException) {
            err.println("puzzle: " + t.getMessage());
            return ExitCodes.INPUT;
        }
        if (t instanceof NoSuchFileException n) {
            err.println("puzzle: " + n.getFile() + ": no such file or directory");
            return ExitCodes.INPUT;
        }
        if (t instanceof IOException io) {
            err.println("puzzle: " + io.getMessage());
            return ExitCodes.INPUT;
        }
        if (t instanceof IllegalArgumentException ia) {
            err.println("puzzle: " + ia.getMessage());
            return ExitCodes.INPUT;
        }
        err.println("puzzle: internal error: " + t);
        if (System.getenv("PUZZLE_DEBUG") != null) t.printStackTrace(err);
        else err.println("(set PUZZLE_DEBUG=1 for the stack trace, and please report it)");
        return ExitCodes.SOFTWARE;
    }

    public static void main(String[] args) {
        CommandLine cl = commandLine();
        cl.setOut(new PrintWriter(new java.io.OutputStreamWriter(System.out, java.nio.charset.StandardCharsets.UTF_8), true));
        int code = cl.execute(args);
        System.out.flush();
        System.exit(code);
    }
}
