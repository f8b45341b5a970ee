#!/usr/bin/python3
"""Writes benign pickles of plain data in every protocol, with the repr()
CPython gives when loading them, for the VM's differential test.

Only plain data (no globals) is pickled, so the VM's rendering of the
result must equal Python's repr exactly. Run: /usr/bin/python3 gen_differential.py
"""
import json
import os
import pickle
import pickletools

shared = ["shared", 1]
cases = {
    "scalars": [None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**63 - 1,
                -2**63, 2**64, -2**70, 10**40],
    "floats": [0.0, -0.0, 1.0, 0.1, 1e16, 1e-5, 1234567.0, 1.2345678901234567e17, 3.141592653589793, 2.5e-300],
    "strings": ["", "a", "it's", 'say "hi"', "both ' and \"", "tab\tnl\nback\\", "caf\u00e9", "\u2603 snow",
                "x" * 300, "\x00\x01\x7f"],
    "bytes": [b"", b"abc", b"\x00\xff\x80", b"'q'", b"x" * 300, bytearray(b"ba")],
    "containers": [[], (), {}, [1, [2, [3]]], (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {"a": 1, "b": [2, 3]},
                   {1: "one", (2, 3): None}, frozenset(), set()],
    "shared": [shared, shared, {"x": shared}],
    "large_list": list(range(2500)),
    "large_dict": {str(i): i for i in range(1200)},
    "nested": {"layers": [{"name": "l%d" % i, "shape": (i, i + 1), "w": [0.5] * 3} for i in range(20)]},
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "differential")
os.makedirs(out, exist_ok=True)
expected = {}
for name, value in cases.items():
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(value, protocol=proto)
        if proto >= 2:
            data = pickletools.optimize(data) if name == "shared" and proto == 2 else data
        fn = "%s_p%d.pkl" % (name, proto)
        with open(os.path.join(out, fn), "wb") as f:
            f.write(data)
        expected[fn] = repr(pickle.loads(data))
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
print(len(expected), "cases")
