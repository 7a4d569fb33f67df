"""PyTorch's side of bench/mamba2.sh: the Mamba-2 mixer block of the published definition (HF NemotronHMamba2Mixer's naive
path: in_proj, causal depthwise conv + SiLU, the recurrence step by step, gated group RMSNorm, out_proj; pre-norm), FP32, on
the shapes of Mamba2Bench: one decode step against its state after a prompt of 64, and a training step's forward and
backward (normalized MSE) over 4 x 256 tokens. Prints "decode MS" and "train MS", medians.   Usage: mamba2_torch.py THREADS
"""
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(1)
D, H, P, N, G, K, S, T, EPS = 512, 8, 64, 64, 2, 4, 4, 256, 1e-5
I, C = H * P, H * P + 2 * G * N
p = {
    "norm": torch.ones(D), "in": torch.randn(I + C + H, D) / D ** 0.5, "conv": torch.randn(C, K) / K ** 0.5, "conv_b": torch.zeros(C),
    "dt_bias": torch.full((H,), -3.0), "A_log": torch.log(torch.arange(1, H + 1, dtype=torch.float32)), "D": torch.ones(H),
    "gnorm": torch.ones(I), "out": torch.randn(D, I) / I ** 0.5,
}
leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def tail(y, z, w):
    g = (y * F.silu(z)).reshape(*y.shape[:-1], G, I // G)
    g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + EPS)
    return (g.reshape(*y.shape) * w["gnorm"]) @ w["out"].T


def block(x, w):  # x: (S, T, D)
    z, xbc, dt = (rms(x, w["norm"]) @ w["in"].T).split([I, C, H], -1)
    t = x.shape[1]
    a = F.silu(F.conv1d(xbc.transpose(1, 2), w["conv"][:, None, :], w["conv_b"], padding=K - 1, groups=C)[..., :t].transpose(1, 2))
    xs, b, c = a.split([I, G * N, G * N], -1)
    xs = xs.reshape(x.shape[0], t, H, P)
    b = b.reshape(x.shape[0], t, G, N).repeat_interleave(H // G, dim=2)
    c = c.reshape(x.shape[0], t, G, N).repeat_interleave(H // G, dim=2)
    dt = F.softplus(dt + w["dt_bias"])
    A = -torch.exp(w["A_log"])
    s = torch.zeros(x.shape[0], H, P, N)
    ys = []
    for i in range(t):
        s = torch.exp(dt[:, i] * A)[..., None, None] * s + dt[:, i][..., None, None] * xs[:, i][..., None] * b[:, i][:, :, None, :]
        ys.append((s * c[:, i][:, :, None, :]).sum(-1) + w["D"][:, None] * xs[:, i])
    return tail(torch.stack(ys, 1).reshape(x.shape[0], t, I), z, w)


def step(x, w, window, s):  # one token x (D,), window (K-1, C), s (H, P, N): returns f(x), updates window and s
    z, xbc, dt = (rms(x, w["norm"]) @ w["in"].T).split([I, C, H], -1)
    inp = torch.cat([window, xbc[None]], 0)
    window.copy_(inp[1:])
    a = F.silu((inp.T * w["conv"]).sum(-1) + w["conv_b"])
    xs, b, c = a.split([I, G * N, G * N], -1)
    xs = xs.reshape(H, P)
    b = b.reshape(G, N).repeat_interleave(H // G, 0)
    c = c.reshape(G, N).repeat_interleave(H // G, 0)
    dt = F.softplus(dt + w["dt_bias"])
    s.mul_(torch.exp(dt * -torch.exp(w["A_log"]))[:, None, None]).add_(dt[:, None, None] * xs[:, :, None] * b[:, None, :])
    y = (s * c[:, None, :]).sum(-1) + w["D"][:, None] * xs
    return tail(y.reshape(I), z, w)


x, y = torch.randn(S, T, D), torch.randn(S, T, D) * 0.1
with torch.no_grad():
    window, s = torch.zeros(K - 1, C), torch.zeros(H, P, N)
    for i in range(64):
        step(x[0, i], p, window, s)
    dec = []
    for i in range(250):
        t0 = time.perf_counter()
        step(x[0, (64 + i) % T], p, window, s)
        if i >= 50:
            dec.append((time.perf_counter() - t0) * 1e3)
train = []
for i in range(5):
    t0 = time.perf_counter()
    for v in leaves.values():
        v.grad = None
    out = block(x, leaves)
    loss = ((out - y) ** 2).mean() / (y ** 2).mean()
    loss.backward()
    if i >= 1:
        train.append((time.perf_counter() - t0) * 1e3)
dec.sort()
train.sort()
print(f"decode {dec[len(dec) // 2]:.4f}")
print(f"train {train[len(train) // 2]:.2f}")
