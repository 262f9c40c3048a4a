#!/usr/bin/python3
"""Generate Keras fixtures without Keras: HDF5 files laid out exactly as
Keras 2 / tf.keras `model.save("x.h5")` writes them (legacy hdf5_format),
Keras 3 `.keras` zips (config.json, metadata.json, model.weights.h5) and
bare config JSON documents.

Run from this directory: /usr/bin/python3 gen.py

Malicious fixtures carry HARMLESS payloads (os.system('true')). Code objects
are compiled and marshalled, never executed; nothing here loads a model.
"""
import codecs
import copy
import io
import json
import marshal
import types
import zipfile

import h5py
import numpy as np

RNG = np.random.default_rng(0)


def lambda_code(src):
    """Compile `src` (a lambda expression) and return the lambda's code."""
    module = compile(src, "<keras-fixture>", "eval")
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))


def func_dump(src):
    # What keras.utils.generic_utils.func_dump returns for a lambda.
    raw = marshal.dumps(lambda_code(src))
    return codecs.encode(raw, "base64").decode("ascii")


# ---------------------------------------------------------------- Keras 2 configs
def k2_init(name, modules):
    d = {"class_name": name, "config": {"seed": None} if name.startswith("Glorot") else {}}
    if modules:
        d = {"module": "keras.initializers", **d, "registered_name": None}
    return d


def k2_layer(cls, cfg, modules):
    d = {"class_name": cls, "config": cfg}
    if modules:  # tf.keras 2.13+ adds module and registered_name
        d = {"module": "keras.layers", **d, "registered_name": None}
    return d


def k2_dense(name, units, act="relu", modules=False, input_shape=None):
    cfg = {"name": name, "trainable": True, "dtype": "float32"}
    if input_shape:
        cfg["batch_input_shape"] = [None, *input_shape]
    cfg.update({
        "units": units, "activation": act, "use_bias": True,
        "kernel_initializer": k2_init("GlorotUniform", modules),
        "bias_initializer": k2_init("Zeros", modules),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None,
    })
    return k2_layer("Dense", cfg, modules)


def k2_input(name, shape, modules=False):
    return k2_layer("InputLayer", {"batch_input_shape": [None, *shape], "dtype": "float32",
                                   "sparse": False, "ragged": False, "name": name}, modules)


def k2_sequential(name, layers):
    return {"class_name": "Sequential", "config": {"name": name, "layers": layers}}


def k2_conv(modules=False):
    return k2_sequential("conv_net", [
        k2_input("conv2d_input", [28, 28, 1], modules),
        k2_layer("Conv2D", {
            "name": "conv2d", "trainable": True, "dtype": "float32", "filters": 8,
            "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "relu", "use_bias": True,
            "kernel_initializer": k2_init("GlorotUniform", modules),
            "bias_initializer": k2_init("Zeros", modules),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}, modules),
        k2_layer("MaxPooling2D", {"name": "max_pooling2d", "trainable": True, "dtype": "float32",
                                  "pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
                                  "data_format": "channels_last"}, modules),
        k2_layer("Flatten", {"name": "flatten", "trainable": True, "dtype": "float32",
                             "data_format": "channels_last"}, modules),
        k2_dense("dense", 10, "softmax", modules),
    ])


def k2_lstm(modules=False):
    return k2_sequential("lstm_net", [
        k2_input("embedding_input", [None], modules),
        k2_layer("Embedding", {"name": "embedding", "trainable": True, "dtype": "float32",
                               "batch_input_shape": [None, None], "input_dim": 100, "output_dim": 16,
                               "embeddings_initializer": {"class_name": "RandomUniform",
                                                          "config": {"minval": -0.05, "maxval": 0.05, "seed": None}},
                               "embeddings_regularizer": None, "activity_regularizer": None,
                               "embeddings_constraint": None, "mask_zero": False, "input_length": None}, modules),
        k2_layer("LSTM", {"name": "lstm", "trainable": True, "dtype": "float32", "return_sequences": False,
                          "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
                          "time_major": False, "units": 8, "activation": "tanh",
                          "recurrent_activation": "sigmoid", "use_bias": True,
                          "kernel_initializer": k2_init("GlorotUniform", modules),
                          "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
                          "bias_initializer": k2_init("Zeros", modules), "unit_forget_bias": True,
                          "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}, modules),
        k2_dense("dense", 1, "sigmoid", modules),
    ])


def k2_functional(extra_layers=()):
    layers = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "input_1"},
         "name": "input_1", "inbound_nodes": []},
        {**k2_dense("dense", 8), "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {**k2_dense("dense_1", 8), "name": "dense_1", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "Concatenate", "config": {"name": "concatenate", "trainable": True, "dtype": "float32", "axis": -1},
         "name": "concatenate", "inbound_nodes": [[["dense", 0, 0, {}], ["dense_1", 0, 0, {}]]]},
        {**k2_dense("out", 2, "softmax"), "name": "out", "inbound_nodes": [[["concatenate", 0, 0, {}]]]},
    ]
    layers.extend(extra_layers)
    return {"class_name": "Functional", "config": {
        "name": "model", "layers": layers,
        "input_layers": [["input_1", 0, 0]], "output_layers": [["out", 0, 0]]}}


