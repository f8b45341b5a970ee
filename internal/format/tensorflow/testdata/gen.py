#!/usr/bin/python3
"""Makes TensorFlow fixtures for internal/format/tensorflow. TensorFlow is
not packaged in Debian, so the protobufs are written as text in the layout
TensorFlow 2.x writes (a Keras Dense model exported with model.save, its
traced save/restore functions, a frozen TF1 graph, keras_metadata.pb) and
encoded with protoc against fixture.proto, which uses TensorFlow's field
numbers. Each .txtpb is kept beside its .pb for review.

Run from this folder: /usr/bin/python3 gen.py
"""
import base64
import json
import marshal
import subprocess

DT_FLOAT, DT_STRING, DT_INT32, DT_RESOURCE = 1, 7, 3, 20


def q(s):
    return json.dumps(s)


def attr(key, body):
    return "attr { key: %s value { %s } }" % (q(key), body)


def node(name, op, inputs=(), attrs=()):
    ins = " ".join("input: %s" % q(i) for i in inputs)
    return "{ name: %s op: %s %s %s }" % (q(name), q(op), ins, " ".join(attrs))


def string_const(name, *values):
    vals = " ".join("string_val: %s" % q(v) for v in values)
    shape = "tensor_shape { %s }" % ("dim { size: %d }" % len(values) if len(values) > 1 else "")
    return node(name, "Const", attrs=[attr("dtype", "type: %d" % DT_STRING),
                                      attr("value", "tensor { dtype: %d %s %s }" % (DT_STRING, shape, vals))])


def float_const(name):
    content = "\\000\\000\\200?" * 4
    return node(name, "Const", attrs=[attr("dtype", "type: %d" % DT_FLOAT),
                                      attr("value", 'tensor { dtype: %d tensor_shape { dim { size: 2 } dim { size: 2 } } '
                                                    'tensor_content: "%s" }' % (DT_FLOAT, content))])


def func(name, nodes, ret="output_0"):
    body = " ".join("node_def %s" % n for n in nodes)
    return 'function { signature { name: %s } %s ret { key: "%s" value: "%s" } }' % (q(name), body, ret, ret)


def saved_model(graph_nodes, functions, assets=(), extra_ops=()):
    ops = sorted(set(["Const", "MatMul", "BiasAdd", "Relu", "Placeholder", "VarHandleOp", "ReadVariableOp",
                      "StatefulPartitionedCall", "SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename",
                      "StringJoin", "StaticRegexFullMatch", "Select", "Identity", "NoOp", "Pack"] + list(extra_ops)))
    op_list = " ".join("op { name: %s }" % q(o) for o in ops)
    nodes = " ".join("node %s" % n for n in graph_nodes)
    lib = " ".join(functions)
    asset = " ".join('asset_file_def { tensor_info { name: "asset_path_initializer:0" dtype: 7 } filename: %s }' % q(a)
                     for a in assets)
    return """saved_model_schema_version: 1
meta_graphs {
  meta_info_def { meta_graph_version: "v2.13.0" stripped_op_list { %s } tags: "serve"
                  tensorflow_version: "2.13.0" tensorflow_git_version: "v2.13.0-rc2-7-g1cb1a030a62" }
  graph_def { %s library { %s } versions { producer: 1395 min_consumer: 12 } }
  saver_def { filename_tensor_name: "saver_filename:0" save_tensor_name: "StatefulPartitionedCall_1:0"
              restore_op_name: "StatefulPartitionedCall_2" version: 2 }
  signature_def { key: "serving_default" value {
    inputs { key: "input_1" value { name: "serving_default_input_1:0" dtype: 1 } }
    outputs { key: "dense" value { name: "StatefulPartitionedCall:0" dtype: 1 } }
    method_name: "tensorflow/serving/predict" } }
  %s
}
""" % (op_list, nodes, lib, asset)


