"""Writes a Mamba-2 mixer block (pre-norm, in a decoder layer's attention place) with PyTorch reference outputs and
gradients, for puzzle-core's Mamba2OpTest.

Written from the published definition (transformers' NemotronHMamba2Mixer / Mamba2Mixer, its naive path; Debian's
torch ships without transformers), in float64, the recurrence step by step:
  h = rmsnorm(x) (input_layernorm)
  z, xBC, dt = in_proj(h).split([I, C, H]);  I = H*P, C = I + 2*G*N
  xBC = silu(conv1d(xBC))      depthwise (groups=C), kernel K, padding K-1, the first T outputs (causal), with bias
  x, B, C = xBC.split([I, G*N, G*N]);  head h reads group h // (H/G)
  dt = softplus(dt + dt_bias);  A = -exp(A_log)
  S_t = exp(dt_t*A) * S_{t-1} + dt_t * x_t (outer) B_t;   y_t = S_t . C_t + D * x_t
  g = y * silu(z);  n = weight * g / sqrt(mean(g^2 over each of G groups of I/G) + eps)   (Zamba2RMSNormGated, norm after gate)
  f = out_proj(n)
Files: model.safetensors (the block's tensors, internal names under model.layers.0.self_attn.*, conv1d.weight as (C, K))
and reference.bin (PZGF v1, as golden/moe): mamba.x (T, D), mamba.dout, mamba.out = f(x), mamba.dx, mamba.grad.<name>.
Run: /usr/bin/python3 make_mamba2_fixture.py   (deterministic: seed 5)
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_io import mamba2_naive, write_records, write_safetensors  # noqa: E402

torch.manual_seed(5)
torch.set_default_dtype(torch.float64)
D, H, P, N, G, K, T, EPS = 16, 4, 4, 8, 2, 4, 11, 1e-5
I, C = H * P, H * P + 2 * G * N
HERE = os.path.dirname(os.path.abspath(__file__))


def params():
    dt = torch.exp(math.log(0.01) + torch.rand(H) * (math.log(0.5) - math.log(0.01)))
    return {
        "input_layernorm.weight": 1 + 0.1 * torch.randn(D),
        "self_attn.in_proj.weight": torch.randn(I + C + H, D) / D ** 0.5,
        "self_attn.conv1d.weight": torch.randn(C, K) / K ** 0.5,
        "self_attn.conv1d.bias": 0.1 * torch.randn(C),
        "self_attn.dt_bias": dt + torch.log(-torch.expm1(-dt)),
        "self_attn.A_log": torch.log(torch.rand(H) * 8 + 1),
        "self_attn.D": 1 + 0.1 * torch.randn(H),
        "self_attn.norm.weight": 1 + 0.1 * torch.randn(I),
        "self_attn.out_proj.weight": torch.randn(D, I) / I ** 0.5,
    }


def block(x, p):
    h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * p["input_layernorm.weight"]
    return mamba2_naive(h, p["self_attn.in_proj.weight"], p["self_attn.conv1d.weight"][:, None, :], p["self_attn.conv1d.bias"],
                        p["self_attn.dt_bias"], p["self_attn.A_log"], p["self_attn.D"], p["self_attn.norm.weight"],
                        p["self_attn.out_proj.weight"], H, P, N, G, K, EPS)


p = params()
leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
x = torch.randn(T, D, requires_grad=True)
dout = torch.randn(T, D)
out = block(x, leaves)
out.backward(dout)
rec = {"mamba.x": x.detach(), "mamba.dout": dout, "mamba.out": out.detach(), "mamba.dx": x.grad}
for k, v in leaves.items():
    rec["mamba.grad." + k] = v.grad
write_safetensors(os.path.join(HERE, "model.safetensors"), {"model.layers.0." + k: v for k, v in p.items()})
write_records(os.path.join(HERE, "reference.bin"), rec)
print("wrote", sorted(os.listdir(HERE)))
