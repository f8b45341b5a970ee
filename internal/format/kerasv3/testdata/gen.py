#!/usr/bin/python3
"""Makes .keras fixtures for internal/format/kerasv3 the way Keras 3's
saving_lib writes them (a zip of metadata.json, config.json and
model.weights.h5), with configs from internal/kerascfg/testdata and
weights from internal/format/kerash5/testdata. Malicious archives are only
written, never loaded.

Run from this folder: /usr/bin/python3 gen.py
"""
import json
import warnings
import zipfile

CFG = "../../../kerascfg/testdata/"
H5 = "../../kerash5/testdata/"
META = json.dumps({"keras_version": "3.3.3", "date_saved": "2024-05-01@00:00:00"})


def read(path):
    with open(path, "rb") as f:
        return f.read()


def archive(name, config, weights=H5 + "weights_only.h5", compression=zipfile.ZIP_STORED, extra=(), prefix=b""):
    with open(name, "wb") as raw:
        raw.write(prefix)
        with zipfile.ZipFile(raw, "w", compression=compression) as z:
            z.writestr("metadata.json", META)
            for cfg in config if isinstance(config, list) else [config]:
                z.writestr("config.json", read(CFG + cfg))
            z.writestr("model.weights.h5", read(weights))
            for member, data in extra:
                z.writestr(member, data)


def main():
    warnings.simplefilter("ignore")  # duplicate member names are deliberate
    archive("benign_functional.keras", "benign_keras3_functional.json")
    archive("benign_sequential_deflated.keras", "benign_keras3_sequential.json", compression=zipfile.ZIP_DEFLATED,
            extra=[("assets/vocab.txt", b"a\nb\n")])
    archive("malicious_lambda.keras", "malicious_keras3_lambda_nested.json")
    archive("malicious_lambda_deflated.keras", "malicious_keras3_lambda_nested.json", compression=zipfile.ZIP_DEFLATED)
    archive("malicious_get_file.keras", "malicious_keras3_get_file.json")
    archive("malicious_unsafe_deser.keras", "malicious_keras3_unsafe_deser.json")
    archive("malicious_torch_wrapper.keras", "malicious_keras3_torch_wrapper.json")
    archive("malicious_foreign_module.keras", "malicious_keras3_foreign_module.json")
    archive("malicious_os_system.keras", "malicious_keras3_os_system.json")
    # Python's zipfile opens the last of duplicated names.
    archive("malicious_duplicate_config.keras", ["benign_keras3_sequential.json", "malicious_keras3_os_system.json"])
    archive("malicious_prefixed.keras", "malicious_keras3_os_system.json", prefix=b"#!/bin/sh\n" + b"\x00" * 100)
    # A weights file that is itself a Keras H5 with a Lambda config.
    archive("malicious_weights_h5.keras", "benign_keras3_sequential.json", weights=H5 + "malicious_lambda_v0.h5")


main()
