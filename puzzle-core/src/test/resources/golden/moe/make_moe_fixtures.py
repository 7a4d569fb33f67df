"""Writes tiny random mixture-of-experts parents as Hugging Face directories, with reference logits and
MoE-block gradients computed by PyTorch, for puzzle-core's MoeGoldenTest.

The blocks are written from the published definitions (transformers' modeling_mixtral.py and
modeling_qwen2_moe.py; Debian's torch 1.13 ships without transformers):
  Mixtral:   probs = softmax(gate(h)); w, idx = topk(probs, k); w /= w.sum(); out = sum_k w_k * expert_k(h)
  Qwen2-MoE: the same, normalized only when norm_topk_prob, plus sigmoid(shared_expert_gate(h)) * shared_expert(h);
             q/k/v projections with bias.
  Qwen3-MoE: q = q_norm(q_proj(h)) and k = k_norm(k_proj(h)) per head (RMSNorm over head_dim) before RoPE.
  expert(h) = down(silu(gate_proj(h)) * up_proj(h)); RMSNorm; half-split RoPE; GQA by repeat_interleave.

Directories (each config.json + model.safetensors + reference.bin):
  mixtral-f32, mixtral-bf16   MixtralForCausalLM, block_sparse_moe.* names
  qwen2moe-f32, qwen2moe-bf16 Qwen2MoeForCausalLM with a shared expert, layer 1 dense (mlp_only_layers)
  qwen3moe-f32, qwen3moe-bf16 Qwen3MoeForCausalLM: per-head q/k RMSNorms before RoPE, head_dim 8 != hidden/heads,
                              norm_topk_prob, no shared expert, no q/k/v bias
  qwen2moe-packed             the same weights as qwen2moe-f32 in the packed layout:
                              mlp.experts.gate_up_proj (E, 2I, H) = [gate; up] per expert, mlp.experts.down_proj (E, H, I)

reference.bin (little endian), version 1: b"PZGF", int32 version, int32 count, then per record: int32 name
length, UTF-8 name, int32 rank, int32 dims[rank], float32 data. Records: tokens (T), logits (T, V) of a
teacher-forced prefill; block.x (N, D), block.dout (N, D), block.out (N, D) = the MoE sub-block f(x) of
layer 0 (norm included, no residual), block.dx, and block.grad.<tensor name> for every tensor of that
sub-block (internal Qwen names: mlp.gate.weight, mlp.experts.E.gate_proj.weight, ...).

Run with Debian's python3-torch:  /usr/bin/python3 make_moe_fixtures.py   (deterministic: seed 7)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_io import write_records, write_safetensors  # noqa: E402

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)

D, H, KV, L, V, T = 16, 4, 2, 2, 40, 9
E_HEAD = D // H
EXPERTS, TOPK, I, SHARED, DENSE_I = 4, 2, 8, 12, 20
EPS, THETA = 1e-5, 10000.0
HERE = os.path.dirname(os.path.abspath(__file__))


def rnd(*shape, scale=None):
    fan = shape[-1]
    return torch.randn(*shape) * (scale if scale is not None else fan ** -0.5)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def head_dim(family):
    return 8 if family == "qwen3moe" else E_HEAD


def rope(x, heads, E):  # x: (T, heads*E)
    x = x.view(-1, heads, E)
    n = x.shape[0]
    inv = 1.0 / THETA ** (torch.arange(0, E, 2, dtype=torch.float64) / E)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
    rot = torch.cat([-x[..., E // 2:], x[..., :E // 2]], -1)
    return (x * cos + rot * sin).reshape(n, heads * E)


def attention(x, p, pre, family):
    bias, E = family == "qwen2moe", head_dim(family)
    h = rmsnorm(x, p[pre + "input_layernorm.weight"])
    def proj(name):
        y = h @ p[pre + "self_attn." + name + ".weight"].T
        return y + p[pre + "self_attn." + name + ".bias"] if bias else y
    q, k, v = proj("q_proj"), proj("k_proj"), proj("v_proj")
    n = x.shape[0]
    if family == "qwen3moe":  # Qwen3MoeAttention: q_norm / k_norm over head_dim, before RoPE
        q = rmsnorm(q.view(n, H, E), p[pre + "self_attn.q_norm.weight"]).reshape(n, H * E)
        k = rmsnorm(k.view(n, KV, E), p[pre + "self_attn.k_norm.weight"]).reshape(n, KV * E)
    q, k = rope(q, H, E), rope(k, KV, E)
    q = q.view(n, H, E).transpose(0, 1)
    k = k.view(n, KV, E).transpose(0, 1).repeat_interleave(H // KV, dim=0)
    v = v.view(n, KV, E).transpose(0, 1).repeat_interleave(H // KV, dim=0)
    s = q @ k.transpose(-1, -2) / E ** 0.5
    i = torch.arange(n)
    s = s.masked_fill(~(i[None, :] <= i[:, None]), float("-inf"))
    o = (s.softmax(-1) @ v).transpose(0, 1).reshape(n, H * E)
    return o @ p[pre + "self_attn.o_proj.weight"].T


def swiglu(h, g, u, d):
    return (torch.nn.functional.silu(h @ g.T) * (h @ u.T)) @ d.T


def moe(x, p, pre, norm_topk, shared):
    """The MoE sub-block on the residual x, with internal (Qwen) names; returns f(x)."""
    h = rmsnorm(x, p[pre + "post_attention_layernorm.weight"])
    probs = torch.softmax(h @ p[pre + "mlp.gate.weight"].T, dim=-1)
    w, idx = torch.topk(probs, TOPK, dim=-1)
    if norm_topk:
        w = w / w.sum(-1, keepdim=True)
    out = torch.zeros_like(h)
    for e in range(EXPERTS):
        y = swiglu(h, p[pre + f"mlp.experts.{e}.gate_proj.weight"], p[pre + f"mlp.experts.{e}.up_proj.weight"],
                   p[pre + f"mlp.experts.{e}.down_proj.weight"])
        we = (w * (idx == e)).sum(-1, keepdim=True)
        out = out + we * y
    if shared:
        s = swiglu(h, p[pre + "mlp.shared_expert.gate_proj.weight"], p[pre + "mlp.shared_expert.up_proj.weight"],
                   p[pre + "mlp.shared_expert.down_proj.weight"])
        out = out + torch.sigmoid(h @ p[pre + "mlp.shared_expert_gate.weight"].T) * s
    return out


def dense(x, p, pre):
    h = rmsnorm(x, p[pre + "post_attention_layernorm.weight"])
    return swiglu(h, p[pre + "mlp.gate_proj.weight"], p[pre + "mlp.up_proj.weight"], p[pre + "mlp.down_proj.weight"])


def params(family):
    p = {"model.embed_tokens.weight": rnd(V, D, scale=0.5), "model.norm.weight": 1 + 0.1 * torch.randn(D),
         "lm_head.weight": rnd(V, D)}
    bias = family == "qwen2moe"
    for l in range(L):
        pre = f"model.layers.{l}."
        p[pre + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        p[pre + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        E = head_dim(family)
        for n, rows in (("q_proj", H * E), ("k_proj", KV * E), ("v_proj", KV * E)):
            p[pre + f"self_attn.{n}.weight"] = rnd(rows, D)
            if bias:
                p[pre + f"self_attn.{n}.bias"] = 0.1 * torch.randn(rows)
        p[pre + "self_attn.o_proj.weight"] = rnd(D, H * E)
        if family == "qwen3moe":
            p[pre + "self_attn.q_norm.weight"] = 1 + 0.1 * torch.randn(E)
            p[pre + "self_attn.k_norm.weight"] = 1 + 0.1 * torch.randn(E)
        if family == "qwen2moe" and l == 1:  # a dense layer (mlp_only_layers)
            p[pre + "mlp.gate_proj.weight"] = rnd(DENSE_I, D)
            p[pre + "mlp.up_proj.weight"] = rnd(DENSE_I, D)
            p[pre + "mlp.down_proj.weight"] = rnd(D, DENSE_I)
            continue
        p[pre + "mlp.gate.weight"] = rnd(EXPERTS, D, scale=1.0)
        for e in range(EXPERTS):
            p[pre + f"mlp.experts.{e}.gate_proj.weight"] = rnd(I, D)
            p[pre + f"mlp.experts.{e}.up_proj.weight"] = rnd(I, D)
            p[pre + f"mlp.experts.{e}.down_proj.weight"] = rnd(D, I)
        if family == "qwen2moe":
            p[pre + "mlp.shared_expert.gate_proj.weight"] = rnd(SHARED, D)
            p[pre + "mlp.shared_expert.up_proj.weight"] = rnd(SHARED, D)
            p[pre + "mlp.shared_expert.down_proj.weight"] = rnd(D, SHARED)
            p[pre + "mlp.shared_expert_gate.weight"] = rnd(1, D)
    return p


def logits(p, family, tokens):
    norm_topk = family in ("mixtral", "qwen3moe")
    x = p["model.embed_tokens.weight"][tokens]
    for l in range(L):
        pre = f"model.layers.{l}."
        x = x + attention(x, p, pre, family)
        if family == "qwen2moe" and l == 1:
            x = x + dense(x, p, pre)
        else:
            x = x + moe(x, p, pre, norm_topk, family == "qwen2moe")
    return rmsnorm(x, p["model.norm.weight"]) @ p["lm_head.weight"].T


def block_records(p, family):
    pre = "model.layers.0."
    names = [n for n in p if n.startswith(pre) and (".mlp." in n or "post_attention_layernorm" in n)]
    leaves = {n: p[n].clone().requires_grad_(True) for n in names}
    q = dict(p)
    q.update(leaves)
    N = 6
    x = torch.randn(N, D, requires_grad=True)
    dout = torch.randn(N, D)
    out = moe(x, q, pre, family in ("mixtral", "qwen3moe"), family == "qwen2moe")
    out.backward(dout)
    rec = {"block.x": x.detach(), "block.dout": dout, "block.out": out.detach(), "block.dx": x.grad}
    for n, t in leaves.items():
        rec["block.grad." + n[len(pre):]] = t.grad
    return rec


MIXTRAL_NAMES = (("mlp.gate.weight", "block_sparse_moe.gate.weight"),)


def external(name, family):
    if family != "mixtral":
        return name
    name = name.replace(".mlp.gate.weight", ".block_sparse_moe.gate.weight")
    for ours, theirs in (("gate_proj", "w1"), ("up_proj", "w3"), ("down_proj", "w2")):
        if ".mlp.experts." in name and f".{ours}." in name:
            name = name.replace(".mlp.experts.", ".block_sparse_moe.experts.").replace(f".{ours}.", f".{theirs}.")
    return name


def config(family):
    c = {"hidden_size": D, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV,
         "vocab_size": V, "max_position_embeddings": 64, "rms_norm_eps": EPS, "rope_theta": THETA,
         "tie_word_embeddings": False, "hidden_act": "silu", "num_experts_per_tok": TOPK}
    if family == "mixtral":
        c.update({"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "num_local_experts": EXPERTS,
                  "intermediate_size": I, "sliding_window": None})
    elif family == "qwen3moe":
        c.update({"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "num_experts": EXPERTS, "head_dim": 8,
                  "moe_intermediate_size": I, "norm_topk_prob": True, "decoder_sparse_step": 1, "mlp_only_layers": [],
                  "attention_bias": False, "use_sliding_window": False})
    else:
        c.update({"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "num_experts": EXPERTS,
                  "moe_intermediate_size": I, "shared_expert_intermediate_size": SHARED, "intermediate_size": DENSE_I,
                  "norm_topk_prob": False, "decoder_sparse_step": 1, "mlp_only_layers": [1], "use_sliding_window": False})
    return c


def packed(p):
    out = {}
    for l in range(L):
        pre = f"model.layers.{l}."
        if pre + "mlp.experts.0.gate_proj.weight" not in p:
            continue
        out[pre + "mlp.experts.gate_up_proj"] = torch.stack(
            [torch.cat([p[pre + f"mlp.experts.{e}.gate_proj.weight"], p[pre + f"mlp.experts.{e}.up_proj.weight"]], 0) for e in range(EXPERTS)])
        out[pre + "mlp.experts.down_proj"] = torch.stack([p[pre + f"mlp.experts.{e}.down_proj.weight"] for e in range(EXPERTS)])
    return {n: t for n, t in p.items() if ".mlp.experts." not in n} | out


tokens = torch.tensor([1, 5, 17, 3, 33, 8, 21, 2, 39])
for family in ("mixtral", "qwen2moe", "qwen3moe"):
    base = params(family)
    for dtype in ("F32", "BF16"):
        p = {n: (t.to(torch.bfloat16).to(torch.float64) if dtype == "BF16" else t) for n, t in base.items()}
        d = os.path.join(HERE, f"{family}-{dtype.lower()}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config(family), f, indent=1)
        write_safetensors(os.path.join(d, "model.safetensors"), {external(n, family): t for n, t in p.items()}, dtype)
        rec = {"tokens": tokens.to(torch.float64), "logits": logits(p, family, tokens)}
        rec.update(block_records(p, family))
        write_records(os.path.join(d, "reference.bin"), rec)
        if family == "qwen2moe" and dtype == "F32":
            d = os.path.join(HERE, "qwen2moe-packed")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(config(family), f, indent=1)
            write_safetensors(os.path.join(d, "model.safetensors"), packed(p), dtype)
            write_records(os.path.join(d, "reference.bin"), {"tokens": rec["tokens"], "logits": rec["logits"]})
print("wrote", sorted(os.listdir(HERE)))
