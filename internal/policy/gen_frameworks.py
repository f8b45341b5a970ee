#!/usr/bin/python3
"""Generates frameworks.toml: the classes and reconstructor functions that
ordinary PyTorch, NumPy, scikit-learn, SciPy, pandas and joblib pickles need.

Run with Debian's interpreter and packages (python3-torch, python3-sklearn,
python3-scipy, python3-pandas, python3-numpy, python3-joblib):

    /usr/bin/python3 internal/policy/gen_frameworks.py > internal/policy/frameworks.toml

The libraries are imported (they are trusted, installed software); no model
file is ever loaded. Only names *defined* in a module are listed (a name a
module merely imports, such as `os` or `system`, is never listed), and only
classes plus functions whose names mark them as unpickling helpers: a
library function that reads or writes files must not become loadable.
"""
import importlib
import inspect
import pkgutil
import re
import sys
import types
import warnings

warnings.filterwarnings("ignore")

# Some modules print when imported; keep stdout for the generated file.
out = sys.stdout
sys.stdout = open("/dev/null", "w")

HELPER = re.compile(r"(unpickle|^_?new_?[A-Z_]|^newObj$|reconstruct|^_make_|^_rebuild)")

# Subpackages never walked: they read or write files, reach the network,
# evaluate expressions, or are test code.
SKIP = re.compile(
    r"(\.tests?(\.|$)|\._testing|\.testing|conftest|\.externals|\.datasets|\.io(\.|$)|"
    r"\.computation|\.plotting|\._lib|\.misc|\.utils\._testing|_build_utils|__check_build|"
    r"\.experimental|\.distutils|\.f2py|\.hub|\.cpp_extension|\.benchmark|\.bottleneck|"
    r"collect_env|\._dynamo|\._inductor|\.onnx|\.package|\.distributed|\.jit\.(?!_pickle)|"
    r"\.fx|\.testing|\._config_module|datapipes|tensorboard|\.backends|\.contrib|\.util(\.|$))"
)


def walk(pkgname):
    pkg = importlib.import_module(pkgname)
    yield pkg
    if not hasattr(pkg, "__path__"):
        return
    for info in pkgutil.walk_packages(pkg.__path__, pkgname + "."):
        if SKIP.search(info.name):
            continue
        try:
            yield importlib.import_module(info.name)
        except BaseException:
            continue


def defined(mod):
    for name, obj in list(vars(mod).items()):
        if name.startswith("__") and not name.startswith("__pyx_unpickle"):
            continue
        if getattr(obj, "__module__", None) != mod.__name__:
            continue
        if inspect.isclass(obj):
            yield name, obj
        elif callable(obj) and HELPER.search(name):
            yield name, obj


def collect(pkgname, keep=lambda name, obj: True):
    out = set()
    for mod in walk(pkgname):
        for name, obj in defined(mod):
            if keep(name, obj):
                out.add(f"{mod.__name__}.{name}")
    return out


sections = {}

import torch
import torch.nn

def torch_keep(name, obj):
    return True

t = set()
for pkg in ["torch.nn", "torch.optim", "torch.ao.nn", "torch.distributions", "torch.utils.hooks"]:
    try:
        t |= collect(pkg, torch_keep)
    except ImportError:
        pass
jp = importlib.import_module("torch.jit._pickle")
for name in dir(jp):
    if name.startswith(("build_", "restore_")):
        t.add(f"torch.jit._pickle.{name}")
for name in dir(torch._utils):
    if name.startswith("_rebuild"):
        t.add(f"torch._utils.{name}")
for name in dir(torch):
    obj = getattr(torch, name, None)
    if isinstance(obj, (torch.dtype, torch.layout, torch.memory_format, torch.qscheme)):
        t.add(f"torch.{name}")
    elif inspect.isclass(obj) and name.endswith("Storage"):
        t.add(f"torch.{name}")
for name in dir(torch.cuda):
    if name.endswith("Storage") or name.endswith("Tensor"):
        t.add(f"torch.cuda.{name}")
for cls in torch._tensor_classes:
    t.add(f"{cls.__module__}.{cls.__name__}")
