#!/usr/bin/python3
"""Makes ONNX fixtures for internal/format/onnx with Debian's python3-onnx
(onnx.helper). Malicious models only reference paths; they are written,
never loaded with external data.

Run from this folder: /usr/bin/python3 gen.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data


def vi(name, shape=(1, 4)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def weight(name, shape=(4, 4)):
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def external(name, location):
    t = weight(name)
    set_external_data(t, location=location, offset=0, length=64)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    return t


def mlp(initializers, nodes=None, functions=(), opsets=None, extra_inputs=()):
    nodes = nodes or [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    g = helper.make_graph(nodes, "g", [vi("x")] + list(extra_inputs), [vi("y")], initializer=initializers)
    kw = {"opset_imports": opsets or [helper.make_opsetid("", 13)], "producer_name": "modelgate-fixture"}
    if functions:
        kw["functions"] = list(functions)
    return helper.make_model(g, **kw)


def if_model(then_init, else_init=()):
    then_g = helper.make_graph([helper.make_node("Identity", ["T"], ["o"])], "then", [], [vi("o")], initializer=then_init)
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["o2"])], "else", [], [vi("o2")],
                               initializer=list(else_init))
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    zero = numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")
    return mlp([zero], nodes=nodes)


def main():
    onnx.save(mlp([weight("W")]), "benign_mlp.onnx")
    onnx.save(if_model([weight("T")]), "benign_if.onnx")
    # Real external data: onnx writes the data file beside the model.
    m = mlp([numpy_helper.from_array(np.ones((4, 4), dtype=np.float32) * 2, "W")])
    onnx.save_model(m, "benign_external.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="benign_external.onnx.data", size_threshold=0)
    # Custom domain and a local function: listed, not failed.
    fn = helper.make_function("custom.fn", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 13)])
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Double", ["h"], ["d"], domain="custom.fn"),
             helper.make_node("Gelu", ["d"], ["y"], domain="com.microsoft")]
    onnx.save(mlp([weight("W")], nodes=nodes, functions=[fn],
                  opsets=[helper.make_opsetid("", 13), helper.make_opsetid("custom.fn", 1),
                          helper.make_opsetid("com.microsoft", 1)]), "benign_custom_domain.onnx")

    onnx.save(mlp([external("W", "../../../../etc/passwd")]), "malicious_traversal.onnx")
    onnx.save(mlp([external("W", "/etc/shadow")]), "malicious_absolute.onnx")
    onnx.save(mlp([external("W", "subdir/../../secret.bin")]), "malicious_nested_dotdot.onnx")
    onnx.save(mlp([external("W", "C:\\Windows\\win.ini")]), "malicious_windows.onnx")
    onnx.save(if_model([external("T", "../../etc/passwd")]), "malicious_if_subgraph.onnx")
    # In a Loop body two levels down, inside a Constant node's tensor attribute.
    inner = helper.make_graph([helper.make_node("Constant", [], ["k"], value=external("K", "/proc/self/environ")),
                               helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                               helper.make_node("Add", ["v_in", "k"], ["v_out"])],
                              "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                       helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), vi("v_in")],
                              [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), vi("v_out")])
    loop = helper.make_node("Loop", ["n", "cond", "x"], ["y"], body=inner)
    n = numpy_helper.from_array(np.array(2, dtype=np.int64), "n")
    cond = numpy_helper.from_array(np.array(True), "cond")
    onnx.save(mlp([n, cond], nodes=[loop]), "malicious_loop_constant.onnx")
    # A sparse initializer whose values live outside.
    sp = helper.make_sparse_tensor(external("S", "../outside.bin"),
                                   numpy_helper.from_array(np.array([0], dtype=np.int64), "S_idx"), [4, 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [vi("x")], [vi("y")], sparse_initializer=[sp])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "malicious_sparse.onnx")
    # onnxruntime's PyOp calls a Python function named by its attributes.
    nodes = [helper.make_node("PyOp", ["x"], ["y"], domain="ai.onnx.contrib", module="os", class_name="system",
                              compute="echo pwned")]
    onnx.save(mlp([], nodes=nodes, opsets=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.contrib", 1)]),
              "malicious_pyop.onnx")


main()
