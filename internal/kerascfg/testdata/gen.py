#!/usr/bin/python3
"""Writes the Keras config fixtures for internal/kerascfg: benign configs as
Keras 2 (tf.keras, H5 model_config) and Keras 3 (config.json) write them,
and one malicious config per attack. Lambda payloads are real marshalled
code objects compiled here (never called) with harmless commands.

Run from this folder: /usr/bin/python3 gen.py
"""
import base64
import json
import marshal


def lam(src):
    return base64.encodebytes(marshal.dumps(compile(src, "<lambda>", "eval").co_consts[0])).decode()


def k3(module, cls, config, registered=None, **extra):
    d = {"module": module, "class_name": cls, "config": config, "registered_name": registered}
    d.update(extra)
    return d


def dense3(name, units, **cfg):
    c = {"name": name, "trainable": True,
         "dtype": k3("keras", "DTypePolicy", {"name": "float32"}),
         "units": units, "activation": "relu", "use_bias": True,
         "kernel_initializer": k3("keras.initializers", "GlorotUniform", {"seed": None}),
         "bias_initializer": k3("keras.initializers", "Zeros", {}),
         "kernel_regularizer": k3("keras.regularizers", "L2", {"l2": 0.01})}
    c.update(cfg)
    return k3("keras.layers", "Dense", c, build_config={"input_shape": [None, 8]})


COMPILE3 = {
    "optimizer": k3("keras.optimizers", "Adam", {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9}),
    "loss": k3("keras.losses", "MeanSquaredError", {"name": "mean_squared_error", "reduction": "sum_over_batch_size"}),
    "metrics": [k3("keras.metrics", "MeanAbsoluteError", {"name": "mae", "dtype": "float32"}),
                k3("keras.metrics", "function", "mean_absolute_percentage_error", "mean_absolute_percentage_error")],
    "loss_weights": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
}


def functional3(layers, **extra):
    cfg = {"name": "functional", "trainable": True, "layers": layers,
           "input_layers": [["input_layer", 0, 0]], "output_layers": [["out", 0, 0]]}
    return k3("keras.src.models.functional", "Functional", cfg, "Functional",
              build_config={"input_shape": None}, compile_config=COMPILE3, **extra)


def input3():
    return k3("keras.layers", "InputLayer", {"batch_shape": [None, 8], "dtype": "float32", "sparse": False,
                                              "name": "input_layer"}, inbound_nodes=[])


def keras_tensor(src):
    return {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 8], "dtype": "float32",
                                                                     "keras_history": [src, 0, 0]}}], "kwargs": {}}


def k2(cls, config):
    return {"class_name": cls, "config": config}


def seq2(layers):
    return k2("Sequential", {"name": "sequential", "layers": layers})


def dense2(name):
    return k2("Dense", {"name": name, "trainable": True, "dtype": "float32", "units": 4, "activation": "relu",
                        "kernel_initializer": k2("GlorotUniform", {"seed": None}),
                        "bias_initializer": k2("Zeros", {}), "kernel_regularizer": k2("L2", {"l2": 0.01})})


