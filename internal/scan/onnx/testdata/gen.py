#!/usr/bin/python3
"""Generate ONNX fixtures with the real onnx library (run from this directory).

valid_*  : benign models, must scan clean (info findings allowed).
custom_* : custom operator domain, medium finding.
mal_*    : external-data path traversal, high finding. The referenced files are
           never read; the models are never loaded.
invalid_*: not decodable, inconclusive.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def mlp(name="mlp", w_external=None, extra_nodes=(), extra_inits=(), opsets=OPSET, functions=None):
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "W1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "B1")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 2)).astype(np.float32), "W2")
    if w_external is not None:
        w1.ClearField("raw_data")
        w1.data_location = TensorProto.EXTERNAL
        for k, v in (("location", w_external), ("offset", "0"), ("length", "128")):
            e = w1.external_data.add()
            e.key, e.value = k, v
    nodes = [
        helper.make_node("MatMul", ["X", "W1"], ["H0"], name="fc1"),
        helper.make_node("Add", ["H0", "B1"], ["H1"], name="bias1"),
        helper.make_node("Relu", ["H1"], ["H2"], name="relu"),
        helper.make_node("MatMul", ["H2", "W2"], ["Y"], name="fc2"),
    ] + list(extra_nodes)
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 2])],
                          [w1, b1, w2] + list(extra_inits))
    kw = {"opset_imports": opsets, "producer_name": "mlsec-fixtures"}
    if functions:
        kw["functions"] = functions
    return helper.make_model(g, **kw)


def save(m, path, check=True):
    if check:
        onnx.checker.check_model(m)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


save(mlp(), "valid_mlp.onnx")

# Legitimate external data, written by onnx itself next to the model.
m = mlp()
onnx.save_model(m, "valid_external_data.onnx", save_as_external_data=True,
                all_tensors_to_one_file=True, location="valid_external_data.onnx.data",
                size_threshold=0)

save(mlp(w_external="../../etc/passwd"), "mal_external_traversal.onnx", check=False)
save(mlp(w_external="/etc/passwd"), "mal_external_absolute.onnx", check=False)
save(mlp(w_external="weights/../../../../root/.ssh/id_rsa"), "mal_external_nested_traversal.onnx", check=False)
save(mlp(w_external="C:\\Windows\\win.ini"), "mal_external_drive.onnx", check=False)
save(mlp(w_external="file:///etc/shadow"), "mal_external_url.onnx", check=False)


def branch(name, out, external=None):
    t = numpy_helper.from_array(np.ones(2, np.float32), name + "_c")
    if external:
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", external
    return helper.make_graph([helper.make_node("Identity", [name + "_c"], [out])], name, [],
                             [helper.make_tensor_value_info(out, TensorProto.FLOAT, [2])], [t])


def if_model(external=None):
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    node = helper.make_node("If", ["cond"], ["Z"], name="if0",
                            then_branch=branch("then", "t_out"),
                            else_branch=branch("else", "e_out", external))
    g = helper.make_graph([node], "ifgraph", [cond], [helper.make_tensor_value_info("Z", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=OPSET, producer_name="mlsec-fixtures")


save(if_model(), "valid_if_subgraph.onnx")
save(if_model("../../../etc/hosts"), "mal_if_subgraph_traversal.onnx", check=False)

# Loop whose body nests an If whose branch escapes.
inner_if = helper.make_node("If", ["c_in"], ["v"], name="inner_if",
                            then_branch=branch("t2", "o1"), else_branch=branch("e2", "o2", "/proc/self/environ"))
body = helper.make_graph([inner_if, helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
                         [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                          helper.make_tensor_value_info("c_in", TensorProto.BOOL, [])],
                         [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
                          helper.make_tensor_value_info("v", TensorProto.FLOAT, [2])])
loop = helper.make_node("Loop", ["M", "cond"], ["scan_v"], name="loop", body=body)
g = helper.make_graph([loop], "loopgraph",
                      [helper.make_tensor_value_info("M", TensorProto.INT64, []),
                       helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                      [helper.make_tensor_value_info("scan_v", TensorProto.FLOAT, [None, 2])])
save(helper.make_model(g, opset_imports=OPSET), "mal_loop_nested_traversal.onnx", check=False)

# Custom operator domain: needs a native custom-op library at run time.
custom = mlp(extra_nodes=[helper.make_node("RunShell", ["Y"], ["Y2"], name="custom0", domain="com.example.evil")],
             opsets=OPSET + [helper.make_opsetid("com.example.evil", 1)])
save(custom, "custom_domain.onnx", check=False)

# ONNX Runtime contrib ops are built in: no finding.
contrib = mlp(extra_nodes=[helper.make_node("FastGelu", ["Y"], ["Y2"], name="gelu", domain="com.microsoft")],
              opsets=OPSET + [helper.make_opsetid("com.microsoft", 1)])
save(contrib, "valid_contrib_op.onnx", check=False)

# Model-local function in its own domain, called from the graph.
fn = helper.make_function("local.fns", "Twice", ["a"], ["b"],
                          [helper.make_node("Add", ["a", "a"], ["b"])], [helper.make_opsetid("", 17)])
local = mlp(extra_nodes=[helper.make_node("Twice", ["Y"], ["Y2"], name="twice", domain="local.fns")],
            opsets=OPSET + [helper.make_opsetid("local.fns", 1)], functions=[fn])
save(local, "valid_local_function.onnx")

b = open("valid_mlp.onnx", "rb").read()
open("invalid_truncated.onnx", "wb").write(b[: len(b) // 2])
open("invalid_garbled.onnx", "wb").write(b[:40] + bytes((x * 7 + 3) & 0xFF for x in range(200)))
