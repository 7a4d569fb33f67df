package dev.puzzle.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.config.Json;
import dev.puzzle.core.io.AtomicFiles;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import dev.puzzle.bld.RunLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * One run's folder (DESIGN.md section 4): its paths ({@link RunLayout}, the one place that names them), the
 * fingerprint of the settings that shaped it, and a lock so that two {@code compress} processes never
 * interleave their writes.
 */
public final class RunDirectory {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path root;
    private final RunLayout layout;

    public RunDirectory(Path root) {
        this.root = root;
        this.layout = new RunLayout(root);
    }

    public Path root() {
        return root;
    }

    /** Every path of the run, named once. */
    public RunLayout layout() {
        return layout;
    }

    public Path profileDir() {
        return layout.profileDir();
    }

    public Path blockCosts() {
        return layout.blockCosts();
    }

    public Path modelCosts() {
        return layout.modelCosts();
    }

    public Path scoredLibrary() {
        return layout.scoredLibrary();
    }

    public Path ffnDependency() {
        return layout.ffnDependency();
    }

    public Path child(String name) {
        return layout.child(name);
    }

    public Path reportDir() {
        return layout.reportDir();
    }

    public Path fingerprintFile() {
        return layout.fingerprint();
    }

    /** The embeddings-and-head costs that profile wrote, by stats key; empty when not profiled. */
    public Map<String, Double> fixedCosts() {
        Map<String, Double> out = new HashMap<>();
        if (!Files.exists(modelCosts())) return out;
        Json.readObject(modelCosts(), "the profile's model costs").path("embeddings_and_head")
                .fields().forEachRemaining(e -> out.put("stats." + e.getKey(), e.getValue().asDouble()));
        return out;
    }

    /** The parent's whole-model throughput (tokens/s) on the profiled hardware and workload. */
    public double parentThroughput() {
        if (!Files.exists(modelCosts())) throw new PuzzleException(root + ": not profiled yet (no " + modelCosts() + ")");
        JsonNode t = Json.readObject(modelCosts(), "the profile's model costs").path("parent_total").path("throughput_tokens_per_s");
        if (!t.isNumber()) throw new PuzzleException(modelCosts() + ": field 'parent_total.throughput_tokens_per_s' is missing");
        return t.asDouble();
    }

    /**
     * Resuming is only sound for the same run: the sections that shape the stages' outputs are
     * fingerprinted on the first run, and a run directory made from other settings is refused.
     */
    public void checkFingerprint(RunConfig rc) throws IOException {
        checkFingerprint(rc, null);
    }

    /**
     * {@link #checkFingerprint(RunConfig)} with the parent's content ({@link #contentStamp}) among the settings: a parent
     * made again at the same path (new weights) is told from the one the run directory was made from.
     */
    public void checkFingerprint(RunConfig rc, String parentContent) throws IOException {
        ObjectNode fp = rc.fingerprint();
        if (parentContent != null) fp.put("parent_content", parentContent);
        String text = JSON.writeValueAsString(fp);
        Path f = fingerprintFile();
        if (Files.exists(f)) {
            if (!Files.readString(f).trim().equals(text)) {
                throw PuzzleException.field(rc.file, "run_dir", root, "was made with other parent/hardware/cost_model/workload/search_space/data/distill"
                        + " settings, from a parent whose files have changed since, or by an earlier version of the toolkit; use a new run_dir (or delete it)"
                        + " to start over");
            }
        } else {
            AtomicFiles.writeString(f, text + "\n");
        }
    }

    /**
     * A stamp of a model's files (a Hugging Face directory's config.json and weight files, or the one file): SHA-256 over
     * each file's name, size and first and last MiB — which a model made again with other weights changes (its embeddings
     * come first, its last layers and head last), without reading a large parent whole.
     */
    public static String contentStamp(Path model) throws IOException {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(model)) {
            files.add(model.resolve("config.json"));
            files.addAll(dev.puzzle.core.io.Checkpoints.weightFiles(model));
        } else {
            files.add(model);
        }
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (Path f : files) {
                if (!Files.exists(f)) continue;
                md.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (var ch = java.nio.channels.FileChannel.open(f)) {
                    long size = ch.size();
                    md.update(java.nio.ByteBuffer.allocate(8).putLong(size).array());
                    for (long at : new long[]{0, Math.max(0, size - buf.length)}) {
                        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(buf);
                        while (bb.hasRemaining() && ch.read(bb, at + bb.position()) > 0) {
                            // fill up to a MiB
                        }
                        md.update(buf, 0, bb.position());
                    }
                }
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The held lock of a run directory; closing it releases it. */
    public interface Lock extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    /**
     * Takes the run directory's lock for this process, or refuses at once, naming the directory, when
     * another process (or another run in this one) holds it. The operating system releases the lock
     * when a process dies, so a killed run never leaves it stale.
     */
    public Lock lock() throws IOException {
        Files.createDirectories(root);
        Path file = layout.lock();
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held;
        try {
            held = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            held = null;
        }
        if (held == null) {
            ch.close();
            throw new PuzzleException(root + ": another puzzle process is working in this run directory (" + file + " is locked); wait for it or use another run_dir");
        }
        FileLock lock = held;
        return () -> {
            lock.release();
            ch.close();
        };
    }
}