def benign_graph():
    return [
        node("dense/kernel", "VarHandleOp", attrs=[attr("dtype", "type: 1"), attr("shared_name", 's: "dense/kernel"')]),
        node("dense/kernel/Read/ReadVariableOp", "ReadVariableOp", ["dense/kernel"], [attr("dtype", "type: 1")]),
        node("serving_default_input_1", "Placeholder", attrs=[attr("dtype", "type: 1")]),
        node("StatefulPartitionedCall", "StatefulPartitionedCall", ["serving_default_input_1", "dense/kernel"],
             [attr("f", 'func { name: "__inference_signature_wrapper_101" }')]),
        node("saver_filename", "Placeholder", attrs=[attr("dtype", "type: 7")]),
        node("StatefulPartitionedCall_1", "StatefulPartitionedCall", ["saver_filename", "dense/kernel/Read/ReadVariableOp"],
             [attr("f", 'func { name: "__inference__traced_save_202" }')]),
        node("StatefulPartitionedCall_2", "StatefulPartitionedCall", ["saver_filename", "dense/kernel"],
             [attr("f", 'func { name: "__inference__traced_restore_303" }')]),
    ]


def benign_functions():
    save = func("__inference__traced_save_202", [
        node("StaticRegexFullMatch", "StaticRegexFullMatch", ["file_prefix"], [attr("pattern", 's: "^s3://.*"')]),
        string_const("Const", ".part"), string_const("Const_1", "_temp/part"),
        node("Select", "Select", ["StaticRegexFullMatch:output:0", "Const:output:0", "Const_1:output:0"]),
        node("StringJoin", "StringJoin", ["file_prefix", "Select:output:0"]),
        node("num_shards", "Const", attrs=[attr("dtype", "type: 3"), attr("value", "tensor { dtype: 3 }")]),
        node("ShardedFilename", "ShardedFilename", ["StringJoin:output:0", "num_shards:output:0"]),
        string_const("SaveV2/tensor_names", "variables/0/.ATTRIBUTES/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH"),
        string_const("SaveV2/shape_and_slices", "", ""),
        node("SaveV2", "SaveV2", ["ShardedFilename:filename:0", "SaveV2/tensor_names:output:0",
                                  "SaveV2/shape_and_slices:output:0", "savev2_dense_kernel_read_readvariableop"]),
        node("MergeV2Checkpoints/checkpoint_prefixes", "Pack", ["ShardedFilename:filename:0", "^SaveV2"]),
        node("MergeV2Checkpoints", "MergeV2Checkpoints", ["MergeV2Checkpoints/checkpoint_prefixes:output:0", "file_prefix"]),
        node("Identity", "Identity", ["file_prefix", "^MergeV2Checkpoints"]),
    ])
    restore = func("__inference__traced_restore_303", [
        string_const("RestoreV2/tensor_names", "variables/0/.ATTRIBUTES/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH"),
        string_const("RestoreV2/shape_and_slices", "", ""),
        node("RestoreV2", "RestoreV2", ["file_prefix", "RestoreV2/tensor_names:output:0",
                                        "RestoreV2/shape_and_slices:output:0"]),
        node("Identity_1", "Identity", ["RestoreV2:tensors:0"]),
        node("NoOp", "NoOp"),
    ])
    serve = func("__inference_signature_wrapper_101", [
        node("MatMul/ReadVariableOp", "ReadVariableOp", ["matmul_readvariableop_resource"]),
        node("MatMul", "MatMul", ["input_1", "MatMul/ReadVariableOp:value:0"]),
        node("Relu", "Relu", ["MatMul:product:0"]),
    ])
    return [save, restore, serve]


def malicious_function(name, nodes):
    return func(name, nodes)


def frozen_graph(nodes):
    return " ".join("node %s" % n for n in nodes) + " versions { producer: 27 }"


def lam(src):
    return base64.encodebytes(marshal.dumps(compile(src, "<lambda>", "eval").co_consts[0])).decode()


def keras_metadata(layers):
    out = []
    for i, (ident, meta) in enumerate(layers):
        out.append("nodes { node_id: %d node_path: %s identifier: %s metadata: %s }" % (
            i, q("root" if i == 0 else "root.layer-%d" % (i - 1)), q(ident), q(json.dumps(meta))))
    return "\n".join(out)


