#!/usr/bin/python3
"""Makes the Keras H5 fixtures for internal/format/kerash5 with h5py, writing
the attributes Keras writes (model_config, training_config, keras_version,
backend, model_weights/layer_names). Configs come from
internal/kerascfg/testdata (see its gen.py). Malicious files are only
written, never loaded by Keras. Checked with h5dump -A.

Run from this folder: /usr/bin/python3 gen.py
"""
import json

import h5py
import numpy as np

CFG = "../../../kerascfg/testdata/"


def cfg(name):
    with open(CFG + name) as f:
        return f.read()


def write(name, model_config, libver="earliest", as_bytes=False, pad=0, userblock=0, training=None):
    kw = {"libver": libver}
    if userblock:
        kw["userblock_size"] = userblock
    with h5py.File(name, "w", **kw) as f:
        if pad:
            # Enough attributes (and a long one) to push storage out of the
            # object header: dense attributes in a fractal heap.
            for i in range(20):
                f.attrs["pad%02d" % i] = "x" * pad
        v = model_config.encode() if as_bytes else model_config
        f.attrs["model_config"] = np.bytes_(v) if as_bytes else v
        f.attrs["training_config"] = training or json.dumps({"loss": "mse", "optimizer_config": {
            "class_name": "Adam", "config": {"learning_rate": 0.001}}})
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [b"dense"]
        g = mw.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0"]
        g.create_group("dense").create_dataset("kernel:0", data=np.zeros((8, 4), dtype="f4"))


def main():
    write("benign_keras2.h5", cfg("benign_keras2_sequential.json"), training=cfg("benign_keras2_training.json"))
    write("benign_keras2_fixed_bytes.h5", cfg("benign_keras2_sequential.json"), as_bytes=True)
    write("benign_keras3_latest.h5", cfg("benign_keras3_functional.json"), libver="latest", pad=1000)
    write("malicious_lambda_v0.h5", cfg("malicious_keras2_lambda.json"))
    write("malicious_lambda_fixed_bytes.h5", cfg("malicious_keras2_lambda.json"), as_bytes=True)
    # In dense attribute storage of a v3 file (superblock v3, fractal heap).
    write("malicious_lambda_dense.h5", cfg("malicious_keras2_lambda.json"), libver="latest", pad=1000)
    write("malicious_userblock.h5", cfg("malicious_keras3_os_system.json"), userblock=1024)
    write("malicious_named_lambda.h5", cfg("malicious_keras2_lambda_named.json"), libver="latest")
    write("malicious_training_config.h5", cfg("benign_keras2_sequential.json"),
          training=cfg("malicious_keras3_get_file.json"))
    # Weights only, as model.weights.h5 in a .keras archive.
    with h5py.File("weights_only.h5", "w") as f:
        f.create_group("layers").create_group("dense").create_group("vars").create_dataset(
            "0", data=np.zeros((2, 2), dtype="f4"))
    with h5py.File("malicious_external_link.h5", "w") as f:
        f.attrs["model_config"] = cfg("benign_keras2_sequential.json")
        f["model_weights"] = h5py.ExternalLink("../../../../etc/weights.h5", "/model_weights")


main()
