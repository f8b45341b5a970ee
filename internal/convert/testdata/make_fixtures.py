#!/usr/bin/python3
"""Write the round-trip fixtures of internal/convert (committed, small):

    cd internal/convert/testdata && /usr/bin/python3 make_fixtures.py

Every checkpoint is written by Debian's python3-torch (1.13) and loaded
back with torch.load; expected.json records, per fixture, what the
conversion must produce: for each tensor name its safetensors dtype, shape
and the sha256 of the tensor's contiguous bytes as torch.load gives them,
the names dropped as aliases of another tensor, and the entries skipped as
not tensors. Tests compare the converter's output with this file, so they
need no Python.

Two fixtures are not plain torch.save output:
- from_type_v2.pt pickles tensors as torch 2.x does when a tensor carries
  Python attributes (torch._tensor._rebuild_from_type_v2 around
  _rebuild_tensor_v2), through torch.save's pickle_module hook; torch 1.13
  loads it, so its expectations still come from torch.load.
- v3_synthetic.pt holds the dtypes torch 1.13 lacks (float8, uint16/32/64)
  as torch 2.x writes them: _rebuild_tensor_v3 over a torch.UntypedStorage
  with the dtype as an argument. torch 1.13 cannot load it; its
  expectations are computed from the bytes the script wrote.

Nothing here loads anything but the files this script itself wrote.
"""
import collections
import hashlib
import io
import json
import math
import os
import pickle
import shutil
import struct
import sys
import types
import zipfile

import torch

torch.manual_seed(7)
OUT = os.path.dirname(os.path.abspath(__file__))

ST_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64",
}


def raw(t):
    """The contiguous bytes of t, as torch.load gives it."""
    c = t.detach().contiguous()
    if c.numel() == 0:
        return b""
    return c.reshape(-1).view(torch.uint8).numpy().tobytes()


def describe(t):
    return {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "sha256": hashlib.sha256(raw(t)).hexdigest()}


def flatten(d, prefix=""):
    """Flatten nested dicts with "." as the converter does."""
    out, skipped = {}, []
    for k, v in d.items():
        name = prefix + k
        if isinstance(v, torch.Tensor):
            out[name] = v
        elif isinstance(v, dict):
            o, s = flatten(v, name + ".")
            out.update(o)
            skipped += s
        else:
            skipped.append(name)
    return out, skipped


