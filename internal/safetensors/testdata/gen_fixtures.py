#!/usr/bin/python3
"""Writes safetensors fixtures from real torch tensors (Debian's python3-torch).

The safetensors Python package is not in Debian, so this is a small writer
that follows the reference implementation's layout: tensors ordered by
descending dtype alignment (the order of its Dtype enum) then by name,
compact JSON with "__metadata__" first (keys sorted here), UTF-8 left as is,
the header padded with spaces to a multiple of 8 bytes. The Go tests read
these files and re-write them with the Go writer, which must give the same
bytes.

Run: /usr/bin/python3 gen_fixtures.py   (from this folder)
"""
import json
import struct

import torch

RANK = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
        "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16",
        "I32", "U32", "F32", "C64", "F64", "I64", "U64"]

DTYPES = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
    torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32",
    torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
    torch.complex64: "C64",
}


def raw(t):
    t = t.contiguous().reshape(-1)
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    if t.dtype == torch.complex64:
        t = torch.view_as_real(t).reshape(-1)
    return t.numpy().tobytes()


def save(path, tensors, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-RANK.index(DTYPES[kv[1].dtype]), kv[0]))
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(sorted(metadata.items()))
    blobs, off = [], 0
    for name, t in items:
        b = raw(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


torch.manual_seed(0)
save("torch_mixed.safetensors", {
    "model.embed_tokens.weight": torch.randn(16, 8),
    "model.layers.0.attn.q_proj.weight": torch.randn(8, 8).to(torch.bfloat16),
    "model.layers.0.mlp.up.weight": torch.randn(8, 4).to(torch.float16),
    "model.norm.weight": torch.ones(8, dtype=torch.float64),
    "position_ids": torch.arange(12).reshape(1, 12),
    "mask": torch.tensor([[True, False, True]]),
    "quant.zeros": torch.zeros(5, dtype=torch.uint8),
    "quant.scales": torch.tensor([-3, 7], dtype=torch.int8),
    "counts": torch.tensor([1, 2, 3], dtype=torch.int16),
    "ids32": torch.tensor([9, 10], dtype=torch.int32),
    "freqs": torch.randn(3).to(torch.complex64),
    "scalar": torch.tensor(2.5),
    "empty": torch.zeros(0, 4),
    "emb.wörter": torch.randn(2),
}, metadata={"format": "pt", "note": "tabs\tand \"quotes\" and ünïcode"})
save("torch_nometa.safetensors", {"w": torch.randn(3, 2)})
save("torch_empty.safetensors", {}, metadata={"format": "pt"})
