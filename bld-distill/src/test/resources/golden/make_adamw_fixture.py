#!/usr/bin/env python3
"""Writes adamw_fixture.json: three steps of PyTorch's own torch.optim.AdamW on two parameters
(a matrix, weight-decayed, and a vector, not decayed, as the BLD trainer groups them), with fixed
gradients and a changing learning rate. AdamWTest replays them with the toolkit's AdamW.
Run: python3 make_adamw_fixture.py  (Debian's python3-torch, 1.13)."""
import json
import torch

torch.manual_seed(7)
w = torch.randn(3, 4, dtype=torch.float32, requires_grad=True)
b = torch.randn(4, dtype=torch.float32, requires_grad=True)
init = {"w": w.detach().flatten().tolist(), "b": b.detach().flatten().tolist()}
opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                        lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
steps = []
for lr in [1e-2, 5e-3, 2e-3]:
    gw = torch.randn(3, 4)
    gb = torch.randn(4)
    w.grad = gw.clone()
    b.grad = gb.clone()
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
    steps.append({"lr": lr, "grad_w": gw.flatten().tolist(), "grad_b": gb.flatten().tolist(),
                  "w": w.detach().flatten().tolist(), "b": b.detach().flatten().tolist()})
with open("adamw_fixture.json", "w") as f:
    json.dump({"torch": torch.__version__, "betas": [0.9, 0.95], "weight_decay": 0.1, "init": init, "steps": steps}, f, indent=1)