FIXTURES = {
    # Benign: what Keras itself writes.
    "benign_keras3_functional.json": functional3([
        input3(),
        dense3("dense", 16, inbound_nodes=[keras_tensor("input_layer")]),
        k3("keras.layers", "Dropout", {"name": "dropout", "rate": 0.5, "seed": None}),
        k3("keras.layers", "TimeDistributed", {"name": "td", "layer": dense3("inner", 4)}),
        k3("keras.layers", "Bidirectional", {"name": "bi", "merge_mode": "concat",
                                              "layer": k3("keras.layers", "LSTM", {"name": "lstm", "units": 8,
                                                                                    "activation": "tanh",
                                                                                    "recurrent_activation": "sigmoid"}),
                                              "backward_layer": k3("keras.layers", "LSTM", {"name": "lstm_b", "units": 8})}),
        k3("keras", "Sequential", {"name": "nested", "layers": [dense3("n1", 4),
                                                                   k3("keras.layers", "Activation", {"name": "act",
                                                                      "activation": k3("keras.activations", "function", "gelu", "gelu")})]}),
        dense3("out", 2, activation=k3("builtins", "function", "softmax", "softmax")),
    ]),
    "benign_keras3_sequential.json": k3("keras", "Sequential", {"name": "sequential", "layers": [
        input3(), dense3("dense", 4),
        k3("keras.layers", "BatchNormalization", {"name": "bn", "momentum": 0.99, "epsilon": 0.001,
                                                   "gamma_initializer": k3("keras.initializers", "Ones", {})}),
        k3("keras.layers", "Rescaling", {"name": "rescale", "scale": 0.00392156862745098, "offset": 0.0}),
    ]}, build_config={"input_shape": [None, 8]}, compile_config=COMPILE3),
    "benign_keras2_sequential.json": seq2([
        k2("InputLayer", {"batch_input_shape": [None, 8], "dtype": "float32", "name": "input_1"}),
        dense2("dense"),
        k2("TimeDistributed", {"name": "td", "layer": dense2("inner")}),
        k2("Bidirectional", {"name": "bi", "layer": k2("LSTM", {"name": "lstm", "units": 8})}),
        k2("BatchNormalization", {"name": "bn", "momentum": 0.99}),
    ]),
    "benign_keras2_training.json": {"loss": "mse", "metrics": ["accuracy", "mae"], "weighted_metrics": None,
                                    "loss_weights": None,
                                    "optimizer_config": {"class_name": "Adam", "config": {
                                        "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9,
                                        "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False,
                                        "clipvalue": float("inf")}}},
    # Malicious: one per attack.
    "malicious_keras2_lambda.json": seq2([dense2("dense"), k2("Lambda", {
        "name": "lambda", "trainable": True, "dtype": "float32",
        "function": [lam('lambda x: __import__("os").system("echo pwned") or x'), None, None],
        "function_type": "lambda", "module": "__main__", "output_shape": None, "output_shape_type": "raw",
        "output_shape_module": None, "arguments": {}})]),
    "malicious_keras2_lambda_named.json": seq2([k2("Lambda", {
        "name": "lambda", "function": "system", "function_type": "function", "module": "os",
        "output_shape": None, "output_shape_type": "raw", "arguments": {}})]),
    "malicious_keras3_lambda_nested.json": functional3([input3(), k3("keras.layers", "TimeDistributed", {
        "name": "td", "layer": k3("keras", "Sequential", {"name": "inner", "layers": [
            k3("keras.layers", "Lambda", {"name": "lambda", "function": {"class_name": "__lambda__", "config": {
                "code": lam('lambda x: __import__("subprocess").call(["echo", "pwned"]) or x'),
                "defaults": None, "closure": None}}}),
            # The generic serializer's form of a lambda, as an activation.
            dense3("d", 2, activation={"class_name": "__lambda__", "config": {
                "value": [lam('lambda x: eval("1")'), None, None]}})]})})]),
    "malicious_keras3_os_system.json": k3("keras", "Sequential", {"name": "s", "layers": [
        input3(), k3("os", "system", {"command": "echo pwned"})]}),
    "malicious_keras3_builtins_exec.json": k3("keras", "Sequential", {"name": "s", "layers": [
        dense3("d", 2, activation=k3("builtins", "function", "exec", "exec"))]}),
    "malicious_keras3_get_file.json": functional3([input3(), k3("keras.utils", "function", "get_file", "get_file"),
                                                   k3("keras.utils", "get_file", {
                                                       "fname": "x.py", "origin": "http://127.0.0.1/x.py",
                                                       "cache_dir": "/tmp"})]),
    "malicious_keras3_unsafe_deser.json": functional3([
        input3(), k3("keras.config", "function", "enable_unsafe_deserialization", "enable_unsafe_deserialization"),
        k3("keras.layers", "Lambda", {"name": "lambda", "function": {
            "class_name": "__lambda__", "config": {"code": lam("lambda x: x"), "defaults": None, "closure": None}}})]),
    "malicious_keras3_safe_mode_false.json": k3("keras", "Sequential", {"name": "s", "safe_mode": False,
                                                                        "layers": [input3()]}),
    "malicious_keras3_torch_wrapper.json": k3("keras", "Sequential", {"name": "s", "layers": [
        k3("keras.layers", "TorchModuleWrapper", {"name": "torch_module_wrapper",
                                                   "module": base64.b64encode(b"cposix\nsystem\n(S'echo pwned'\ntR.").decode()})]}),
    "malicious_keras3_foreign_module.json": k3("keras", "Sequential", {"name": "s", "layers": [
        k3("evil_pkg.layers", "Backdoor", {"name": "b"}, "evil_pkg>Backdoor")]}),
    "malicious_keras3_tfsm_layer.json": k3("keras", "Sequential", {"name": "s", "layers": [
        k3("keras.layers", "TFSMLayer", {"name": "t", "filepath": "/tmp/other_model", "call_endpoint": "serve"})]}),
    "malicious_keras3_vocabulary_file.json": k3("keras", "Sequential", {"name": "s", "layers": [
        k3("keras.layers", "StringLookup", {"name": "lookup", "vocabulary": "/etc/passwd", "mask_token": None,
                                             "num_oov_indices": 1, "output_mode": "int"})]}),
    "malicious_keras2_tfoplambda.json": seq2([k2("TFOpLambda", {"name": "tf.io.write_file", "function": "io.write_file"})]),
}


def main():
    for name, cfg in FIXTURES.items():
        with open(name, "w") as f:
            json.dump(cfg, f)


main()
