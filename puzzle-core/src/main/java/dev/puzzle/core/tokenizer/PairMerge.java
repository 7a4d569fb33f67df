package dev.puzzle.core.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Greedy pairwise merging, the loop at the heart of BPE: repeatedly merge the adjacent pair with the
 * best (lowest) priority, leftmost on ties, until no adjacent pair merges. A priority queue with lazy
 * invalidation makes it O(n log n) yet merge-for-merge the same as rescanning all pairs each round.
 */
final class PairMerge {
    private PairMerge() {}

    /** The result of merging two adjacent symbols, and its priority (lower merges first). */
    record Merge<T>(double priority, T result) {}

    @FunctionalInterface
    interface Rule<T> {
        /** How {@code a} and {@code b} merge, or null when they do not. */
        Merge<T> merge(T a, T b);
    }

    private record Candidate<T>(double priority, int left, int leftVersion, int rightVersion, T result) {}

    static <T> List<T> run(List<T> symbols, Rule<T> rule) {
        int m = symbols.size();
        if (m < 2) return symbols;
        List<T> sym = new ArrayList<>(symbols);
        int[] next = new int[m], prev = new int[m], version = new int[m];
        for (int i = 0; i < m; i++) {
            next[i] = i + 1 < m ? i + 1 : -1;
            prev[i] = i - 1;
        }
        PriorityQueue<Candidate<T>> pq = new PriorityQueue<>((a, b) -> a.priority != b.priority
                ? Double.compare(a.priority, b.priority) : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < m; i++) offer(pq, rule, sym, version, i, i + 1);
        while (!pq.isEmpty()) {
            Candidate<T> c = pq.poll();
            int l = c.left, r = next[l];
            if (r < 0 || sym.get(l) == null || version[l] != c.leftVersion || version[r] != c.rightVersion) continue;
            sym.set(l, c.result);
            version[l]++;
            sym.set(r, null);
            version[r]++;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) offer(pq, rule, sym, version, prev[l], l);
            if (next[l] >= 0) offer(pq, rule, sym, version, l, next[l]);
        }
        List<T> out = new ArrayList<>();
        for (int i = 0; i >= 0; i = next[i]) out.add(sym.get(i));
        return out;
    }

    private static <T> void offer(PriorityQueue<Candidate<T>> pq, Rule<T> rule, List<T> sym, int[] version, int l, int r) {
        Merge<T> mg = rule.merge(sym.get(l), sym.get(r));
        if (mg != null) pq.add(new Candidate<>(mg.priority(), l, version[l], version[r], mg.result()));
    }
}