t |= {
    "torch.Size", "torch.Tensor", "torch.device", "torch.dtype", "torch.Generator",
    "torch.serialization._get_layout", "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
    "torch.storage._TypedStorage", "torch.storage._UntypedStorage",
    "torch._tensor._rebuild_from_type", "torch.nn.parameter.Parameter",
    "torch.nn.parameter.UninitializedParameter", "torch.nn.parameter.UninitializedBuffer",
    "torch._utils._rebuild_parameter", "torch.autograd.grad_mode.no_grad",
}
fn = []
F = importlib.import_module("torch.nn.functional")
for name, obj in vars(F).items():
    if inspect.isfunction(obj) and obj.__module__ == F.__name__ and not name.startswith("_"):
        fn.append(f"torch.nn.functional.{name}")
t |= set(fn)
sections["torch " + torch.__version__] = t

import numpy
n = set()
for name in dir(numpy):
    obj = getattr(numpy, name)
    if inspect.isclass(obj) and issubclass(obj, numpy.generic):
        n.add(f"numpy.{name}")
n |= {
    "numpy.dtype", "numpy.ndarray", "numpy.matrix", "numpy.recarray", "numpy.record", "numpy.memmap",
    "numpy.core.multiarray._reconstruct", "numpy.core.multiarray.scalar", "numpy.core.numeric._frombuffer",
    "numpy.core.records.recarray", "numpy.core.records.record", "numpy.core.memmap.memmap",
    "numpy.matrixlib.defmatrix.matrix", "numpy.ma.core.MaskedArray", "numpy.ma.core._mareconstruct",
    "numpy.ma.core.mvoid", "numpy.ma.core.MaskedConstant", "numpy.core.multiarray.dtype",
}
n |= collect("numpy.random")
for name in ["__randomstate_ctor", "__generator_ctor", "__bit_generator_ctor"]:
    n.add(f"numpy.random._pickle.{name}")
# NumPy 2 moved numpy.core to numpy._core; its pickles name the new path.
n |= {x.replace("numpy.core.", "numpy._core.") for x in n if x.startswith("numpy.core.")}
# NumPy >= 1.25 pickles dtype classes from numpy.dtypes.
for d in ["Bool", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Byte", "UByte",
          "Short", "UShort", "Int", "UInt", "Long", "ULong", "LongLong", "ULongLong", "Float16", "Float32",
          "Float64", "LongDouble", "Complex64", "Complex128", "CLongDouble", "Object", "Bytes", "Str", "Void",
          "DateTime64", "TimeDelta64", "String"]:
    n.add(f"numpy.dtypes.{d}DType")
sections["numpy " + numpy.__version__] = n

import sklearn
sk = collect("sklearn")
sk |= {"sklearn.utils._bunch.Bunch", "sklearn.utils.Bunch"}
sections["scikit-learn " + sklearn.__version__] = sk

import scipy
sp = set()
for pkg in ["scipy.sparse", "scipy.stats", "scipy.spatial", "scipy.interpolate", "scipy.optimize", "scipy.signal",
            "scipy.linalg", "scipy.special", "scipy.cluster", "scipy.ndimage", "scipy.integrate"]:
    sp |= collect(pkg)
sections["scipy " + scipy.__version__] = sp

import pandas
pd = set()
for pkg in ["pandas.core", "pandas._libs", "pandas.tseries", "pandas.arrays"]:
    pd |= collect(pkg)
sections["pandas " + pandas.__version__] = pd

import joblib
sections["joblib " + joblib.__version__] = {
    "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
    "joblib.numpy_pickle_compat.ZNDArrayWrapper",
}

# Never list a name whose last part could be mistaken for a code runner.
BAD = re.compile(r"\.(system|popen|exec\w*|eval\w*|load|loads|open|spawn\w*|run\w*|call|check_output|compile)$")

sys.stdout = out
print("# Code generated by internal/policy/gen_frameworks.py; DO NOT EDIT.")
print("# Classes and unpickling helpers defined by these framework versions")
print("# (Debian bookworm packages): " + ", ".join(sorted(sections)) + ".")
print("[pickle]")
print("innocuous = [")
for sec in sorted(sections):
    print(f"  # {sec}")
    for name in sorted(sections[sec]):
        if BAD.search(name) or "'" in name or '"' in name:
            continue
        print(f'  "{name}",')
print("]")
