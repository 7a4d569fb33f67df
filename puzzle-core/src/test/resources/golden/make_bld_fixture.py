"""Writes bld_fixture.bin: inputs, outputs and autograd gradients of a small heterogeneous Llama
(HF conventions: half-split RoPE, GQA via repeat_interleave, q/k/v bias, RMSNorm, SwiGLU), computed
by PyTorch. puzzle-core's GoldenBackwardTest compares its own forward/backward against it.

Run with Debian's python3-torch:  python3 make_bld_fixture.py   (deterministic: seed 1234)

Format (little endian), version 1: b"PZGF", int32 version, int32 count, then per record:
int32 name length, UTF-8 name, int32 rank, int32 dims[rank], float32 data (row major).
"""
import struct

import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)  # the reference in double; stored as float32

D, H, E, G, F, V = 16, 4, 4, 2, 24, 11
S, T = 2, 5
EPS, THETA = 1e-5, 10000.0
records = {}


def put(name, t):
    records[name] = t.detach().to(torch.float32).contiguous()


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rope(x, heads):  # x: (S, T, heads*E), HF rotate_half
    x = x.view(S, T, heads, E)
    inv = 1.0 / THETA ** (torch.arange(0, E, 2, dtype=torch.float64) / E)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]  # (T, E/2)
    cos = torch.cat([ang.cos(), ang.cos()], -1)[None, :, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[None, :, None, :]
    rot = torch.cat([-x[..., E // 2:], x[..., :E // 2]], -1)
    return (x * cos + rot * sin).view(S, T, heads * E)


def attention(x, p, prefix, kv, window):
    h = rmsnorm(x, p[prefix + "input_layernorm.weight"])
    q = h @ p[prefix + "self_attn.q_proj.weight"].T + p[prefix + "self_attn.q_proj.bias"]
    k = h @ p[prefix + "self_attn.k_proj.weight"].T + p[prefix + "self_attn.k_proj.bias"]
    v = h @ p[prefix + "self_attn.v_proj.weight"].T + p[prefix + "self_attn.v_proj.bias"]
    q, k = rope(q, H), rope(k, kv)
    q = q.view(S, T, H, E).transpose(1, 2)
    k = k.view(S, T, kv, E).transpose(1, 2).repeat_interleave(H // kv, dim=1)
    v = v.view(S, T, kv, E).transpose(1, 2).repeat_interleave(H // kv, dim=1)
    scores = q @ k.transpose(-1, -2) / E ** 0.5
    i = torch.arange(T)
    allowed = (i[None, :] <= i[:, None])
    if window:
        allowed &= (i[None, :] > i[:, None] - window)
    scores = scores.masked_fill(~allowed, float("-inf"))
    o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(S, T, H * E)
    return o @ p[prefix + "self_attn.o_proj.weight"].T


def ffn(x, p, prefix):
    h = rmsnorm(x, p[prefix + "post_attention_layernorm.weight"])
    a = h @ p[prefix + "mlp.gate_proj.weight"].T
    b = h @ p[prefix + "mlp.up_proj.weight"].T
    return (torch.nn.functional.silu(a) * b) @ p[prefix + "mlp.down_proj.weight"].T


def linear(x, p, norm, w):
    return rmsnorm(x, p[norm]) @ p[w].T


def param(name, *shape, scale=None, norm=False):
    t = 1 + 0.1 * torch.randn(*shape) if norm else torch.randn(*shape) * (scale if scale else shape[-1] ** -0.5)
    t = t.to(torch.float32).to(torch.float64).requires_grad_(True)  # exactly representable in float32
    return name, t


# The mini-model: layer 0 GQA(2) + SwiGLU, layer 1 window-3 GQA(1) + linear FFN, layer 2 linear attention + no FFN.
p = dict([param("model.embed_tokens.weight", V, D, scale=0.5), param("model.norm.weight", D, norm=True),
          param("lm_head.weight", V, D)])
for layer, kv in ((0, 2), (1, 1)):
    pre = f"model.layers.{layer}."
    p.update(dict([param(pre + "input_layernorm.weight", D, norm=True),
                   param(pre + "self_attn.q_proj.weight", H * E, D), param(pre + "self_attn.q_proj.bias", H * E, scale=0.1),
                   param(pre + "self_attn.k_proj.weight", kv * E, D), param(pre + "self_attn.k_proj.bias", kv * E, scale=0.1),
                   param(pre + "self_attn.v_proj.weight", kv * E, D), param(pre + "self_attn.v_proj.bias", kv * E, scale=0.1),
                   param(pre + "self_attn.o_proj.weight", D, H * E),
                   param(pre + "post_attention_layernorm.weight", D, norm=True)]))
p.update(dict([param("model.layers.0.mlp.gate_proj.weight", F, D), param("model.layers.0.mlp.up_proj.weight", F, D),
               param("model.layers.0.mlp.down_proj.weight", D, F),
               param("model.layers.1.mlp.linear_mlp.weight", D, D),
               param("model.layers.2.input_layernorm.weight", D, norm=True),
               param("model.layers.2.self_attn.linear_attn.weight", D, D)]))
tokens = torch.randint(0, V, (S, T + 1))
for name, t in p.items():
    put("param." + name, t)
put("tokens", tokens.to(torch.float64))

# Each sub-block alone: out = f(x), loss = Σ out ⊙ R; gradients of x and of its parameters.
blocks = {
    "attn0": lambda x: attention(x, p, "model.layers.0.", 2, 0),
    "attn1": lambda x: attention(x, p, "model.layers.1.", 1, 3),
    "ffn0": lambda x: ffn(x, p, "model.layers.0."),
    "ffn1": lambda x: linear(x, p, "model.layers.1.post_attention_layernorm.weight", "model.layers.1.mlp.linear_mlp.weight"),
    "attn2": lambda x: linear(x, p, "model.layers.2.input_layernorm.weight", "model.layers.2.self_attn.linear_attn.weight"),
}
for name, f in blocks.items():
    x = torch.randn(S, T, D).to(torch.float32).to(torch.float64).requires_grad_(True)
    r = torch.randn(S, T, D).to(torch.float32).to(torch.float64)
    for t in p.values():
        t.grad = None
    out = f(x)
    (out * r).sum().backward()
    put(name + ".x", x)
    put(name + ".r", r)
    put(name + ".out", out)
    put(name + ".dx", x.grad)
    for pn, t in p.items():
        if t.grad is not None:
            put(name + ".grad." + pn, t.grad)

# The whole model: mean next-token cross-entropy over S × T predictions.
for t in p.values():
    t.grad = None
x = p["model.embed_tokens.weight"][tokens[:, :T]]
x = x + blocks["attn0"](x)
x = x + blocks["ffn0"](x)
x = x + blocks["attn1"](x)
x = x + blocks["ffn1"](x)
x = x + blocks["attn2"](x)
logits = rmsnorm(x, p["model.norm.weight"]) @ p["lm_head.weight"].T
loss = torch.nn.functional.cross_entropy(logits.reshape(S * T, V), tokens[:, 1:].reshape(S * T))
loss.backward()
put("model.logits", logits)
put("model.loss", loss.reshape(1))
for pn, t in p.items():
    put("model.grad." + pn, t.grad)

with open("bld_fixture.bin", "wb") as f:
    f.write(b"PZGF")
    f.write(struct.pack("<ii", 1, len(records)))
    for name, t in records.items():
        nb = name.encode()
        f.write(struct.pack("<i", len(nb)))
        f.write(nb)
        f.write(struct.pack("<i", t.dim()))
        f.write(struct.pack("<%di" % t.dim(), *t.shape))
        f.write(t.numpy().astype("<f4").tobytes())
print(len(records), "records, loss", loss.item())
