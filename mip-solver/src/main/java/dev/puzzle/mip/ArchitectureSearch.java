package dev.puzzle.mip;

import com.google.ortools.Loader;
import com.google.ortools.linearsolver.MPConstraint;
import com.google.ortools.linearsolver.MPObjective;
import com.google.ortools.linearsolver.MPSolver;
import com.google.ortools.linearsolver.MPVariable;
import com.google.ortools.sat.CpModel;
import com.google.ortools.sat.CpSolver;
import com.google.ortools.sat.CpSolverStatus;
import com.google.ortools.sat.LinearExpr;
import com.google.ortools.sat.Literal;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.mip.SearchLibrary.Choice;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Puzzle's architecture search as a mixed-integer program (Bercovich et al., 2025, section 4): one
 * binary per replacement, exactly one replacement covering each parent layer, sums of costs within
 * budgets, optimize the sum of a metric. Solved with OR-Tools CP-SAT (integer coefficients, scaled)
 * or SCIP (through MPSolver); every solution is verified by recomputing its totals from the chosen
 * replacements. Also: k diverse solutions that differ pairwise in at least d layers, a frontier sweep
 * along one budget, and infeasible budgets reported with the smallest achievable value of each cost.
 */
public final class ArchitectureSearch {
    private ArchitectureSearch() {}

    public enum Backend {
        CP_SAT, SCIP;

