package dev.puzzle.core.io;

import dev.puzzle.core.tensor.DType;

import dev.puzzle.core.PuzzleException;
import dev.puzzle.core.model.FfnConfig;
import dev.puzzle.core.model.ModelConfig;
import dev.puzzle.core.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tensor names of mixture-of-experts layers. Internally every MoE layer uses Qwen2-MoE's names
 * ({@link TensorNames#ROUTER}, {@link TensorNames#expert}); Mixtral's {@code block_sparse_moe.gate} and
 * {@code block_sparse_moe.experts.E.w1/w3/w2} (gate, up, down) are renamed on read and back on write, and
 * the packed layout of newer Hugging Face exports — {@code mlp.experts.gate_up_proj} (E, 2I, H), gate
 * rows then up rows per expert, and {@code mlp.experts.down_proj} (E, H, I) — is split into per-expert
 * tensors on read (copied to the heap in FP32).
 */
public final class MoeNames {
    private MoeNames() {}

    private static final Pattern MIXTRAL = Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.(gate\\.weight|experts\\.(\\d+)\\.(w1|w2|w3)\\.weight)");
    private static final Pattern PACKED = Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.experts\\.(gate_up_proj|down_proj)(\\.weight)?");

    /** Renames Mixtral tensors and splits packed experts, in place; checks the packed shapes against the config. */
    static void toInternal(ModelConfig cfg, Map<String, Tensor> tensors, Map<String, DType> types, String source) {
        if (tensors.keySet().stream().noneMatch(n -> MIXTRAL.matcher(n).matches() || PACKED.matcher(n).matches())) return;
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> ty = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            Matcher m = MIXTRAL.matcher(name);
            Matcher p = PACKED.matcher(name);
            if (m.matches()) {
                int l = Integer.parseInt(m.group(1));
                String to = m.group(3) == null ? TensorNames.ROUTER : TensorNames.expert(Integer.parseInt(m.group(3)), switch (m.group(4)) {
                    case "w1" -> TensorNames.EXPERT_GATE;
                    case "w3" -> TensorNames.EXPERT_UP;
                    default -> TensorNames.EXPERT_DOWN;
                });
                t.put(TensorNames.layer(l, to), e.getValue());
                ty.put(TensorNames.layer(l, to), types.get(name));
            } else if (p.matches()) {
                int l = Integer.parseInt(p.group(1));
                if (l >= cfg.numLayers() || !(cfg.blocks().get(l).ffn() instanceof FfnConfig.Moe moe)) {
                    throw new PuzzleException(source + ": tensor '" + name + "' belongs to no MoE layer of the config");
                }
                unpack(source, name, e.getValue(), p.group(2).equals("gate_up_proj"), l, moe, cfg.dim(), t, ty, types.get(name));
            } else {
                t.put(name, e.getValue());
                ty.put(name, types.get(name));
            }
        }
        tensors.clear();
        tensors.putAll(t);
        types.clear();
        types.putAll(ty);
    }

    private static void unpack(String source, String name, Tensor w, boolean gateUp, int l, FfnConfig.Moe moe, int D,
                               Map<String, Tensor> t, Map<String, DType> ty, DType stored) {
        int E = moe.numExperts(), I = moe.expertIntermediate();
        int[] want = gateUp ? new int[]{E, 2 * I, D} : new int[]{E, D, I};
        if (!java.util.Arrays.equals(w.shape(), want)) {
            throw new PuzzleException(source + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(w.shape())
                    + ", expected " + java.util.Arrays.toString(want));
        }
        int cols = want[2];
        for (int e = 0; e < E; e++) {
            List<String> parts = new ArrayList<>();
            if (gateUp) {
                parts.add(TensorNames.EXPERT_GATE);
                parts.add(TensorNames.EXPERT_UP);
            } else {
                parts.add(TensorNames.EXPERT_DOWN);
            }
            int rows = gateUp ? I : D;
            for (int j = 0; j < parts.size(); j++) {
                float[] a = new float[rows * cols];
                w.reshape(E * want[1], cols).rows(e * want[1] + j * rows, rows, a, 0);
                String to = TensorNames.layer(l, TensorNames.expert(e, parts.get(j)));
                t.put(to, new Tensor(a, rows, cols));
                ty.put(to, stored);
            }
        }
    }

    private static final Pattern INTERNAL = Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.(gate\\.weight|experts\\.(\\d+)\\.(gate_proj|up_proj|down_proj)\\.weight)");

    /** Renames internal MoE tensor names to Mixtral's, in place, keeping the order. */
    static void toMixtral(Map<String, Tensor> tensors, Map<String, DType> types) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        Map<String, DType> ty = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            Matcher m = INTERNAL.matcher(e.getKey());
            String to = e.getKey();
            if (m.matches()) {
                String rest = m.group(3) == null ? "gate.weight" : "experts." + m.group(3) + "." + switch (m.group(4)) {
                    case "gate_proj" -> "w1";
                    case "up_proj" -> "w3";
                    default -> "w2";
                } + ".weight";
                to = "model.layers." + m.group(1) + ".block_sparse_moe." + rest;
            }
            t.put(to, e.getValue());
            ty.put(to, types.get(e.getKey()));
        }
        tensors.clear();
        tensors.putAll(t);
        types.clear();
        types.putAll(ty);
    }
}
