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