TRAINING = {"loss": "categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper",
            "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]],
            "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                "epsilon": 1e-07, "amsgrad": False}}}


def weight_shapes(config):
    """Plausible weights per layer for the model_weights group."""
    out = []
    for layer in config["config"]["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        name = cfg.get("name", layer.get("name"))
        if cls == "Dense":
            out.append((name, [("kernel:0", (4, cfg["units"])), ("bias:0", (cfg["units"],))]))
        elif cls == "Conv2D":
            out.append((name, [("kernel:0", (3, 3, 1, cfg["filters"])), ("bias:0", (cfg["filters"],))]))
        elif cls == "LSTM":
            u = cfg["units"]
            out.append((name, [("lstm_cell/kernel:0", (16, 4 * u)), ("lstm_cell/recurrent_kernel:0", (u, 4 * u)),
                               ("lstm_cell/bias:0", (4 * u,))]))
        elif cls == "Embedding":
            out.append((name, [("embeddings:0", (cfg["input_dim"], cfg["output_dim"]))]))
        elif name:
            out.append((name, []))
    return out


def save_k2_h5(path, config, libver="earliest", encoding="vlen", training=True,
               version="2.12.0", userblock=0):
    """Mirror keras.saving.legacy.hdf5_format.save_model_to_hdf5."""
    def enc(v):
        # h5py 3 stores bytes as variable-length strings; h5py 2 (and
        # numpy bytes_) as fixed-length ones. Keras writes both ways.
        b = v.encode("utf8")
        return np.bytes_(b) if encoding == "fixed" else b

    kw = {"libver": libver}
    if userblock:
        kw["userblock_size"] = userblock
    with h5py.File(path, "w", **kw) as f:
        f.attrs["keras_version"] = enc(version)
        f.attrs["backend"] = enc("tensorflow")
        f.attrs["model_config"] = enc(json.dumps(config))
        if training:
            f.attrs["training_config"] = enc(json.dumps(TRAINING))
        mw = f.create_group("model_weights")
        layers = weight_shapes(config)
        mw.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        mw.attrs["backend"] = enc("tensorflow")
        mw.attrs["keras_version"] = enc(version)
        for name, weights in sorted(layers):
            g = mw.create_group(name)
            names = [f"{name}/{w}".encode() for w, _ in weights]
            g.attrs["weight_names"] = np.array(names) if names else np.array([], dtype="S1")
            for wname, shape in weights:
                g.create_dataset(f"{name}/{wname}", data=RNG.standard_normal(shape).astype("f4"))
        if training:
            ow = f.create_group("optimizer_weights")
            ow.attrs["weight_names"] = np.array([b"Adam/iter:0"])
            ow.create_dataset("Adam/iter:0", data=np.int64(10))


def save_weights_only(path):
    """model.save_weights("w.h5"): no model_config, a plain HDF5 file."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.12.0"
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        g.create_dataset("dense/kernel:0", data=np.ones((4, 2), "f4"))
        g.create_dataset("dense/bias:0", data=np.zeros(2, "f4"))


# ---------------------------------------------------------------- Keras 3
def k3_layer(cls, name, module="keras.layers", registered=None, **cfg):
    return {"module": module, "class_name": cls,
            "config": {"name": name, "trainable": True,
                       "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                 "config": {"name": "float32"}, "registered_name": None}, **cfg},
            "registered_name": registered, "build_config": {"input_shape": [None, 4]}}


def k3_model(layers):
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": "sequential", "trainable": True, "dtype": "float32",
                       "layers": [{"module": "keras.layers", "class_name": "InputLayer",
                                   "config": {"batch_shape": [None, 4], "dtype": "float32",
                                              "sparse": False, "name": "input_layer"},
                                   "registered_name": None}, *layers]},
            "registered_name": None, "build_config": {"input_shape": [None, 4]},
            "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                             "config": {"name": "adam", "learning_rate": 0.001},
                                             "registered_name": None},
                               "loss": "mean_squared_error", "metrics": None}}


def k3_dense(name="dense", act="relu"):
    return k3_layer("Dense", name, units=2, activation=act, use_bias=True,
                    kernel_initializer={"module": "keras.initializers", "class_name": "GlorotUniform",
                                        "config": {"seed": None}, "registered_name": None})


def weights_h5():
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", data=np.ones((4, 2), "f4"))
        g.create_dataset("1", data=np.zeros(2, "f4"))
        f.create_group("optimizer/vars")
    return buf.getvalue()


def save_keras_zip(path, config):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3", "date_saved": "2024-05-01@00:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights_h5())


def write_json(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2)


PAYLOAD = "lambda x: os.system('true') or x"
EVIL_LAMBDA_K2 = {"class_name": "Lambda", "config": {
    "name": "lambda", "trainable": True, "dtype": "float32",
    "function": [func_dump(PAYLOAD), None, None], "function_type": "lambda", "module": "__main__",
    "output_shape": None, "output_shape_type": "raw", "output_shape_module": None, "arguments": {}}}
EVIL_LAMBDA_K3 = k3_layer("Lambda", "lambda", function={"class_name": "__lambda__", "config": {
    "code": func_dump(PAYLOAD), "defaults": None, "closure": None}}, arguments={})


def big_config(n_layers, extra=()):
    # Enough Dense layers that model_config exceeds 64 KiB.
    layers = [k2_input("dense_input", [4])] + [k2_dense(f"dense_{i}", 4) for i in range(n_layers)]
    return k2_sequential("big", layers + list(extra))


MARSHAL_CASES = [
    "lambda x: os.system('true') or x",
    "lambda x: x * 2.0 + 1j - 10**40",
    "lambda x, y=b'\\x00bytes': [subprocess.Popen(['true'], shell=False) for _ in range(1)]",
    "lambda x: (lambda y: __import__('builtins').exec('pass'))(x)",
    "lambda x: f'{x!r:>10}' + str({1, 2}) + str(frozenset()) + str((1, 'tuple const'))",
    "lambda x: {k: v for k, v in {'key': getattr(x, 'shape', None)}.items()}",
]


def walk_code(code, names, strings):
    names.update(code.co_names)
    for c in code.co_consts:
        walk_const(c, names, strings)


def walk_const(c, names, strings):
    if isinstance(c, types.CodeType):
        walk_code(c, names, strings)
    elif isinstance(c, str):
        strings.add(c)
    elif isinstance(c, (tuple, frozenset)):
        for x in c:
            walk_const(x, names, strings)


def marshal_cases():
    """Marshalled lambdas with the names and strings CPython itself sees."""
    out = []
    for src in MARSHAL_CASES:
        code = lambda_code(src)
        names, strings = set(), set()
        walk_code(code, names, strings)
        out.append({"source": src, "b64": func_dump(src).replace("\n", ""),
                    "names": sorted(names), "strings": sorted(strings)})
    with open("marshal_cases.json", "w") as fh:
        json.dump(out, fh, indent=1)


def main():
    marshal_cases()
    # Benign Keras 2 HDF5 models.
    seq = k2_sequential("sequential", [k2_input("dense_input", [4]), k2_dense("dense", 8), k2_dense("dense_1", 2, "softmax")])
    save_k2_h5("benign_dense.h5", seq)
    save_k2_h5("benign_dense_fixed.h5", seq, encoding="fixed", version="2.4.0")
    save_k2_h5("benign_conv.h5", k2_conv(), libver="latest")
    save_k2_h5("benign_lstm_modules.h5", k2_lstm(modules=True), version="2.15.0")
    save_k2_h5("benign_functional.h5", k2_functional(), training=False)
    save_k2_h5("benign_userblock.h5", seq, userblock=512)
    big = big_config(160)
    assert len(json.dumps(big)) > 64 * 1024
    save_k2_h5("benign_large_vlen.h5", big)
    save_k2_h5("benign_large_dense.h5", big, libver="latest", encoding="fixed")
    # Keras 3 legacy .h5 save: Keras 3 object config in model_config.
    save_k2_h5("benign_keras3_legacy.h5", k3_model([k3_dense()]), version="3.3.3")
    save_weights_only("weights_only.h5")

    # Malicious Keras 2 HDF5 models.
    save_k2_h5("mal_lambda.h5", k2_sequential("sequential", [k2_input("dense_input", [4]), EVIL_LAMBDA_K2, k2_dense("dense", 2)]))
    save_k2_h5("mal_lambda_fixed.h5", k2_functional([{**EVIL_LAMBDA_K2, "name": "lambda",
                                                     "inbound_nodes": [[["out", 0, 0, {}]]]}]), encoding="fixed")
    save_k2_h5("mal_lambda_large_dense.h5", big_config(160, [EVIL_LAMBDA_K2]), libver="latest", encoding="fixed")
    save_k2_h5("mal_lambda_userblock.h5", k2_sequential("s", [EVIL_LAMBDA_K2]), userblock=1024, libver="latest")
    save_k2_h5("mal_module.h5", k3_model([{"module": "subprocess", "class_name": "Popen",
                                           "config": {"args": ["true"]}, "registered_name": None}]), version="3.3.3")
    save_k2_h5("mal_activation.h5", k2_sequential("s", [k2_input("dense_input", [4]), k2_dense("dense", 2, act="os.system")]))
    save_k2_h5("mal_tfop.h5", k2_sequential("s", [k2_input("dense_input", [4]), k2_layer("TFOpLambda", {
        "name": "tf.io.write_file", "trainable": True, "dtype": "float32", "function": "io.write_file"}, True)]))

    # Keras 3 config.json documents and .keras zips.
    benign3 = k3_model([k3_dense(), k3_dense("dense_1", "softmax")])
    write_json("k3_benign_config.json", benign3)
    write_json("k3_lambda_config.json", k3_model([EVIL_LAMBDA_K3]))
    write_json("k3_lambda_value_config.json", k3_model([k3_layer("Lambda", "lambda", function={
        "class_name": "__lambda__", "config": {"value": [func_dump(PAYLOAD), None, None]}})]))
    write_json("k3_popen_config.json", k3_model([{"module": "subprocess", "class_name": "Popen",
                                                   "config": {"args": ["true"]}, "registered_name": None}]))
    write_json("k3_function_config.json", k3_model([k3_dense(act={
        "module": "builtins", "class_name": "function", "config": "exec", "registered_name": None})]))
    # CVE-2025-9906: a function layer turns safe mode off, then a Lambda runs.
    write_json("k3_unsafe_bypass_config.json", k3_model([
        k3_layer("Lambda", "unsafe", function={"module": "keras.config", "class_name": "function",
                                               "config": "enable_unsafe_deserialization",
                                               "registered_name": "function"}, arguments={}),
        EVIL_LAMBDA_K3]))
    write_json("k3_custom_config.json", k3_model([k3_layer("MyBlock", "my_block", module="my_project.layers",
                                                           registered="MyProject>MyBlock", units=4)]))
    write_json("k3_tfop_safe_config.json", k2_sequential("s", [k2_layer("TFOpLambda", {
        "name": "tf.signal.stft", "trainable": True, "dtype": "float32", "function": "signal.stft"}, True)]))
    # model.to_json() of Keras 2: keras_version and backend come last.
    k2json = copy.deepcopy(k2_functional())
    k2json.update({"keras_version": "2.12.0", "backend": "tensorflow"})
    write_json("k2_model.json", k2json)
    save_keras_zip("benign_v3.keras", benign3)
    save_keras_zip("mal_lambda_v3.keras", k3_model([EVIL_LAMBDA_K3]))
    save_keras_zip("mal_popen_v3.keras", k3_model([{"module": "os", "class_name": "system",
                                                    "config": "true", "registered_name": None}]))
    # JSON that must not be taken for a Keras config.
    write_json("not_hf_config.json", {"architectures": ["BertModel"], "model_type": "bert",
                                      "hidden_size": 768, "num_attention_heads": 12})
    write_json("not_tokenizer.json", {"version": "1.0", "truncation": None, "padding": None,
                                      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})

    # Check the layouts that matter actually happened.
    with h5py.File("benign_large_dense.h5") as f:
        assert f.id.get_create_plist().get_version()[0] == 3
        assert f.attrs.get_id("model_config").get_type().get_size() > 64 * 1024


main()
