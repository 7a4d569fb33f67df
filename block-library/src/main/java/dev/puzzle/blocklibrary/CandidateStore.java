package dev.puzzle.blocklibrary;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.tensor.DType;
import dev.puzzle.core.io.Safetensors;
import dev.puzzle.core.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Candidate weights on disk: one safetensors file per (layer, variant), {@code DIR/layer_L/ID.safetensors},
 * holding the variant's tensors under the layer's Hugging Face names. Variant ids are
 * {@link dev.puzzle.core.model.BlockNames#id}'s: stable and file-safe ({@code attn-window64-kv2}, {@code ffn-dense86}).
 */
public final class CandidateStore {
    private final Path dir;

    public CandidateStore(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    public Path file(int layer, String id) {
        return dir.resolve("layer_" + layer).resolve(id + ".safetensors");
    }

    /**
     * Whether the candidate is stored and intact. A file whose data no longer matches the checksum recorded
     * when it was written (or truncated) is said on stderr, removed and reported absent, so it is rebuilt
     * rather than used. Each file is checked once per process (and again if it changes).
     */
    public boolean has(int layer, String id) {
        return Safetensors.intact(file(layer, id));
    }

    public void write(int layer, String id, Map<String, Tensor> tensors) throws IOException {
        Map<String, DType> types = new LinkedHashMap<>();
        tensors.keySet().forEach(k -> types.put(k, DType.F32));
        Safetensors.write(file(layer, id), tensors, types, Map.of("layer", String.valueOf(layer), "variant", id));
    }

    public Map<String, Tensor> read(int layer, String id) {
        Path f = file(layer, id);
        if (!Files.exists(f)) throw new PuzzleException(f + ": missing candidate weights (run 'puzzle library' for this run directory first)");
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(f)) {
            for (String name : st.entries().keySet()) out.put(name, st.read(name));
        }
        return out;
    }
}