def aliases(tensors):
    """Tensors that are the same view of the same storage: the
    lexicographically first name is kept, the others dropped (the hub's
    converter keeps sorted(names)[0] too)."""
    groups = collections.defaultdict(list)
    for name, t in tensors.items():
        if t.numel() == 0:
            continue
        key = (t.storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        groups[key].append(name)
    out = {}
    for names in groups.values():
        names.sort()
        for n in names[1:]:
            out[n] = names[0]
    return out


def expect(path, key=None, note=""):
    """Load path with torch.load and record what converting it must give."""
    obj = torch.load(os.path.join(OUT, path), map_location="cpu")
    top = obj
    if key is not None:
        obj = obj[key]
    tensors, skipped = flatten(obj)
    if key is not None:
        skipped += [k for k in top if k != key]
    al = aliases(tensors)
    entry = {
        "tensors": {n: describe(t) for n, t in sorted(tensors.items()) if n not in al},
        "aliases": al,
        "skipped": sorted(skipped),
    }
    if note:
        entry["note"] = note
    return entry


EXPECTED = {}


def save(name, obj, legacy=False, key=None, note="", **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, **kw)
    EXPECTED[name] = expect(name, key=key, note=note)
    if key is not None:
        EXPECTED[name]["key"] = key


def dtypes_sd():
    sd = collections.OrderedDict()
    f = torch.randn(3, 4)
    f[0, 0], f[0, 1], f[0, 2], f[0, 3] = float("nan"), float("inf"), float("-inf"), -0.0
    sd["f32"] = f
    sd["f64"] = torch.randn(5, dtype=torch.float64)
    sd["f16"] = torch.randn(2, 3).half()
    sd["bf16"] = torch.randn(2, 3).bfloat16()
    sd["i64"] = torch.tensor([-(2 ** 63), 2 ** 63 - 1, 0, -1], dtype=torch.int64)
    sd["i32"] = torch.tensor([-(2 ** 31), 2 ** 31 - 1, 7], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, 3], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0, 5], dtype=torch.int8)
    sd["u8"] = torch.arange(0, 256, 17, dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["c64"] = torch.randn(3, dtype=torch.complex64)
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["num_batches_tracked"] = torch.tensor(12)
    return sd


def views_dict():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    big = torch.arange(1000, dtype=torch.int32)
    cube = torch.arange(60, dtype=torch.float64).reshape(3, 4, 5)
    d = {
        "transposed": base.t(),
        "row_slice": base[1:3],                 # storage offset 6
        "col_step": base[:, ::2],               # strides (6, 2)
        "narrow_mid": cube[:, 1:3, :],          # offset 5, non-contiguous
        "permuted": cube.permute(2, 0, 1),
        "expanded": torch.tensor([1.5, 2.5]).expand(3, 2),  # stride 0
        "small_of_big": big[500:510],           # 10 of 1000 elements
        "sparse_of_big": big[::97],             # strided through the whole storage
        "unsqueezed": base[2].unsqueeze(0),
        "flipped_view": cube.transpose(0, 2)[1:3],
    }
    return d


def tied_sd():
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.lm_head = torch.nn.Linear(4, 10, bias=False)
            self.lm_head.weight = self.embed.weight  # tied, as language models do
            self.norm = torch.nn.LayerNorm(4)

    sd = Tiny().state_dict()
    storage = torch.arange(12, dtype=torch.float32)
    sd["half.a"], sd["half.b"] = storage.split(6)            # disjoint views of one storage
    other = torch.arange(10, dtype=torch.int16)
    sd["overlap.x"], sd["overlap.y"] = other[0:6], other[3:9]  # overlapping views
    whole = torch.arange(6, dtype=torch.float32)
    sd["same.view1"] = whole.view(2, 3)
    sd["same.view2"] = whole.view(2, 3)                       # same view, distinct tensor objects
    sd["same.flat"] = whole                                   # same storage, other shape: kept
    return sd


class ExtrasPickler(pickle.Pickler):
    """Pickle tensors carrying a _mg_state attribute as torch 2.x does for
    tensors with Python state: _rebuild_from_type_v2(func, Tensor, args, state)."""

    def reducer_override(self, obj):
        if isinstance(obj, torch.Tensor) and hasattr(obj, "_mg_state"):
            func, args = obj._reduce_ex_internal(2)
            return (torch._tensor._rebuild_from_type_v2, (func, torch.Tensor, args, obj._mg_state))
        return NotImplemented


extras_module = types.SimpleNamespace(Pickler=ExtrasPickler, __name__="pickle")


def from_type_v2():
    a = torch.randn(2, 3)
    a._mg_state = {}
    b = torch.arange(8, dtype=torch.int64).reshape(2, 4).t()
    b._mg_state = {"note": "kept as an attribute", "step": 3}
    p = torch.nn.Parameter(torch.randn(4))
    return {"a": a, "b": b, "p": p}


def write_v3_synthetic(path):
    """A zip checkpoint as torch 2.x writes tensors of dtypes without a
    typed storage class: _rebuild_tensor_v3(UntypedStorage, offset, size,
    stride, requires_grad, hooks, dtype)."""
    # Stand-ins that pickle as the globals torch 2.x writes.
    def fake_global(module, name):
        class G:
            def __reduce__(self):
                return name
        G.__module__ = module
        G.__qualname__ = G.__name__ = name + "_type"
        g = G()
        sys.modules[module].__dict__[name] = g
        return g

    rebuild_v3 = types.FunctionType((lambda *a: None).__code__, {}, "_rebuild_tensor_v3")
    rebuild_v3.__module__, rebuild_v3.__qualname__ = "torch._utils", "_rebuild_tensor_v3"
    torch._utils._rebuild_tensor_v3 = rebuild_v3
    dtypes = {
        "f8_e4m3": ("float8_e4m3fn", "F8_E4M3", 1),
        "f8_e5m2": ("float8_e5m2", "F8_E5M2", 1),
        "u16": ("uint16", "U16", 2),
        "u32": ("uint32", "U32", 4),
        "u64": ("uint64", "U64", 8),
    }
    shapes = {"f8_e4m3": (4, 3), "f8_e5m2": (6,), "u16": (2, 2), "u32": (3,), "u64": (2,)}
    storages, expected = {}, {}
    entries = []

    class Storage:
        def __init__(self, key, nbytes):
            self.key, self.nbytes = key, nbytes

    class Tensor:
        def __init__(self, storage, offset, shape, stride, dtype):
            self.args = (storage, offset, shape, stride, False, collections.OrderedDict(), dtype)

        def __reduce__(self):
            return (rebuild_v3, self.args)

    sd = collections.OrderedDict()
    for i, (name, (tname, st, size)) in enumerate(dtypes.items()):
        shape = shapes[name]
        n = 1
        for s in shape:
            n *= s
        data = bytes((17 * i + 31 * j) % 256 for j in range(n * size))
        key = str(i)
        storages[key] = data
        st_obj = Storage(key, len(data))
        dt = fake_global("torch", tname)
        stride = tuple(int(math.prod(shape[k + 1:])) for k in range(len(shape)))
        sd[name] = Tensor(st_obj, 0, shape, stride, dt)
        expected[name] = {"dtype": st, "shape": list(shape), "sha256": hashlib.sha256(data).hexdigest()}
    # A transposed float8 view: the converter must gather it.
    data = bytes(range(6))
    storages["9"] = data
    dt = sys.modules["torch"].__dict__["float8_e4m3fn"]
    sd["f8_t"] = Tensor(Storage("9", 6), 0, (3, 2), (1, 3), dt)
    expected["f8_t"] = {"dtype": "F8_E4M3", "shape": [3, 2],
                        "sha256": hashlib.sha256(bytes([0, 3, 1, 4, 2, 5])).hexdigest()}

    untyped = torch.UntypedStorage

    def persistent_id(obj):
        if isinstance(obj, Storage):
            return ("storage", untyped, obj.key, "cpu", obj.nbytes)
        return None

    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = persistent_id
    p.dump(sd)
    prefix = "v3_synthetic"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", buf.getvalue())
        z.writestr(prefix + "/byteorder", "little")
        for key, data in storages.items():
            z.writestr(prefix + "/data/" + key, data)
        z.writestr(prefix + "/version", "3\n")
    return {"tensors": dict(sorted(expected.items())), "aliases": {}, "skipped": [],
            "note": "synthetic torch 2.x layout; expectations computed from the bytes written"}


def write_legacy_views(path):
    """A legacy checkpoint with storage views, as PyTorch before 0.4
    wrote them: persistent IDs (storage, type, root_key, location, numel,
    (view_key, offset, view_numel)). torch 1.13 still loads them."""
    root = torch.arange(10, dtype=torch.float32)

    class Ref:
        def __init__(self, view):
            self.view = view

    class T:
        def __init__(self, ref, offset, size, stride):
            self.args = (ref, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, self.args)

    def persistent_id(obj):
        if isinstance(obj, Ref):
            return ("storage", torch.FloatStorage, "root", "cpu", 10, obj.view)
        return None

    with open(path, "wb") as f:
        pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        p = pickle.Pickler(f, protocol=2)
        p.persistent_id = persistent_id
        p.dump({
            "whole": T(Ref(None), 0, (10,), (1,)),
            "view_rows": T(Ref(("v1", 2, 6)), 1, (2, 2), (2, 1)),   # root elements 3..6
            "view_t": T(Ref(("v1", 2, 6)), 0, (3, 2), (1, 3)),      # transposed within the view
            "other_view": T(Ref(("v2", 7, 3)), 0, (3,), (1,)),
        })
        pickle.dump(["root"], f, protocol=2)
        f.write(struct.pack("<q", 10))
        f.write(root.numpy().tobytes())


def deflate_copy(src, dst):
    """Re-pack a zip checkpoint with every member deflated (torch.load,
    through miniz, reads deflated members too)."""
    with zipfile.ZipFile(os.path.join(OUT, src)) as zin, \
            zipfile.ZipFile(os.path.join(OUT, dst), "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename.replace(src[:-3], dst[:-3], 1), zin.read(info.filename))


def sharded(dirname):
    d = os.path.join(OUT, dirname)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    sd = collections.OrderedDict()
    sd["model.embed.weight"] = torch.randn(8, 4)
    sd["lm_head.weight"] = sd["model.embed.weight"]  # tied, same shard
    sd["model.layers.0.weight"] = torch.randn(4, 4).t()
    sd["model.layers.0.bias"] = torch.randn(4).half()
    sd["model.layers.1.weight"] = torch.randn(4, 4).bfloat16()
    sd["model.layers.1.bias"] = torch.zeros(4, dtype=torch.int64)
    sd["model.norm.weight"] = torch.ones(4)
    shards = [
        ["model.embed.weight", "lm_head.weight", "model.layers.0.weight", "model.layers.0.bias"],
        ["model.layers.1.weight", "model.layers.1.bias", "model.norm.weight"],
    ]
    weight_map, total = {}, 0
    out = {}
    for i, names in enumerate(shards):
        fname = f"pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin"
        part = collections.OrderedDict((n, sd[n]) for n in names)
        torch.save(part, os.path.join(d, fname))
        loaded = torch.load(os.path.join(d, fname))
        al = aliases(loaded)
        out[fname] = {"tensors": {n: describe(t) for n, t in sorted(loaded.items()) if n not in al},
                      "aliases": al, "skipped": []}
        for n in names:
            weight_map[n] = fname
            total += sd[n].numel() * sd[n].element_size()
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "tiny", "tie_word_embeddings": True}, f)
    return out


