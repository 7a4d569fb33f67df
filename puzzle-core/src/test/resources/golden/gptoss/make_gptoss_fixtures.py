"""Writes tiny random gpt-oss parents (GptOssForCausalLM) as Hugging Face directories, with reference logits and
block gradients computed by PyTorch, for puzzle-core's GptOssGoldenTest.

Written from the published definition (transformers' modeling_gpt_oss.py, configuration_gpt_oss.py and
modeling_rope_utils.py's _compute_yarn_parameters; Debian's torch ships without transformers), in float64:
  attention: q/k/v/o projections with biases; head_dim independent of hidden_size; GQA; YaRN RoPE (half-split,
             cos and sin times the attention factor); one learned sink logit per head joins each query's softmax
             (softmax over [scores, sink], the sink's column dropped); layer_types alternate sliding_attention
             (keys j > i - sliding_window) and full_attention.
  MoE:       router logits = h @ W.T + b; top-k of the logits; softmax over those k; experts in the fused layout
             gate_up = h @ gate_up_proj[e] + gate_up_proj_bias[e]; gate, up = gate_up[..., ::2], gate_up[..., 1::2];
             gate = gate.clamp(max=limit); up = up.clamp(-limit, limit); out = ((up + 1) * gate * sigmoid(alpha * gate))
             @ down_proj[e] + down_proj_bias[e].
  RMSNorm, untied lm_head.

Directories (each config.json + model.safetensors + reference.bin):
  gptoss-f32, gptoss-bf16   fused element-type experts (gate_up_proj (E, D, 2I), down_proj (E, I, D))
  gptoss-mxfp4              the released layout: experts as MXFP4 *_blocks (E, rows, cols/32, 16) U8, element 2j in the
                            low nibble of byte j, and *_scales (E, rows, cols/32) U8 E8M0 (value 2^(s-127) * e2m1), with
                            quantization_config {quant_method: mxfp4}; other tensors F32. The reference dequantizes the
                            experts exactly (convert_moe_packed_tensors) and, as llama.cpp's CPU backend does for MXFP4
                            weights (its vec_dot type is Q8_0), rounds each expert product's input to Q8_0 in float32
                            (quantize_row_q8_0: d = fp16(amax / 127), q = rint(x * 127 / amax)).

reference.bin (little endian), version 1: b"PZGF", int32 version, int32 count, then per record: int32 name length, UTF-8
name, int32 rank, int32 dims[rank], float32 data. Records: tokens (T), logits (T, V) of a teacher-forced prefill; for
layer 0 (a sliding layer) attn.x, attn.dout, attn.out = the attention sub-block f(x) (norm included, no residual),
attn.dx and attn.grad.<internal name>; the same as moe.* for its MoE sub-block. Internal names: self_attn.*,
input_layernorm.weight, post_attention_layernorm.weight, mlp.gate.weight / mlp.gate.bias (the router),
mlp.experts.E.{gate_proj,up_proj,down_proj}.{weight,bias} (gate_proj.weight (I, D) = gate_up_proj[E][:, 0::2].T).

Run with Debian's python3-torch:  /usr/bin/python3 make_gptoss_fixtures.py   (deterministic: seed 11)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_io import write_records, write_safetensors  # noqa: E402

torch.manual_seed(11)
torch.set_default_dtype(torch.float64)

D, H, KV, HD, L, V, T = 64, 4, 2, 12, 3, 96, 9
EXPERTS, TOPK, I = 4, 2, 32
EPS, THETA, WINDOW, LIMIT, ALPHA = 1e-5, 10000.0, 4, 0.8, 1.702
YARN = {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
        "original_max_position_embeddings": 4096}
LAYER_TYPES = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(L)]
HERE = os.path.dirname(os.path.abspath(__file__))
FP4_VALUES = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def rnd(*shape, scale=None):
    return torch.randn(*shape) * (scale if scale is not None else shape[-1] ** -0.5)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def yarn_inv_freq():
    """_compute_yarn_parameters, for head_dim HD, base THETA and YARN."""
    dim, base, factor = HD, THETA, YARN["factor"]
    attention_factor = 0.1 * math.log(factor) + 1.0

    def correction_dim(rot):
        return (dim * math.log(YARN["original_max_position_embeddings"] / (rot * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(YARN["beta_fast"]), correction_dim(YARN["beta_slow"])
    if YARN["truncate"]:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    extrapolation, interpolation = 1.0 / pos_freqs, 1.0 / (factor * pos_freqs)
    ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    extra_factor = 1 - ramp
    return interpolation * (1 - extra_factor) + extrapolation * extra_factor, attention_factor


def rope(x, heads):  # x: (n, heads*HD); HF _apply_rotary_emb on halves
    inv, scale = yarn_inv_freq()
    x = x.view(-1, heads, HD)
    n = x.shape[0]
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = (ang.cos() * scale)[:, None, :], (ang.sin() * scale)[:, None, :]
    a, b = x[..., :HD // 2], x[..., HD // 2:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], -1).reshape(n, heads * HD)


def attention(x, p, pre, sliding):
    h = rmsnorm(x, p[pre + "input_layernorm.weight"])
    def proj(name):
        return h @ p[pre + f"self_attn.{name}.weight"].T + p[pre + f"self_attn.{name}.bias"]
    q, k, v = proj("q_proj"), proj("k_proj"), proj("v_proj")
    n = x.shape[0]
    q, k = rope(q, H), rope(k, KV)
    q = q.view(n, H, HD).transpose(0, 1)
    k = k.view(n, KV, HD).transpose(0, 1).repeat_interleave(H // KV, dim=0)
    v = v.view(n, KV, HD).transpose(0, 1).repeat_interleave(H // KV, dim=0)
    s = q @ k.transpose(-1, -2) * HD ** -0.5
    i = torch.arange(n)
    allowed = i[None, :] <= i[:, None]
    if sliding:
        allowed = allowed & (i[None, :] > i[:, None] - WINDOW)
    s = s.masked_fill(~allowed, float("-inf"))
    sinks = p[pre + "self_attn.sinks"].reshape(H, 1, 1).expand(H, n, 1)
    combined = torch.cat([s, sinks], dim=-1)
    combined = combined - combined.max(dim=-1, keepdim=True).values
    probs = torch.softmax(combined, dim=-1)[..., :-1]
    o = (probs @ v).transpose(0, 1).reshape(n, H * HD)
    return o @ p[pre + "self_attn.o_proj.weight"].T + p[pre + "self_attn.o_proj.bias"]


def q8_0(x):
    """llama.cpp's quantize_row_q8_0 + dequantize, in float32, on rows of whole 32-value blocks."""
    y = x.to(torch.float32).reshape(-1, 32)
    amax = y.abs().max(dim=-1, keepdim=True).values
    d = (amax / 127).half().float()
    inv = torch.where(amax != 0, 127 / amax, torch.zeros_like(amax))
    return (torch.round(y * inv) * d).reshape(x.shape).to(torch.float64)