        public static Backend parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "cp-sat", "cpsat", "cp_sat" -> CP_SAT;
                case "scip" -> SCIP;
                default -> throw PuzzleException.setting("solver", s, "unknown solver (cp-sat, scip)");
            };
        }

        public String label() {
            return this == CP_SAT ? "cp-sat" : "scip";
        }
    }

    /** What to optimize, under which budgets. */
    public record Problem(SearchLibrary library, String objective, boolean maximize, List<Budget> budgets) {
        public Problem {
            budgets = List.copyOf(budgets);
            library.requireKey(objective, "objective");
            for (Budget b : budgets) library.requireKey(b.key(), "budget");
        }

        public Problem withBudgets(List<Budget> newBudgets) {
            return new Problem(library, objective, maximize, newBudgets);
        }
    }

    /** @param timeLimitSeconds wall-clock limit of one solve; @param workers CP-SAT search workers */
    public record Options(Backend backend, double timeLimitSeconds, int workers) {
        public Options {
            if (!(timeLimitSeconds > 0)) throw PuzzleException.setting("time-limit", timeLimitSeconds, "must be positive");
            if (workers < 1) throw PuzzleException.setting("threads", workers, "must be >= 1");
        }

        public static Options defaults(Backend b) {
            return new Options(b, 60, Math.max(1, Runtime.getRuntime().availableProcessors()));
        }
    }

    /**
     * A verified choice. {@code status} is OPTIMAL (proven) or FEASIBLE (time limit reached);
     * {@code gap} is |value − bound| / max(|value|, 1e-9).
     */
    public record Solution(List<Choice> chosen, double value, Map<String, Double> totals, String status,
                           double bound, double gap, double seconds, Backend backend) {
        public boolean optimal() {
            return status.equals("OPTIMAL");
        }

        /** The replacement covering each layer. */
        public Choice atLayer(int layer) {
            for (Choice r : chosen) if (r.first() <= layer && layer <= r.last()) return r;
            throw new IllegalStateException("layer " + layer + " uncovered");
        }
    }

    /** No architecture meets the budgets; carries the smallest achievable value of each constrained cost. */
    public static final class InfeasibleException extends PuzzleException {
        private final Map<String, Double> achievable;

        InfeasibleException(String message, Map<String, Double> achievable) {
            super(message);
            this.achievable = achievable;
        }

        public Map<String, Double> achievable() {
            return achievable;
        }
    }

    private static volatile boolean loaded;

    private static void load() {
        if (!loaded) {
            synchronized (ArchitectureSearch.class) {
                if (!loaded) {
                    Loader.loadNativeLibraries();
                    loaded = true;
                }
            }
        }
    }

    public static Solution solve(Problem p, Options o) {
        Solution s = solveOnce(p, o, List.of(), 0);
        if (s == null) throw infeasible(p, o);
        return s;
    }

    /** k solutions, each differing from every earlier one in at least d layers (fewer when no more exist). */
    public static List<Solution> diverse(Problem p, Options o, int k, int d) {
        if (k < 1) throw PuzzleException.setting("solutions", k, "must be >= 1");
        if (d < 0 || d > p.library().numLayers()) throw PuzzleException.setting("diversity", d, "must be in [0, " + p.library().numLayers() + "]");
        List<Solution> out = new ArrayList<>();
        Solution first = solve(p, o);
        out.add(first);
        while (out.size() < k) {
            Solution s = solveOnce(p, o, out, d);
            if (s == null) break;
            out.add(s);
        }
        return out;
    }

    /** A point of a frontier: the budget on the swept key, and the best solution under it (null when infeasible). */
    public record FrontierPoint(double budget, Solution solution) {}

    /** Best solutions for {@code points} budgets on {@code axis}, evenly spaced from its smallest achievable value to its largest. */
    public static List<FrontierPoint> frontier(Problem p, Options o, String axis, int points) {
        if (points < 2) throw new PuzzleException("a frontier needs at least 2 points, got " + points);
        p.library().requireKey(axis, "frontier axis");
        double lo = extreme(p.library(), axis, false, o), hi = extreme(p.library(), axis, true, o);
        List<FrontierPoint> out = new ArrayList<>();
        for (int i = 0; i < points; i++) {
            double b = lo + (hi - lo) * i / (points - 1);
            List<Budget> budgets = new ArrayList<>();
            for (Budget x : p.budgets()) if (!x.key().equals(axis)) budgets.add(x);
            budgets.add(Budget.atMost(axis, b));
            out.add(new FrontierPoint(b, solveOnce(p.withBudgets(budgets), o, List.of(), 0)));
        }
        return out;
    }

    /** The smallest (or largest) total of {@code key} any architecture has, ignoring budgets. */
    public static double extreme(SearchLibrary lib, String key, boolean largest, Options o) {
        Problem q = new Problem(lib, key, largest, List.of());
        Solution s = solveOnce(q, o, List.of(), 0);
        if (s == null) throw new IllegalStateException("a library without budgets is always feasible");
        return s.totals().get(key);
    }

    private static InfeasibleException infeasible(Problem p, Options o) {
        Map<String, Double> achievable = new LinkedHashMap<>();
        StringBuilder sb = new StringBuilder("no architecture in " + p.library().source() + " meets the budgets ");
        sb.append(p.budgets()).append(":");
        boolean alone = false;
        for (Budget b : p.budgets()) {
            boolean upper = b.max() != Double.POSITIVE_INFINITY;
            double v = extreme(p.library(), b.key(), !upper, o);
            achievable.put(b.key(), v);
            boolean violates = upper ? v > b.max() : v < b.min();
            alone |= violates;
            sb.append(String.format(Locale.ROOT, " the %s achievable %s is %s%s;", upper ? "smallest" : "largest", b.key(), fmt(v), violates ? " (beyond " + (upper ? "max " + fmt(b.max()) : "min " + fmt(b.min())) + ")" : ""));
        }
        if (!alone) sb.append(" each budget can be met alone, but not all together;");
        sb.setLength(sb.length() - 1);
        return new InfeasibleException(sb.toString(), achievable);
    }

    static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.6g", v);
    }

    /** Recomputes every total from the chosen replacements and checks coverage and budgets; throws when violated. */
    public static Solution verified(Problem p, List<Choice> chosen, String status, double bound, double seconds, Backend backend) {
        SearchLibrary lib = p.library();
        int[] cover = new int[lib.numLayers()];
        for (Choice r : chosen) for (int l = r.first(); l <= r.last(); l++) cover[l]++;
        for (int l = 0; l < cover.length; l++) {
            if (cover[l] != 1) throw new IllegalStateException(backend + " returned a solution covering layer " + l + " " + cover[l] + " times");
        }
        Map<String, Double> totals = new LinkedHashMap<>();
        totals.put(p.objective(), sum(chosen, p.objective()));
        for (Budget b : p.budgets()) totals.put(b.key(), sum(chosen, b.key()));
        for (Budget b : p.budgets()) {
            double t = totals.get(b.key());
            double tol = 1e-6 * Math.max(1, Math.max(Math.abs(b.min() == Double.NEGATIVE_INFINITY ? 0 : b.min()), Math.abs(b.max() == Double.POSITIVE_INFINITY ? 0 : b.max())));
            if (!b.satisfiedBy(t, tol)) throw new IllegalStateException(backend + " returned a solution with " + b.key() + " = " + t + ", outside " + b);
        }
        double value = totals.get(p.objective());
        double gap = Double.isFinite(bound) ? Math.abs(value - bound) / Math.max(Math.abs(value), 1e-9) : Double.NaN;
        List<Choice> sorted = new ArrayList<>(chosen);
        sorted.sort(Comparator.comparingInt(Choice::first));
        return new Solution(List.copyOf(sorted), value, totals, status, bound, gap, seconds, backend);
    }

    static double sum(List<Choice> chosen, String key) {
        double s = 0;
        for (Choice r : chosen) s += r.values().get(key);
        return s;
    }

    /** One solve, excluding solutions within d layers of each of {@code avoid}; null when infeasible. */
    static Solution solveOnce(Problem p, Options o, List<Solution> avoid, int d) {
        load();
        return switch (o.backend()) {
            case CP_SAT -> cpSat(p, o, avoid, d);
            case SCIP -> scip(p, o, avoid, d);
        };
    }

    /** Integer scale for a key: its largest magnitude becomes about 1e9. */
    private static double scale(List<Choice> reps, String key) {
        double m = 0;
        for (Choice r : reps) m = Math.max(m, Math.abs(r.values().get(key)));
        return m == 0 ? 1 : Math.pow(10, Math.floor(9 - Math.log10(m)));
    }

    private static Solution cpSat(Problem p, Options o, List<Solution> avoid, int d) {
        // Data.
        List<Choice> reps = p.library().replacements();
        int R = reps.size(), L = p.library().numLayers();
        // Variables: one literal per replacement.
        CpModel model = new CpModel();
        Literal[] x = new Literal[R];
        for (int r = 0; r < R; r++) x[r] = model.newBoolVar("x" + r);
        // Each parent layer is covered by exactly one replacement.
        for (int l = 0; l < L; l++) {
            List<Literal> cover = new ArrayList<>();
            for (Choice rep : reps) if (rep.first() <= l && l <= rep.last()) cover.add(x[rep.index()]);
            model.addExactlyOne(cover);
        }
        // Each budget bounds the sum of its cost over the chosen replacements (coefficients scaled to integers).
        for (Budget b : p.budgets()) {
            double s = scale(reps, b.key());
            long[] c = new long[R];
            for (int r = 0; r < R; r++) c[r] = Math.round(reps.get(r).values().get(b.key()) * s);
            LinearExpr sum = LinearExpr.weightedSum(x, c);
            if (b.max() != Double.POSITIVE_INFINITY) model.addLessOrEqual(sum, (long) Math.floor(b.max() * s + 0.5));
            if (b.min() != Double.NEGATIVE_INFINITY) model.addGreaterOrEqual(sum, (long) Math.ceil(b.min() * s - 0.5));
        }
        // Each new solution shares at most L − d layers with every earlier one.
        for (Solution prev : avoid) {
            Literal[] lits = new Literal[prev.chosen().size()];
            long[] w = new long[lits.length];
            for (int i = 0; i < lits.length; i++) {
                lits[i] = x[prev.chosen().get(i).index()];
                w[i] = prev.chosen().get(i).span();
            }
            model.addLessOrEqual(LinearExpr.weightedSum(lits, w), L - d);
        }
        // Objective: the sum of the metric.
        double s = scale(reps, p.objective());
        long[] oc = new long[R];
        for (int r = 0; r < R; r++) oc[r] = Math.round(reps.get(r).values().get(p.objective()) * s);
        if (p.maximize()) model.maximize(LinearExpr.weightedSum(x, oc));
        else model.minimize(LinearExpr.weightedSum(x, oc));
        // Solve.
        CpSolver solver = new CpSolver();
        solver.getParameters().setMaxTimeInSeconds(o.timeLimitSeconds());
        solver.getParameters().setNumWorkers(o.workers());
        long t0 = System.nanoTime();
        CpSolverStatus status = solver.solve(model);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (status == CpSolverStatus.INFEASIBLE) return null;
        if (status != CpSolverStatus.OPTIMAL && status != CpSolverStatus.FEASIBLE) {
            if (status == CpSolverStatus.UNKNOWN) throw new PuzzleException("cp-sat found no solution within the time limit of " + o.timeLimitSeconds() + " s");
            throw new IllegalStateException("cp-sat status " + status + ": " + solver.getSolutionInfo());
        }
        // Verify.
        List<Choice> chosen = new ArrayList<>();
        for (int r = 0; r < R; r++) if (solver.booleanValue(x[r])) chosen.add(reps.get(r));
        return verified(p, chosen, status.name(), solver.bestObjectiveBound() / s, secs, Backend.CP_SAT);
    }

    private static Solution scip(Problem p, Options o, List<Solution> avoid, int d) {
        // Data.
        List<Choice> reps = p.library().replacements();
        int R = reps.size(), L = p.library().numLayers();
        MPSolver solver = MPSolver.createSolver("SCIP");
        if (solver == null) throw PuzzleException.setting("solver", "scip", "SCIP is not available in this OR-Tools build; use cp-sat");
        try {
            // Variables: one binary per replacement.
            MPVariable[] x = new MPVariable[R];
            for (int r = 0; r < R; r++) x[r] = solver.makeBoolVar("x" + r);
            // Each parent layer is covered by exactly one replacement.
            for (int l = 0; l < L; l++) {
                MPConstraint c = solver.makeConstraint(1, 1, "cover" + l);
                for (Choice rep : reps) if (rep.first() <= l && l <= rep.last()) c.setCoefficient(x[rep.index()], 1);
            }
            // Each budget bounds the sum of its cost over the chosen replacements.
            double inf = MPSolver.infinity();
            for (Budget b : p.budgets()) {
                MPConstraint c = solver.makeConstraint(b.min() == Double.NEGATIVE_INFINITY ? -inf : b.min(),
                        b.max() == Double.POSITIVE_INFINITY ? inf : b.max(), "budget " + b.key());
                for (int r = 0; r < R; r++) c.setCoefficient(x[r], reps.get(r).values().get(b.key()));
            }
            // Each new solution shares at most L − d layers with every earlier one.
            for (Solution prev : avoid) {
                MPConstraint c = solver.makeConstraint(-inf, L - d);
                for (Choice rep : prev.chosen()) c.setCoefficient(x[rep.index()], rep.span());
            }
            // Objective: the sum of the metric.
            MPObjective obj = solver.objective();
            for (int r = 0; r < R; r++) obj.setCoefficient(x[r], reps.get(r).values().get(p.objective()));
            if (p.maximize()) obj.setMaximization();
            else obj.setMinimization();
            // Solve.
            solver.setTimeLimit((long) Math.ceil(o.timeLimitSeconds() * 1000));
            long t0 = System.nanoTime();
            // MPSolver's default relative gap (1e-4) would call near-optimal solutions OPTIMAL: ask for a proof.
            com.google.ortools.linearsolver.MPSolverParameters params = new com.google.ortools.linearsolver.MPSolverParameters();
            params.setDoubleParam(com.google.ortools.linearsolver.MPSolverParameters.DoubleParam.RELATIVE_MIP_GAP, 1e-9);
            MPSolver.ResultStatus st = solver.solve(params);
            double secs = (System.nanoTime() - t0) / 1e9;
            if (st == MPSolver.ResultStatus.INFEASIBLE) return null;
            if (st != MPSolver.ResultStatus.OPTIMAL && st != MPSolver.ResultStatus.FEASIBLE) {
                if (st == MPSolver.ResultStatus.NOT_SOLVED) throw new PuzzleException("scip found no solution within the time limit of " + o.timeLimitSeconds() + " s");
                throw new IllegalStateException("scip status " + st);
            }
            // Verify.
            List<Choice> chosen = new ArrayList<>();
            for (int r = 0; r < R; r++) if (x[r].solutionValue() > 0.5) chosen.add(reps.get(r));
            return verified(p, chosen, st.name(), obj.bestBound(), secs, Backend.SCIP);
        } finally {
            solver.delete();
        }
    }
}
