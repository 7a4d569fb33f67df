"""Peer side of bench/train_step.sh: one BLD training step (forward, normalized MSE, backward, clip, AdamW) in
PyTorch on the shapes of TrainStepBench, median of 12 timed steps after a warm-up of at least 3 steps and 2 s, in ms. Its blocks are also the
peer of bench/gpu.sh (gpu_torch.py imports them)."""
import sys
import time

import torch


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


class Ffn(torch.nn.Module):
    def __init__(self, D, F):
        super().__init__()
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.w1 = torch.nn.Linear(D, F, bias=False)
        self.w3 = torch.nn.Linear(D, F, bias=False)
        self.w2 = torch.nn.Linear(F, D, bias=False)

    def forward(self, x):
        h = rmsnorm(x, self.norm)
        return self.w2(torch.nn.functional.silu(self.w1(h)) * self.w3(h))


class Attention(torch.nn.Module):
    def __init__(self, S, T, D, H, G, E):
        super().__init__()
        self.S, self.T, self.H, self.G, self.E = S, T, H, G, E
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.q = torch.nn.Linear(D, H * E, bias=False)
        self.k = torch.nn.Linear(D, G * E, bias=False)
        self.v = torch.nn.Linear(D, G * E, bias=False)
        self.o = torch.nn.Linear(H * E, D, bias=False)
        inv = 1.0 / 10000 ** (torch.arange(0, E, 2).float() / E)
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1)[None, None])
        self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1)[None, None])
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1))

    def rope(self, x):
        E = self.E
        rot = torch.cat([-x[..., E // 2:], x[..., :E // 2]], -1)
        return x * self.cos + rot * self.sin

    def forward(self, x):
        S, T, H, G, E = self.S, self.T, self.H, self.G, self.E
        h = rmsnorm(x, self.norm)
        q = self.rope(self.q(h).view(S, T, H, E).transpose(1, 2))
        k = self.rope(self.k(h).view(S, T, G, E).transpose(1, 2)).repeat_interleave(H // G, 1)
        v = self.v(h).view(S, T, G, E).transpose(1, 2).repeat_interleave(H // G, 1)
        scores = (q @ k.transpose(-1, -2)) / E ** 0.5
        scores = scores.masked_fill(self.mask, float("-inf"))
        o = scores.softmax(-1) @ v
        return self.o(o.transpose(1, 2).reshape(S, T, H * E))


def main():
    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(1)
    S, T, D, H, G, E, F = 8, 256, 512, 8, 2, 64, 1536
    for name, m in (("ffn", Ffn(D, F)), ("attention", Attention(S, T, D, H, G, E))):
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
        x, y = torch.randn(S, T, D), 0.1 * torch.randn(S, T, D)
        def step():
            opt.zero_grad()
            out = m(x)
            loss = (out - y).pow(2).sum() / y.pow(2).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
        # As TrainStepBench: warm-up of at least 3 steps and 2 s, then 12 timed steps.
        start, warm = time.perf_counter(), 0
        while warm < 3 or time.perf_counter() - start < 2.0:
            step()
            warm += 1
        times = []
        for i in range(12):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        print(name, "%.2f" % times[len(times) // 2])


if __name__ == "__main__":
    main()
