"""Writes tiny random Nemotron-H parents (NemotronHForCausalLM) as Hugging Face directories, with reference logits and
MLP / attention / MoE block gradients computed by PyTorch, for puzzle-core's NemotronHGoldenTest.

Written from the published definition (transformers' modeling_nemotron_h.py / configuration_nemotron_h.py, the naive
torch path; Debian's torch ships without transformers), in float64:
  embeddings; per layer i: out = x + mixer_i(rmsnorm_i(x)), mixer by hybrid_override_pattern[i]:
    M  Mamba-2: z, xBC, dt = in_proj(h).split([I, C, H]); xBC = silu(causal depthwise conv1d(xBC) + bias);
       x, B, C = xBC.split([I, G*N, G*N]); dt = softplus(dt + dt_bias); A = -exp(A_log);
       S_t = exp(dt*A) S_{t-1} + dt x_t (outer) B_t; y = S_t . C_t + D x_t;
       n = norm.weight * g / rms(g over each of G groups), g = y * silu(z); out_proj(n)
    *  attention: q, k, v, o without biases, GQA, no position embedding (Nemotron-H's attention has no RoPE), causal
    -  MLP: down_proj(relu(up_proj(h)) ** 2)
    E  Nemotron 3's MoE (NemotronHMOE, NemotronHTopkRouter with n_group = topk_group = 1): scores = sigmoid(h @ gate.T);
       the top-k of scores + e_score_correction_bias are chosen; their weights = scores gathered, over their sum + 1e-20
       (norm_topk_prob), times routed_scaling_factor; out = sum_k w_k * expert_k(h) + shared_experts(h), experts and the
       shared expert squared-ReLU MLPs. The correction bias is not trained (its gradient is written as zeros).
  norm_f, untied lm_head.
HF names: backbone.embeddings.weight, backbone.layers.i.norm.weight, backbone.layers.i.mixer.* (conv1d.weight (C, 1, K)),
backbone.norm_f.weight, lm_head.weight.

Directories: nemotronh-f32 (pattern M*-M-*) and nemotronh-moe-f32 (pattern ME*EM, Nemotron 3's MoE layers).
reference.bin (PZGF v1, see golden/fixture_io.py): tokens (T), logits (T, V) of a teacher-forced prefill; mlp.x, mlp.dout,
mlp.out (the MLP sub-block of layer 2 — in the MoE parent the MoE of layer 1 —, norm included, no residual), mlp.dx,
mlp.grad.<internal name>; the same as attn.* for the attention of layer 1 (MoE parent: layer 2). Internal names:
post_attention_layernorm.weight, mlp.up_proj.weight, mlp.down_proj.weight, mlp.gate.weight,
mlp.gate.e_score_correction_bias, mlp.experts.J.{up,down}_proj.weight, mlp.shared_expert.{up,down}_proj.weight;
input_layernorm.weight, self_attn.{q,k,v,o}_proj.weight.

Run with Debian's python3-torch:  /usr/bin/python3 make_nemotronh_fixture.py   (deterministic: seed 13)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_io import mamba2_naive, write_records, write_safetensors  # noqa: E402

torch.manual_seed(13)
torch.set_default_dtype(torch.float64)

PATTERN = "M*-M-*"
D, HEADS, KV, HD, FF, V, T = 16, 4, 2, 4, 24, 40, 9
MH, MP, MN, MG, MK = 4, 4, 8, 2, 4
MI, MC = MH * MP, MH * MP + 2 * MG * MN
EXPERTS, TOPK, EI, SHARED, SCALE = 4, 2, 16, 24, 2.5
EPS = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))


def rnd(*shape, scale=None):
    return torch.randn(*shape) * (scale if scale is not None else shape[-1] ** -0.5)


def norm_w(n):
    return 1 + 0.1 * torch.randn(n)


def layer_params(kind):
    p = {"norm.weight": norm_w(D)}
    if kind == "M":
        dt = torch.exp(torch.log(torch.tensor(0.01)) + torch.rand(MH) * (torch.log(torch.tensor(0.5)) - torch.log(torch.tensor(0.01))))
        p.update({"mixer.in_proj.weight": rnd(MI + MC + MH, D), "mixer.conv1d.weight": rnd(MC, 1, MK, scale=MK ** -0.5),
                  "mixer.conv1d.bias": 0.1 * torch.randn(MC), "mixer.dt_bias": dt + torch.log(-torch.expm1(-dt)),
                  "mixer.A_log": torch.log(torch.rand(MH) * 8 + 1), "mixer.D": 1 + 0.1 * torch.randn(MH),
                  "mixer.norm.weight": norm_w(MI), "mixer.out_proj.weight": rnd(D, MI)})
    elif kind == "*":
        p.update({"mixer.q_proj.weight": rnd(HEADS * HD, D), "mixer.k_proj.weight": rnd(KV * HD, D),
                  "mixer.v_proj.weight": rnd(KV * HD, D), "mixer.o_proj.weight": rnd(D, HEADS * HD)})
    elif kind == "E":
        p.update({"mixer.gate.weight": rnd(EXPERTS, D, scale=1.0), "mixer.gate.e_score_correction_bias": 0.05 * torch.randn(EXPERTS),
                  "mixer.shared_experts.up_proj.weight": rnd(SHARED, D), "mixer.shared_experts.down_proj.weight": rnd(D, SHARED)})
        for j in range(EXPERTS):
            p.update({f"mixer.experts.{j}.up_proj.weight": rnd(EI, D), f"mixer.experts.{j}.down_proj.weight": rnd(D, EI)})
    else:
        p.update({"mixer.up_proj.weight": rnd(FF, D), "mixer.down_proj.weight": rnd(D, FF)})
    return p


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def mamba(h, p):
    return mamba2_naive(h, p["mixer.in_proj.weight"], p["mixer.conv1d.weight"], p["mixer.conv1d.bias"], p["mixer.dt_bias"], p["mixer.A_log"],
                        p["mixer.D"], p["mixer.norm.weight"], p["mixer.out_proj.weight"], MH, MP, MN, MG, MK, EPS)


def attention(h, p):
    n = h.shape[0]
    q = (h @ p["mixer.q_proj.weight"].T).reshape(n, HEADS, HD).transpose(0, 1)
    k = (h @ p["mixer.k_proj.weight"].T).reshape(n, KV, HD).transpose(0, 1).repeat_interleave(HEADS // KV, dim=0)
    v = (h @ p["mixer.v_proj.weight"].T).reshape(n, KV, HD).transpose(0, 1).repeat_interleave(HEADS // KV, dim=0)
    s = q @ k.transpose(1, 2) / HD ** 0.5
    s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
    o = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(n, HEADS * HD)
    return o @ p["mixer.o_proj.weight"].T


def mlp(h, p):
    return torch.relu(h @ p["mixer.up_proj.weight"].T).pow(2) @ p["mixer.down_proj.weight"].T


def relu2_mlp(h, up, down):
    return torch.relu(h @ up.T).pow(2) @ down.T


def moe(h, p):
    scores = torch.sigmoid(h @ p["mixer.gate.weight"].T)
    chosen = torch.topk(scores + p["mixer.gate.e_score_correction_bias"].detach(), TOPK, dim=-1)[1]
    w = scores.gather(1, chosen)
    w = w / (w.sum(-1, keepdim=True) + 1e-20) * SCALE
    out = relu2_mlp(h, p["mixer.shared_experts.up_proj.weight"], p["mixer.shared_experts.down_proj.weight"])
    for j in range(EXPERTS):
        tok, slot = torch.where(chosen == j)
        if tok.numel():
            y = relu2_mlp(h[tok], p[f"mixer.experts.{j}.up_proj.weight"], p[f"mixer.experts.{j}.down_proj.weight"])
            out = out.index_add(0, tok, y * w[tok, slot][:, None])
    return out


def sub_block(kind, x, p):
    h = rms(x, p["norm.weight"])
    return {"M": mamba, "*": attention, "-": mlp, "E": moe}[kind](h, p)


def internal(kind, k):
    if k == "norm.weight":
        return "input_layernorm.weight" if kind in "M*" else "post_attention_layernorm.weight"
    part = k[len("mixer."):]
    if kind == "*":
        return "self_attn." + part
    return "mlp." + part.replace("shared_experts.", "shared_expert.")


def make(name, pattern, extra_cfg, blocks):
    layers = [layer_params(k) for k in pattern]
    top = {"backbone.embeddings.weight": rnd(V, D, scale=0.5), "backbone.norm_f.weight": norm_w(D), "lm_head.weight": rnd(V, D)}
    tokens = torch.randint(0, V, (T,))
    x = top["backbone.embeddings.weight"][tokens]
    for kind, p in zip(pattern, layers):
        x = x + sub_block(kind, x, p)
    logits = rms(x, top["backbone.norm_f.weight"]) @ top["lm_head.weight"].T
    rec = {"tokens": tokens.to(torch.float64), "logits": logits}
    for prefix, li in blocks:
        kind = pattern[li]
        leaves = {k: v.clone().requires_grad_(not k.endswith("e_score_correction_bias")) for k, v in layers[li].items()}
        xin = torch.randn(T, D, requires_grad=True)
        dout = torch.randn(T, D)
        out = sub_block(kind, xin, leaves)
        out.backward(dout)
        rec.update({prefix + ".x": xin.detach(), prefix + ".dout": dout, prefix + ".out": out.detach(), prefix + ".dx": xin.grad})
        for k, v in leaves.items():
            rec[prefix + ".grad." + internal(kind, k)] = v.grad if v.grad is not None else torch.zeros_like(v)
    cfg = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", "hidden_size": D, "num_hidden_layers": len(pattern),
           "hybrid_override_pattern": pattern, "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HD,
           "intermediate_size": FF, "vocab_size": V, "max_position_embeddings": 64, "layer_norm_epsilon": EPS,
           "mlp_hidden_act": "relu2", "attention_bias": False, "mlp_bias": False, "use_bias": False, "use_conv_bias": True,
           "mamba_num_heads": MH, "mamba_head_dim": MP, "ssm_state_size": MN, "n_groups": MG, "conv_kernel": MK,
           "mamba_hidden_act": "silu", "time_step_limit": [0.0, float("inf")], "tie_word_embeddings": False, "torch_dtype": "float32"}
    cfg.update(extra_cfg)
    out_dir = os.path.join(HERE, name)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)  # time_step_limit's upper bound as Infinity, as Python writes it
    tensors = dict(top)
    for i, p in enumerate(layers):
        tensors.update({f"backbone.layers.{i}.{k}": v for k, v in p.items()})
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)
    write_records(os.path.join(out_dir, "reference.bin"), rec)
    print("wrote", name, sorted(os.listdir(out_dir)))


make("nemotronh-f32", PATTERN, {}, (("mlp", 2), ("attn", 1)))
make("nemotronh-moe-f32", "ME*EM", {"n_routed_experts": EXPERTS, "num_experts_per_tok": TOPK, "moe_intermediate_size": EI,
                                    "moe_shared_expert_intermediate_size": SHARED, "n_shared_experts": 1, "norm_topk_prob": True,
                                    "routed_scaling_factor": SCALE, "n_group": 1, "topk_group": 1}, (("mlp", 1), ("attn", 2)))
