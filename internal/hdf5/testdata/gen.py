#!/usr/bin/python3
"""Makes the HDF5 fixtures for internal/hdf5 with Debian's python3-h5py, and
writes expected.json: for every fixture, what h5py itself reads (every
object path reached by hard links, and every string attribute's values).
The Go tests compare the pure-Go reader with it.

Run from this folder: /usr/bin/python3 gen.py
"""
import ctypes
import hashlib
import json

import h5py
import numpy as np

CFG = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"class_name": "Dense", "config": {"name": "dense", "units": 4}}]}}


def keras_like(f):
    f.attrs["model_config"] = json.dumps(CFG)
    f.attrs["training_config"] = json.dumps({"loss": "mse"})
    f.attrs["keras_version"] = "2.13.1"
    f.attrs["backend"] = "tensorflow"
    mw = f.create_group("model_weights")
    mw.attrs["layer_names"] = [b"dense"]
    g = mw.create_group("dense").create_group("dense")
    g.create_dataset("kernel:0", data=np.arange(8, dtype="f4").reshape(2, 4))


def make(name, **kw):
    return h5py.File(name, "w", **kw)


def main():
    # Superblock v0, old-style groups, variable-length string attributes.
    with make("v0_earliest.h5", libver="earliest") as f:
        keras_like(f)
        f.attrs["fixed"] = np.bytes_(b"fixed-length value")
        f.attrs["numbers"] = np.arange(3)
        f.attrs["names"] = np.array([b"a", b"bb", b"ccc"])
    # A 512-byte user block moves the superblock.
    with make("userblock.h5", libver="earliest", userblock_size=512) as f:
        keras_like(f)
    # Superblock v1: a non-default indexed-storage B-tree K.
    # h5py has no binding for H5Pset_istore_k, so call libhdf5 for it.
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    ctypes.CDLL("libhdf5_serial.so.103").H5Pset_istore_k(ctypes.c_int64(fcpl.id), ctypes.c_uint(64))
    fid = h5py.h5f.create(b"v1_istore.h5", h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    with h5py.File(fid) as f:
        keras_like(f)
    # 4-byte offsets and lengths.
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_sizes(4, 4)
    fid = h5py.h5f.create(b"sizes4.h5", h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    with h5py.File(fid) as f:
        keras_like(f)
    # Many attributes added later: continuation blocks in a v1 header;
    # many groups: a multi-node v1 B-tree.
    with make("v0_continuation.h5", libver="earliest") as f:
        keras_like(f)
        g = f.create_group("many")
        for i in range(40):
            g.attrs["attr%02d" % i] = "value %d" % i
        for i in range(70):
            g.create_group("g%03d" % i)
    # Superblock v2 and v3, v2 object headers, dense attribute storage with
    # a huge object (a 70 kB fixed-length string), dense link storage.
    for lv, name in (("v108", "v2_v108.h5"), ("latest", "v3_latest.h5")):
        with make(name, libver=(lv, "latest")) as f:
            keras_like(f)
            f.attrs["huge"] = np.bytes_(b"H" * 70000)
            for i in range(12):
                f.attrs["a%02d" % i] = "v%d" % i
            g = f.create_group("dense_links")
            for i in range(12):
                g.create_group("child%02d" % i)
            s = f.create_group("soft_links")
            for i in range(700):
                s["link%04d" % i] = h5py.SoftLink("/model_weights")
            a = f.create_group("dense_attrs")
            for i in range(120):
                a.attrs["attribute_number_%03d" % i] = "attribute value %d" % i
    # Track creation order: attribute and link creation-order indexes.
    with make("track_order.h5", libver="latest", track_order=True) as f:
        keras_like(f)
        for i in range(10):
            f.attrs["o%02d" % i] = "ordered %d" % i
    # External references: an external link, external raw storage, and a
    # hard-link cycle.
    with make("external.h5", libver="earliest") as f:
        keras_like(f)
        f["ext"] = h5py.ExternalLink("/etc/other.h5", "/secret")
        f.create_dataset("raw", (4,), dtype="f4", external=[("../outside.bin", 0, 16)])
        f["model_weights"]["loop"] = f["model_weights"]
    expected = {}
    for name in ("v0_earliest.h5", "userblock.h5", "v1_istore.h5", "sizes4.h5", "v0_continuation.h5",
                 "v2_v108.h5", "v3_latest.h5", "track_order.h5", "external.h5"):
        expected[name] = describe(name)
    with open("expected.json", "w") as out:
        json.dump(expected, out, indent=1, sort_keys=True)


def describe(name):
    objs = {}
    seen = set()

    def short(s):
        # Long values are compared by digest to keep expected.json small.
        if len(s) > 200:
            return "sha256:%s:%d" % (hashlib.sha256(s.encode()).hexdigest(), len(s))
        return s

    def attrs(o):
        res = {}
        for k in o.attrs.keys():
            v = o.attrs[k]
            if isinstance(v, np.ndarray):
                if v.dtype.kind not in "SUO":
                    continue
                res[k] = [short(x.decode() if isinstance(x, bytes) else str(x)) for x in v.ravel()]
            elif isinstance(v, (bytes, np.bytes_)):
                res[k] = [short(bytes(v).decode())]
            elif isinstance(v, str):
                res[k] = [short(v)]
        return res

    def visit(path, o):
        if h5py.h5o.get_info(o.id).addr in seen:
            return
        seen.add(h5py.h5o.get_info(o.id).addr)
        objs[path] = attrs(o)
        if isinstance(o, h5py.Group):
            objs[path]["__links__"] = sorted(o.keys())
            for k in o.keys():
                lk = o.get(k, getlink=True)
                if isinstance(lk, h5py.HardLink):
                    visit((path.rstrip("/") + "/" + k), o[k])

    with h5py.File(name, "r") as f:
        visit("/", f["/"])
    return objs


if __name__ == "__main__":
    main()