def moe(x, p, pre, rounds):
    h = rmsnorm(x, p[pre + "post_attention_layernorm.weight"])
    logits = h @ p[pre + "mlp.router.weight"].T + p[pre + "mlp.router.bias"]
    top, idx = torch.topk(logits, TOPK, dim=-1)
    top = torch.softmax(top, dim=1)
    scores = torch.zeros_like(logits).scatter(1, idx, top)
    gate_up_w, down_w = p[pre + "mlp.experts.gate_up_proj"], p[pre + "mlp.experts.down_proj"]
    out = torch.zeros_like(h)
    r = q8_0 if rounds else (lambda t: t)
    for e in range(EXPERTS):
        gate_up = r(h) @ gate_up_w[e] + p[pre + "mlp.experts.gate_up_proj_bias"][e]
        gate, up = gate_up[..., ::2], gate_up[..., 1::2]
        gate = gate.clamp(min=None, max=LIMIT)
        up = up.clamp(min=-LIMIT, max=LIMIT)
        glu = gate * torch.sigmoid(gate * ALPHA)
        y = r((up + 1) * glu) @ down_w[e] + p[pre + "mlp.experts.down_proj_bias"][e]
        out = out + scores[:, e:e + 1] * y
    return out


def params():
    p = {"model.embed_tokens.weight": rnd(V, D, scale=0.5), "model.norm.weight": 1 + 0.1 * torch.randn(D),
         "lm_head.weight": rnd(V, D)}
    for l in range(L):
        pre = f"model.layers.{l}."
        p[pre + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        p[pre + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        for n, rows in (("q_proj", H * HD), ("k_proj", KV * HD), ("v_proj", KV * HD)):
            p[pre + f"self_attn.{n}.weight"] = rnd(rows, D)
            p[pre + f"self_attn.{n}.bias"] = 0.1 * torch.randn(rows)
        p[pre + "self_attn.o_proj.weight"] = rnd(D, H * HD)
        p[pre + "self_attn.o_proj.bias"] = 0.1 * torch.randn(D)
        p[pre + "self_attn.sinks"] = torch.randn(H)
        p[pre + "mlp.router.weight"] = rnd(EXPERTS, D, scale=1.0)
        p[pre + "mlp.router.bias"] = 0.5 * torch.randn(EXPERTS)
        p[pre + "mlp.experts.gate_up_proj"] = rnd(EXPERTS, D, 2 * I, scale=D ** -0.5)
        p[pre + "mlp.experts.gate_up_proj_bias"] = 0.1 * torch.randn(EXPERTS, 2 * I)
        p[pre + "mlp.experts.down_proj"] = rnd(EXPERTS, I, D, scale=I ** -0.5)
        p[pre + "mlp.experts.down_proj_bias"] = 0.1 * torch.randn(EXPERTS, D)
    return p


def mxfp4(p):
    """Replaces the expert matrices by MXFP4-representable ones; returns their blocks and scales (HF's released layout)."""
    raw = {}
    lut = torch.tensor(FP4_VALUES)
    for l in range(L):
        pre = f"model.layers.{l}.mlp.experts."
        for name, rows, cols in (("gate_up_proj", 2 * I, D), ("down_proj", D, I)):
            codes = torch.randint(0, 16, (EXPERTS, rows, cols // 32, 32))
            scales = torch.randint(127 - 5, 127 - 2, (EXPERTS, rows, cols // 32))
            values = lut[codes] * torch.pow(2.0, (scales - 127).to(torch.float64))[..., None]
            # convert_moe_packed_tensors: (E, rows, cols) then transposed to the parameter's (E, cols, rows)
            p[pre + name] = values.reshape(EXPERTS, rows, cols).transpose(1, 2).contiguous()
            blocks = (codes[..., 0::2] | (codes[..., 1::2] << 4)).to(torch.uint8)
            raw[pre + name + "_blocks"] = blocks
            raw[pre + name + "_scales"] = scales.to(torch.uint8)
    return raw


def logits(p, tokens, rounds=False):
    x = p["model.embed_tokens.weight"][tokens]
    for l in range(L):
        pre = f"model.layers.{l}."
        x = x + attention(x, p, pre, LAYER_TYPES[l] == "sliding_attention")
        x = x + moe(x, p, pre, rounds)
    return rmsnorm(x, p["model.norm.weight"]) @ p["lm_head.weight"].T


def internal_grads(pre, leaves):
    """The gradients of the fused gpt-oss tensors, under the internal per-expert names."""
    g = {}
    for n, t in leaves.items():
        short = n[len(pre):]
        if short == "mlp.router.weight":
            g["mlp.gate.weight"] = t.grad
        elif short == "mlp.router.bias":
            g["mlp.gate.bias"] = t.grad
        elif short == "mlp.experts.gate_up_proj":
            for e in range(EXPERTS):
                g[f"mlp.experts.{e}.gate_proj.weight"] = t.grad[e][:, 0::2].T
                g[f"mlp.experts.{e}.up_proj.weight"] = t.grad[e][:, 1::2].T
        elif short == "mlp.experts.gate_up_proj_bias":
            for e in range(EXPERTS):
                g[f"mlp.experts.{e}.gate_proj.bias"] = t.grad[e][0::2]
                g[f"mlp.experts.{e}.up_proj.bias"] = t.grad[e][1::2]
        elif short == "mlp.experts.down_proj":
            for e in range(EXPERTS):
                g[f"mlp.experts.{e}.down_proj.weight"] = t.grad[e].T
        elif short == "mlp.experts.down_proj_bias":
            for e in range(EXPERTS):
                g[f"mlp.experts.{e}.down_proj.bias"] = t.grad[e]
        else:
            g[short] = t.grad
    return g


def block_records(p, kind):
    pre = "model.layers.0."
    if kind == "attn":
        names = [n for n in p if n.startswith(pre) and (".self_attn." in n or "input_layernorm" in n)]
    else:
        names = [n for n in p if n.startswith(pre) and (".mlp." in n or "post_attention_layernorm" in n)]
    leaves = {n: p[n].clone().requires_grad_(True) for n in names}
    q = dict(p)
    q.update(leaves)
    x = torch.randn(T, D, requires_grad=True)
    dout = torch.randn(T, D)
    out = attention(x, q, pre, True) if kind == "attn" else moe(x, q, pre, False)
    out.backward(dout)
    rec = {f"{kind}.x": x.detach(), f"{kind}.dout": dout, f"{kind}.out": out.detach(), f"{kind}.dx": x.grad}
    for n, t in internal_grads(pre, leaves).items():
        rec[f"{kind}.grad.{n}"] = t
    return rec


def config(quantized):
    c = {"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": D, "num_hidden_layers": L,
         "num_attention_heads": H, "num_key_value_heads": KV, "head_dim": HD, "vocab_size": V,
         "max_position_embeddings": 4096 * 32, "rms_norm_eps": EPS, "rope_theta": THETA, "rope_scaling": YARN,
         "tie_word_embeddings": False, "hidden_act": "silu", "num_local_experts": EXPERTS, "num_experts_per_tok": TOPK,
         "intermediate_size": I, "sliding_window": WINDOW, "layer_types": LAYER_TYPES, "attention_bias": True,
         "swiglu_limit": LIMIT, "attention_dropout": 0.0, "router_aux_loss_coef": 0.9, "output_router_logits": False}
    if quantized:
        c["quantization_config"] = {"quant_method": "mxfp4", "modules_to_not_convert": [
            "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}
    return c


def write_dir(name, cfg, tensors, dtype, rec, raw=None):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype, raw)
    write_records(os.path.join(d, "reference.bin"), rec)


tokens = torch.tensor([1, 5, 17, 3, 33, 8, 21, 2, 39])
base = params()
for dtype in ("F32", "BF16"):
    p = {n: (t.to(torch.bfloat16).to(torch.float64) if dtype == "BF16" else t) for n, t in base.items()}
    rec = {"tokens": tokens.to(torch.float64), "logits": logits(p, tokens)}
    rec.update(block_records(p, "attn"))
    rec.update(block_records(p, "moe"))
    write_dir(f"gptoss-{dtype.lower()}", config(False), p, dtype, rec)
p = dict(base)
raw = mxfp4(p)
dense = {n: t for n, t in p.items() if not n.endswith("experts.gate_up_proj") and not n.endswith("experts.down_proj")}
write_dir("gptoss-mxfp4", config(True), dense, "F32", {"tokens": tokens.to(torch.float64), "logits": logits(p, tokens, rounds=True)}, raw)
print("wrote", sorted(os.listdir(HERE)))
