"""Writes a tiny random Nemotron-H parent (NemotronHForCausalLM) as a Hugging Face directory, with reference logits and
MLP / attention block gradients computed by PyTorch, for puzzle-core's NemotronHGoldenTest.

Written from the published definition (transformers' modeling_nemotron_h.py / configuration_nemotron_h.py, the naive
torch path; Debian's torch ships without transformers), in float64:
  embeddings; per layer i: out = x + mixer_i(rmsnorm_i(x)), mixer by hybrid_override_pattern[i]:
    M  Mamba-2: z, xBC, dt = in_proj(h).split([I, C, H]); xBC = silu(causal depthwise conv1d(xBC) + bias);
       x, B, C = xBC.split([I, G*N, G*N]); dt = softplus(dt + dt_bias); A = -exp(A_log);
       S_t = exp(dt*A) S_{t-1} + dt x_t (outer) B_t; y = S_t . C_t + D x_t;
       n = norm.weight * g / rms(g over each of G groups), g = y * silu(z); out_proj(n)
    *  attention: q, k, v, o without biases, GQA, no position embedding (Nemotron-H's attention has no RoPE), causal
    -  MLP: down_proj(relu(up_proj(h)) ** 2)
  norm_f, untied lm_head.
HF names: backbone.embeddings.weight, backbone.layers.i.norm.weight, backbone.layers.i.mixer.* (conv1d.weight (C, 1, K)),
backbone.norm_f.weight, lm_head.weight.

reference.bin (PZGF v1, see golden/fixture_io.py): tokens (T), logits (T, V) of a teacher-forced prefill; mlp.x, mlp.dout,
mlp.out (the MLP sub-block of layer 2, norm included, no residual), mlp.dx, mlp.grad.<internal name>; the same as attn.* for
the attention of layer 1. Internal names: post_attention_layernorm.weight, mlp.up_proj.weight, mlp.down_proj.weight;
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


def sub_block(kind, x, p):
    h = rms(x, p["norm.weight"])
    return {"M": mamba, "*": attention, "-": mlp}[kind](h, p)


layers = [layer_params(k) for k in PATTERN]
top = {"backbone.embeddings.weight": rnd(V, D, scale=0.5), "backbone.norm_f.weight": norm_w(D), "lm_head.weight": rnd(V, D)}
tokens = torch.randint(0, V, (T,))
x = top["backbone.embeddings.weight"][tokens]
for kind, p in zip(PATTERN, layers):
    x = x + sub_block(kind, x, p)
logits = rms(x, top["backbone.norm_f.weight"]) @ top["lm_head.weight"].T
rec = {"tokens": tokens.to(torch.float64), "logits": logits}

INTERNAL = {"-": {"norm.weight": "post_attention_layernorm.weight", "mixer.up_proj.weight": "mlp.up_proj.weight",
                  "mixer.down_proj.weight": "mlp.down_proj.weight"},
            "*": {"norm.weight": "input_layernorm.weight", **{f"mixer.{n}_proj.weight": f"self_attn.{n}_proj.weight" for n in "qkvo"}}}
for prefix, li in (("mlp", 2), ("attn", 1)):
    kind = PATTERN[li]
    leaves = {k: v.clone().requires_grad_(True) for k, v in layers[li].items()}
    xin = torch.randn(T, D, requires_grad=True)
    dout = torch.randn(T, D)
    out = sub_block(kind, xin, leaves)
    out.backward(dout)
    rec.update({prefix + ".x": xin.detach(), prefix + ".dout": dout, prefix + ".out": out.detach(), prefix + ".dx": xin.grad})
    for k, v in leaves.items():
        rec[prefix + ".grad." + INTERNAL[kind][k]] = v.grad

cfg = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", "hidden_size": D, "num_hidden_layers": len(PATTERN),
       "hybrid_override_pattern": PATTERN, "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HD,
       "intermediate_size": FF, "vocab_size": V, "max_position_embeddings": 64, "layer_norm_epsilon": EPS,
       "mlp_hidden_act": "relu2", "attention_bias": False, "mlp_bias": False, "use_bias": False, "use_conv_bias": True,
       "mamba_num_heads": MH, "mamba_head_dim": MP, "ssm_state_size": MN, "n_groups": MG, "conv_kernel": MK,
       "mamba_hidden_act": "silu", "time_step_limit": [0.0, float("inf")], "tie_word_embeddings": False, "torch_dtype": "float32"}
out_dir = os.path.join(HERE, "nemotronh-f32")
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)  # time_step_limit's upper bound as Infinity, as Python writes it
tensors = dict(top)
for i, p in enumerate(layers):
    tensors.update({f"backbone.layers.{i}.{k}": v for k, v in p.items()})
write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)
write_records(os.path.join(out_dir, "reference.bin"), rec)
print("wrote", sorted(os.listdir(out_dir)))
