"""The files the golden fixture scripts write: safetensors (F32, BF16 or U8 tensors) and PZGF reference records.

reference.bin (little endian), version 1: b"PZGF", int32 version, int32 count, then per record: int32 name length, UTF-8
name, int32 rank, int32 dims[rank], float32 data.
"""
import json
import struct

import torch


def write_safetensors(path, tensors, dtype="F32", raw=None):
    """tensors in dtype (F32 or BF16), then raw ones as U8 (gpt-oss's MXFP4 blocks and scales)."""
    header, blobs, off = {}, [], 0
    items = [(n, t, dtype) for n, t in tensors.items()] + [(n, t, "U8") for n, t in (raw or {}).items()]
    for name, t, dt in items:
        if dt == "BF16":
            data = t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
        elif dt == "U8":
            data = t.contiguous().numpy().tobytes()
        else:
            data = t.to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_records(path, rec):
    with open(path, "wb") as f:
        f.write(b"PZGF")
        f.write(struct.pack("<ii", 1, len(rec)))
        for name, t in rec.items():
            t = t.detach().to(torch.float32).contiguous()
            nb = name.encode()
            f.write(struct.pack("<i", len(nb)) + nb + struct.pack("<i", t.dim()))
            f.write(struct.pack(f"<{t.dim()}i", *t.shape))
            f.write(t.numpy().tobytes())


def mamba2_naive(h, in_proj, conv_w, conv_b, dt_bias, a_log, d_skip, norm_w, out_proj, heads, head_dim, state, groups, conv, eps):
    """The Mamba-2 mixer of the published definition (transformers' NemotronHMamba2Mixer / Mamba2Mixer, its naive path),
    the recurrence step by step, on normed input h (T, D); conv_w is (C, 1, K) as PyTorch's depthwise conv1d takes it.
      z, xBC, dt = in_proj(h).split([I, C, H]);  I = H*P, C = I + 2*G*N
      xBC = silu(conv1d(xBC))      depthwise (groups=C), kernel K, padding K-1, the first T outputs (causal), with bias
      x, B, C = xBC.split([I, G*N, G*N]);  head h reads group h // (H/G)
      dt = softplus(dt + dt_bias);  A = -exp(A_log)
      S_t = exp(dt_t*A) * S_{t-1} + dt_t * x_t (outer) B_t;   y_t = S_t . C_t + D * x_t
      g = y * silu(z);  n = weight * g / sqrt(mean(g^2 over each of G groups of I/G) + eps)   (norm after gate)
      f = out_proj(n)
    """
    import torch.nn.functional as F
    inner, chans = heads * head_dim, heads * head_dim + 2 * groups * state
    n = h.shape[0]
    z, xbc, dt = (h @ in_proj.T).split([inner, chans, heads], -1)
    u = F.conv1d(xbc.T[None], conv_w, conv_b, padding=conv - 1, groups=chans)[0, :, :n].T
    a = F.silu(u)
    xs, b, c = a.split([inner, groups * state, groups * state], -1)
    xs = xs.reshape(n, heads, head_dim)
    b = b.reshape(n, groups, state).repeat_interleave(heads // groups, dim=1)
    c = c.reshape(n, groups, state).repeat_interleave(heads // groups, dim=1)
    dt = F.softplus(dt + dt_bias)
    A = -torch.exp(a_log)
    s = torch.zeros(heads, head_dim, state)
    ys = []
    for t in range(n):
        s = torch.exp(dt[t] * A)[:, None, None] * s + dt[t][:, None, None] * xs[t][:, :, None] * b[t][:, None, :]
        ys.append((s * c[t][:, None, :]).sum(-1) + d_skip[:, None] * xs[t])
    y = torch.stack(ys).reshape(n, inner)
    g = (y * F.silu(z)).reshape(n, groups, inner // groups)
    g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + eps)
    return (g.reshape(n, inner) * norm_w) @ out_proj.T
