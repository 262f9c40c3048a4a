#!/usr/bin/python3
"""Generate TensorFlow SavedModel / GraphDef fixtures (run from this directory).

TensorFlow is not installed here, so the protobuf bytes are written by a tiny
encoder following the field numbers of tensorflow/core/protobuf/saved_model.proto,
meta_graph.proto and tensorflow/core/framework/{graph,node_def,function,
attr_value,tensor,op_def}.proto. Prefixes: valid_ (clean), mal_ (high or
critical), medium_ (medium only), invalid_ (inconclusive). Nothing here is
ever executed: the "payloads" are op names and harmless paths.
"""
import os
import struct

import numpy as np


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_bytes(num, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def f_varint(num, v):
    return varint(num << 3) + varint(v)


DT_FLOAT, DT_STRING = 1, 7


def attr_entry(key, value):  # map<string, AttrValue> entry
    return f_bytes(5, f_bytes(1, key) + f_bytes(2, value))


def av_s(s):
    return f_bytes(2, s)


def av_type(t):
    return f_varint(6, t)


def av_list_s(items):
    return f_bytes(1, b"".join(f_bytes(2, s) for s in items))


def shape(dims):
    return b"".join(f_bytes(2, f_varint(1, d)) for d in dims)


def tensor_float(arr):
    return f_varint(1, DT_FLOAT) + f_bytes(2, shape(arr.shape)) + f_bytes(4, arr.astype("<f4").tobytes())


def tensor_string(values):
    return f_varint(1, DT_STRING) + f_bytes(2, shape([len(values)] if len(values) != 1 else [])) + \
        b"".join(f_bytes(8, v) for v in values)


def node(name, op, inputs=(), attrs=(), device=""):
    b = f_bytes(1, name) + f_bytes(2, op)
    for i in inputs:
        b += f_bytes(3, i)
    if device:
        b += f_bytes(4, device)
    for k, v in attrs:
        b += attr_entry(k, v)
    return b


def const_str(name, value):
    return node(name, "Const", attrs=[("dtype", av_type(DT_STRING)), ("value", f_bytes(8, tensor_string([value])))])


def const_float(name, arr):
    return node(name, "Const", attrs=[("dtype", av_type(DT_FLOAT)), ("value", f_bytes(8, tensor_float(arr)))])


def graph(nodes, functions=()):
    b = b"".join(f_bytes(1, n) for n in nodes)
    if functions:
        b += f_bytes(2, b"".join(f_bytes(1, fn) for fn in functions))
    return b + f_bytes(4, f_varint(1, 1087) + f_varint(2, 0))  # versions {producer, min_consumer}


def function(name, nodes, ret=()):
    sig = f_bytes(1, name) + f_bytes(2, f_bytes(1, "x") + f_varint(3, DT_FLOAT))
    b = f_bytes(1, sig) + b"".join(f_bytes(3, n) for n in nodes)
    for k, v in ret:
        b += f_bytes(4, f_bytes(1, k) + f_bytes(2, v))
    return b


def saved_model(graph_bytes, tags=("serve",)):
    info = f_bytes(1, "") + b"".join(f_bytes(4, t) for t in tags) + f_bytes(5, "2.15.0") + f_bytes(6, "v2.15.0-0")
    saver = f_bytes(1, "saver_filename:0") + f_bytes(2, "StatefulPartitionedCall_1:0") + \
        f_bytes(3, "StatefulPartitionedCall_2:0") + f_varint(4, 5)
    sig = f_bytes(5, f_bytes(1, "serving_default") + f_bytes(2, f_bytes(3, "tensorflow/serving/predict")))
    mg = f_bytes(1, info) + f_bytes(2, graph_bytes) + f_bytes(3, saver) + sig
    return f_varint(1, 1) + f_bytes(2, mg)


def write(path, data):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


rng = np.random.default_rng(3)
MLP = [
    node("x", "Placeholder", attrs=[("dtype", av_type(DT_FLOAT)), ("shape", f_bytes(7, shape([1, 4])))]),
    const_float("dense/kernel", rng.standard_normal((4, 8))),
    const_float("dense/bias", np.zeros(8)),
    node("dense/MatMul", "MatMul", ["x", "dense/kernel"], [("T", av_type(DT_FLOAT))]),
    node("dense/BiasAdd", "BiasAdd", ["dense/MatMul", "dense/bias"], [("T", av_type(DT_FLOAT))]),
    node("dense/Relu", "Relu", ["dense/BiasAdd"], [("T", av_type(DT_FLOAT))]),
    node("Identity", "Identity", ["dense/Relu"], [("T", av_type(DT_FLOAT))]),
]
write("valid_frozen_mlp.pb", graph(MLP))

# A TF1-style saver graph: SaveV2 fed by the Const "model" the loader overrides,
# plus a TF2-style saver function fed by its argument. Both are normal.
SAVER = [
    const_str("save/Const", "model"),
    node("save/filename", "PlaceholderWithDefault", ["save/Const"], [("dtype", av_type(DT_STRING))]),
    const_str("save/SaveV2/tensor_names", "dense/kernel"),
    const_str("save/SaveV2/shape_and_slices", ""),
    node("save/SaveV2", "SaveV2", ["save/filename", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices", "dense/kernel"],
         [("dtypes", f_bytes(1, f_varint(6, DT_FLOAT)))]),
    node("save/RestoreV2", "RestoreV2", ["save/filename", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices"]),
    node("saver_filename", "Placeholder", attrs=[("dtype", av_type(DT_STRING))]),
]
saver_fn = function("__inference__traced_save_42", [
    const_str("StringJoin/inputs_1", "_temp/part"),
    node("StringJoin", "StringJoin", ["file_prefix", "StringJoin/inputs_1:output:0"], [("separator", av_s(""))]),
    node("SaveV2", "SaveV2", ["StringJoin:output:0", "names", "slices", "x"]),
    node("MergeV2Checkpoints", "MergeV2Checkpoints", ["checkpoint_files", "file_prefix"]),
])
serve_fn = function("__inference_serve_17", [
    node("MatMul", "MatMul", ["x", "kernel"]),
    node("Relu", "Relu", ["MatMul:product:0"]),
    node("Identity", "Identity", ["Relu:activations:0"]),
    node("ReadVariableOp", "ReadVariableOp", ["resource"]),
], ret=[("output_0", "Identity:output:0")])
sm = saved_model(graph(MLP + SAVER, [saver_fn, serve_fn]))
write("valid_saved_model.pb", sm)
write("valid_savedmodel_dir/saved_model.pb", sm)
write("valid_savedmodel_dir/variables/variables.index", b"\x00\x00" + bytes(range(40)))
write("valid_savedmodel_dir/variables/variables.data-00000-of-00001", rng.standard_normal(32).astype("<f4").tobytes())
write("valid_savedmodel_dir/fingerprint.pb", f_varint(1, 1234567) + f_varint(2, 7654321) + f_varint(3, 42))
# Table initialised from a relative asset path: normal for text models.
write("valid_vocab_table.pb", graph(MLP + [
    const_str("asset_path", "assets/vocab.txt"),
    node("table", "HashTableV2", attrs=[("key_dtype", av_type(DT_STRING))]),
    node("init", "InitializeTableFromTextFileV2", ["table", "asset_path"]),
    node("print", "PrintV2", ["x"], [("output_stream", av_s("stderr"))]),
]))

pyfunc = node("PyFunc", "PyFunc", ["x"], [("token", av_s("pyfunc_0")), ("Tin", f_bytes(1, f_varint(6, DT_FLOAT))),
                                          ("Tout", f_bytes(1, f_varint(6, DT_FLOAT)))])
write("mal_pyfunc_graphdef.pb", graph(MLP + [pyfunc]))
eager = function("__inference_call_99", [
    node("EagerPyFunc", "EagerPyFunc", ["x"], [("token", av_s("pyfunc_1")), ("is_async", f_varint(5, 0))]),
])
write("mal_eagerpyfunc_savedmodel.pb", saved_model(graph(MLP, [serve_fn, eager])))

write("mal_readfile_absolute.pb", graph(MLP + [
    const_str("ReadFile/filename", "/etc/passwd"),
    node("ReadFile", "ReadFile", ["ReadFile/filename"]),
]))
write("mal_writefile.pb", graph(MLP + [
    const_str("path", "startup.sh"), const_str("contents", "true"),
    node("WriteFile", "WriteFile", ["path", "contents"]),
]))
write("mal_writefile_in_function.pb", saved_model(graph(MLP, [serve_fn, function("__inference_pwn_7", [
    const_str("a", "/tmp/"), const_str("b", "mlsec-fixture"),
    node("join", "StringJoin", ["a:output:0", "b:output:0"]),
    node("id", "Identity", ["join:output:0"]),
    const_str("c", "true"),
    node("WriteFile", "WriteFile", ["id:output:0", "c:output:0"]),
])])))
write("mal_printv2_to_file.pb", graph(MLP + [
    node("print", "PrintV2", ["x"], [("output_stream", av_s("file:///tmp/mlsec-fixture.log"))]),
]))
write("mal_rpc_client.pb", graph(MLP + [
    const_str("addr", "attacker.invalid:50051"),
    node("client", "RpcClient", ["addr", "timeout"], [("shared_name", av_s("c"))]),
]))
write("mal_savev2_absolute.pb", graph(MLP + [
    const_str("prefix", "/etc/cron.d/mlsec"),
    node("save", "SaveV2", ["prefix", "names", "slices", "dense/kernel"]),
]))
write("mal_dataset_traversal.pb", graph(MLP + [
    const_str("files", "../../../../etc/shadow"),
    node("ds", "TextLineDataset", ["files", "compression", "buffer"]),
]))
write("medium_readfile_from_input.pb", graph(MLP + [
    node("path", "Placeholder", attrs=[("dtype", av_type(DT_STRING))]),
    node("ReadFile", "ReadFile", ["path"]),
]))
write("medium_debug_sink.pb", graph(MLP + [
    node("dbg", "DebugIdentity", ["x"], [("debug_urls", av_list_s(["file:///tmp/dump"]))]),
]))

write("invalid_truncated_saved_model.pb", sm[: len(sm) // 2])
g = graph(MLP)
write("invalid_truncated_graphdef.pb", g[: len(g) - 12])
write("invalid_garbled_saved_model.pb", sm[:30] + bytes((i * 37 + 11) & 0xFF for i in range(300)))

# Keras SavedModel metadata (keras/protobuf/saved_metadata.proto).
import json  # noqa: E402


def saved_object(node_id, path, ident, meta):
    b = f_bytes(1, f_varint(1, 2) + f_varint(2, 1)) + f_varint(2, node_id) + f_bytes(3, path) + f_bytes(4, ident)
    return f_bytes(1, b + f_bytes(5, json.dumps(meta)))


dense = {"name": "dense", "trainable": True, "dtype": "float32", "class_name": "Dense",
         "config": {"name": "dense", "units": 8, "activation": "relu", "use_bias": True}}
model = {"name": "sequential", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32"}},
    {"class_name": "Dense", "config": dense["config"]}]}}
write("valid_keras_savedmodel/keras_metadata.pb",
      saved_object(0, "root", "_tf_keras_sequential", model) + saved_object(1, "root.layer_with_weights-0", "_tf_keras_layer", dense))
write("valid_keras_savedmodel/saved_model.pb", sm)
write("valid_keras_savedmodel/fingerprint.pb", f_varint(1, 99) + f_varint(2, 98) + f_varint(3, 97) + f_varint(4, 96) + f_varint(5, 95))

code = "4wEAAAAAAAAAAAAAAAEAAAADAAAAUwAAAHMEAAAAfABTAKkBTqkAqQHaAXhyAgAAAHICAAAA+h48aXB5dGhvbi1pbnB1dC0yLTY2ZDc0MjAxNDk1Mz7aCDxsYW1iZGE+AQAAAPMAAAAA\n"
lam = {"name": "lambda", "class_name": "Lambda", "config": {
    "name": "lambda", "trainable": True, "dtype": "float32", "function": [code, None, None],
    "function_type": "lambda", "module": "__main__", "output_shape": None, "arguments": {}}}
write("mal_keras_lambda/keras_metadata.pb",
      saved_object(0, "root", "_tf_keras_sequential", {"class_name": "Sequential", "config": {"layers": [lam]}}) +
      saved_object(1, "root.layer-0", "_tf_keras_layer", lam))
write("mal_keras_lambda/saved_model.pb", sm)
fn = {"name": "lambda_1", "class_name": "Lambda", "config": {"name": "lambda_1", "function": "system",
                                                              "function_type": "function", "module": "os"}}
write("mal_keras_lambda_module/keras_metadata.pb", saved_object(1, "root.layer-0", "_tf_keras_layer", fn))

# An asset whose filename climbs out of the assets directory.
info = f_bytes(4, "serve")
asset = f_bytes(6, f_bytes(1, f_bytes(1, "Const_3:0")) + f_bytes(2, "../../../../etc/passwd"))
write("mal_asset_traversal.pb", f_varint(1, 1) + f_bytes(2, f_bytes(1, info) + f_bytes(2, graph(MLP)) + asset))

# Text format (saved_model.pbtxt / tf.io.write_graph(as_text=True)).
write("valid_graph.pbtxt", '''node {
  name: "x"
  op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: 1 } dim { size: 4 } } } }
}
node {
  name: "w"
  op: "Const"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr {
    key: "value"
    value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 4 } } tensor_content: "\\000\\000\\200?\\000\\000\\200?\\000\\000\\200?\\000\\000\\200?" } }
  }
}
node { name: "y" op: "Mul" input: "x" input: "w" attr { key: "T" value { type: DT_FLOAT } } }
# the loader feeds the saver its path
node { name: "save/Const" op: "Const" attr { key: "value" value { tensor { dtype: DT_STRING string_val: "model" } } } }
node { name: "save/SaveV2" op: "SaveV2" input: "save/Const" input: "names" input: "slices" input: "w" }
versions { producer: 1087 }
''')
write("mal_pyfunc_savedmodel.pbtxt", '''saved_model_schema_version: 1
meta_graphs {
  meta_info_def { tags: "serve" tensorflow_version: "2.15.0" }
  graph_def {
    node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
    library {
      function {
        signature { name: "__inference_call_5" input_arg { name: "x" type: DT_FLOAT } }
        node_def {
          name: "EagerPyFunc"
          op: "EagerPyFunc"
          input: "x"
          attr { key: "token" value { s: "pyfunc_3" } }
          attr { key: "Tin" value { list { type: DT_FLOAT } } }
        }
      }
    }
  }
}
''')
write("mal_readfile.pbtxt", '''# frozen graph exported as text
node { name: "f" op: "Const" attr { key: "dtype" value { type: DT_STRING } }
       attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape {} string_val: "\\057etc/\\x70asswd" } } } }
node { name: "r" op: "ReadFile" input: "f" }
''')
write("invalid_unterminated.pbtxt", 'node {\n  name: "x"\n  op: "Placeholder"\n  attr { key: "dtype" value { type: DT_FLOAT }\n')