def main():
    save("dtypes.pt", dtypes_sd())
    save("dtypes_legacy.pt", dtypes_sd(), legacy=True)
    save("views.pt", views_dict())
    save("views_legacy.pt", views_dict(), legacy=True)
    save("tied.pt", tied_sd())
    save("tied_legacy.pt", tied_sd(), legacy=True)
    nested = {
        "encoder": {"layer0": {"weight": torch.randn(2, 2), "bias": torch.randn(2)},
                    "layer1": collections.OrderedDict(weight=torch.randn(2, 2))},
        "decoder.weight": torch.randn(3),
        "meta": {"step": 3, "name": "tiny"},
    }
    save("nested.pt", nested)
    sd = tied_sd()
    save("wrapped_state_dict.pt", {"state_dict": sd, "epoch": 3,
                                   "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}},
         key="state_dict", note="found without --key")
    wrapped = {"model": dtypes_sd(), "ema": {"w": torch.randn(2, 2)}, "step": 10}
    save("wrapped_model.pt", wrapped, key="model", note="found without --key")
    save("wrapped_model_ema.pt", wrapped, key="ema", note="chosen with --key ema")
    params = {"weight": torch.nn.Parameter(torch.randn(3, 2)),
              "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False)}
    save("params.pt", params)
    save("from_type_v2.pt", from_type_v2(), pickle_module=extras_module)
    torch.save({"a": {"b": torch.ones(1)}, "a.b": torch.zeros(1)}, os.path.join(OUT, "collision.pt"))
    EXPECTED["collision.pt"] = {"error": "collision"}
    torch.save({"c128": torch.ones(2, dtype=torch.complex128)}, os.path.join(OUT, "complex128.pt"))
    EXPECTED["complex128.pt"] = {"error": "complex128"}
    write_legacy_views(os.path.join(OUT, "legacy_views.pt"))
    EXPECTED["legacy_views.pt"] = expect("legacy_views.pt", note="storage views, as PyTorch < 0.4 wrote them")
    deflate_copy("views.pt", "views_deflated.pt")
    EXPECTED["views_deflated.pt"] = expect("views_deflated.pt")
    EXPECTED["v3_synthetic.pt"] = write_v3_synthetic(os.path.join(OUT, "v3_synthetic.pt"))
    EXPECTED["sharded"] = sharded("sharded")
    single = os.path.join(OUT, "single")
    shutil.rmtree(single, ignore_errors=True)
    os.makedirs(single)
    shutil.copy(os.path.join(OUT, "tied.pt"), os.path.join(single, "pytorch_model.bin"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(EXPECTED, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