def dense_meta(name):
    return {"name": name, "trainable": True, "expects_training_arg": False, "dtype": "float32",
            "batch_input_shape": None, "stateful": False, "must_restore_from_config": False,
            "class_name": "Dense", "config": {"name": name, "trainable": True, "dtype": "float32", "units": 4,
                                               "activation": "relu", "use_bias": True,
                                               "kernel_initializer": {"class_name": "GlorotUniform",
                                                                      "config": {"seed": None}}},
            "shared_object_id": 1, "input_spec": {"class_name": "InputSpec",
                                                  "config": {"dtype": None, "shape": None, "ndim": None,
                                                             "max_ndim": None, "min_ndim": 2, "axes": {"-1": 8}}},
            "build_input_shape": {"class_name": "TensorShape", "items": [None, 8]}}


def model_meta(layers):
    return {"name": "sequential", "trainable": True, "expects_training_arg": True, "dtype": "float32",
            "batch_input_shape": None, "must_restore_from_config": False, "class_name": "Sequential",
            "config": {"name": "sequential", "layers": layers}, "is_graph_network": True,
            "keras_version": "2.13.1", "backend": "tensorflow"}


FIXTURES = {
    "benign_saved_model": ("SavedModel", saved_model(benign_graph(), benign_functions(), assets=["vocab.txt"])),
    "benign_frozen_graph": ("GraphDef", frozen_graph([
        node("input", "Placeholder", attrs=[attr("dtype", "type: 1")]), float_const("weights"),
        node("MatMul", "MatMul", ["input", "weights"]), node("output", "Identity", ["MatMul"])])),
    "benign_keras_metadata": ("SavedMetadata", keras_metadata([
        ("_tf_keras_sequential", model_meta([{"class_name": "Dense", "config": dense_meta("dense")["config"]}])),
        ("_tf_keras_layer", dense_meta("dense"))])),
    "malicious_readfile": ("SavedModel", saved_model(benign_graph(), benign_functions() + [malicious_function(
        "__inference_call_404", [string_const("path", "/etc/passwd"), node("ReadFile", "ReadFile", ["path:output:0"])])],
        extra_ops=["ReadFile"])),
    "malicious_writefile": ("SavedModel", saved_model(benign_graph() + [
        string_const("target", "/root/.bashrc"), string_const("payload", "echo pwned"),
        node("WriteFile", "WriteFile", ["target", "payload"])], benign_functions(), extra_ops=["WriteFile"])),
    "malicious_pyfunc": ("SavedModel", saved_model(benign_graph(), benign_functions() + [malicious_function(
        "__inference_call_505", [node("EagerPyFunc", "EagerPyFunc", ["x"], [attr("token", 's: "pyfunc_0"')])])],
        extra_ops=["EagerPyFunc"])),
    "malicious_save_traversal": ("SavedModel", saved_model(benign_graph() + [
        string_const("evil_prefix", "../../../../tmp/evil"),
        node("SaveV2_evil", "SaveV2", ["evil_prefix", "names", "slices", "tensor"])], benign_functions())),
    "malicious_asset_traversal": ("SavedModel", saved_model(benign_graph(), benign_functions(),
                                                            assets=["../../../../etc/passwd"])),
    "malicious_frozen_matchingfiles": ("GraphDef", frozen_graph([
        string_const("pattern", "/home/*/.ssh/id_*"), node("MatchingFiles", "MatchingFiles", ["pattern"])])),
    "malicious_frozen_print_file": ("GraphDef", frozen_graph([
        node("input", "Placeholder", attrs=[attr("dtype", "type: 7")]),
        node("PrintV2", "PrintV2", ["input"], [attr("output_stream", 's: "file:///root/.ssh/authorized_keys"')])])),
    "malicious_keras_metadata_lambda": ("SavedMetadata", keras_metadata([
        ("_tf_keras_sequential", model_meta([{"class_name": "Dense", "config": dense_meta("dense")["config"]},
                                             {"class_name": "Lambda", "config": {
                                                 "name": "lambda", "function": [lam('lambda x: __import__("os").system("echo pwned") or x'), None, None],
                                                 "function_type": "lambda", "module": "__main__"}}])),
        ("_tf_keras_layer", dense_meta("dense"))])),
}


def main():
    for name, (msg, text) in FIXTURES.items():
        with open(name + ".txtpb", "w") as f:
            f.write(text)
        with open(name + ".txtpb", "rb") as src, open(name + ".pb", "wb") as dst:
            subprocess.run(["protoc", "--encode=fixture." + msg, "fixture.proto"], stdin=src, stdout=dst, check=True)


main()
