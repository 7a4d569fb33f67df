package dev.puzzle.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * One line for a command line picocli could not parse: an unknown command or option is named, with the closest
 * one when it is near ({@code puzzle evl} → "did you mean 'eval'?"), before any complaint about what is missing —
 * so that a mistyped {@code --txt} is not reported as a missing {@code --text}.
 */
final class UsageErrors {
    private UsageErrors() {}

    static String message(CommandLine.ParameterException ex, String[] args) {
        CommandLine c = ex.getCommandLine();
        CommandSpec spec = c.getCommandSpec();
        String help = "see '" + spec.qualifiedName() + " --help'";
        if (spec.parent() == null && args.length > 0 && !args[0].startsWith("-") && !spec.subcommands().containsKey(args[0])) {
            return "unknown command '" + args[0] + "'" + suggestion(args[0], new ArrayList<>(visibleSubcommands(spec))) + "; " + help;
        }
        for (String a : after(spec, args)) {
            if (!a.startsWith("-") || a.equals("-") || a.equals("--") || a.matches("-\\d.*")) continue;
            String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (spec.findOption(name) == null) {
                List<String> names = new ArrayList<>();
                for (OptionSpec o : spec.options()) if (!o.hidden()) names.add(o.longestName());
                return "unknown option '" + name + "'" + suggestion(name, names) + "; " + help;
            }
        }
        return ex.getMessage().replaceFirst("^Error: ", "") + "; " + help; // picocli prefixes argument-group messages with "Error: "
    }

    private static List<String> visibleSubcommands(CommandSpec spec) {
        List<String> out = new ArrayList<>();
        spec.subcommands().forEach((name, sub) -> {
            if (!sub.getCommandSpec().usageMessage().hidden()) out.add(name);
        });
        return out;
    }

    /** The arguments after the command's own name (all of them for the root). */
    private static List<String> after(CommandSpec spec, String[] args) {
        List<String> out = new ArrayList<>();
        boolean in = spec.parent() == null;
        for (String a : args) {
            if (in) out.add(a);
            else if (a.equals(spec.name())) in = true;
        }
        return out;
    }

    private static String suggestion(String typed, List<String> candidates) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(typed, c);
            if (d < bestD) {
                bestD = d;
                best = c;
            }
        }
        return best != null && bestD <= Math.max(2, typed.length() / 3) ? " (did you mean '" + best + "'?)" : "";
    }

    /** Levenshtein distance. */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
