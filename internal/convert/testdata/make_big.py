#!/usr/bin/python3
"""Write the 2 GB checkpoint of the conversion benchmark (not committed):

    /usr/bin/python3 internal/convert/testdata/make_big.py /tmp

makes /tmp/convert_big.pt (torch.save, zip format): 64 float32 weights of
4096x2048 (32 MiB each) and their biases, as a large model's state dict
looks, and /tmp/convert_big_t.pt, the same with every weight saved
transposed (a strided view the converter must gather).
"""
import sys

import torch

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
sd = {}
for i in range(64):
    sd[f"layers.{i}.weight"] = torch.full((4096, 2048), float(i), dtype=torch.float32)
    sd[f"layers.{i}.bias"] = torch.arange(2048, dtype=torch.float32)
torch.save(sd, f"{out}/convert_big.pt")
for i in range(64):
    sd[f"layers.{i}.weight"] = sd[f"layers.{i}.weight"].t()
torch.save(sd, f"{out}/convert_big_t.pt")
