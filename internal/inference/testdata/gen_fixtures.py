#!/usr/bin/env python3
"""Generate the ONNX fixtures of internal/inference from real scikit-learn
models, and the outputs scikit-learn computes for them.

skl2onnx is not packaged for Debian, so the conversion from fitted
scikit-learn attributes to ONNX nodes is written here with onnx.helper,
following the operator layout skl2onnx uses (LinearClassifier + ZipMap,
Gemm/Relu/Softmax chains, TreeEnsembleClassifier/Regressor).

Run with Debian's python3-sklearn, python3-onnx and python3-numpy:

    /usr/bin/python3 internal/inference/testdata/gen_fixtures.py

Each MODEL.onnx gets MODEL.expected.json: {"inputs": rows, "labels": …,
"scores": …} where inputs are float32-representable and the expectations
come from scikit-learn's predict / predict_proba / predict.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (GradientBoostingClassifier,
                              GradientBoostingRegressor,
                              RandomForestClassifier)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import Normalizer, StandardScaler

OUT = os.path.dirname(os.path.abspath(__file__))
ML = "ai.onnx.ml"
OPSETS = [helper.make_opsetid("", 13), helper.make_opsetid(ML, 3)]


def f32_floor(v):
    """Largest float32 <= v, so that x32 <= f32_floor(t) iff x32 <= t."""
    f = np.float32(v)
    if float(f) > v:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def save(name, graph, inputs, expected):
    model = helper.make_model(graph, opset_imports=OPSETS, producer_name="mlsec-gen_fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    print(f"{name}: {os.path.getsize(path)} bytes")
    if not expected:
        return
    expected = dict(expected, inputs=inputs.astype(np.float64).tolist())
    with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))


def float_input(n):
    return helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, n])


def classifier_outputs(zipmap, n_classes):
    label = helper.make_tensor_value_info("output_label", TensorProto.INT64, [None])
    if zipmap:
        mt = onnx.TypeProto()
        mt.map_type.key_type = TensorProto.INT64
        mt.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
        prob = helper.make_value_info("output_probability", helper.make_sequence_type_proto(mt))
    else:
        prob = helper.make_tensor_value_info("output_probability", TensorProto.FLOAT, [None, n_classes])
    return [label, prob]


def data(n_features, n_classes, seed, n=400):
    X, y = make_classification(n_samples=n, n_features=n_features, n_informative=min(n_features, 5),
                               n_redundant=0, n_classes=n_classes, n_clusters_per_class=1, random_state=seed)
    X = (X * 3 + 1).astype(np.float32)
    return X, y


def logreg():
    X, y = data(6, 2, 1)
    scaler = StandardScaler().fit(X)
    clf = LogisticRegression().fit(scaler.transform(X), y)
    T = X[:60]
    w, b = clf.coef_[0], clf.intercept_[0]
    nodes = [
        helper.make_node("Scaler", ["input"], ["scaled"], domain=ML,
                         offset=scaler.mean_.astype(np.float32).tolist(), scale=(1 / scaler.scale_).astype(np.float32).tolist()),
        helper.make_node("LinearClassifier", ["scaled"], ["output_label", "probability_tensor"], domain=ML,
                         classlabels_ints=[int(c) for c in clf.classes_],
                         coefficients=np.concatenate([-w, w]).astype(np.float32).tolist(),
                         intercepts=[float(-b), float(b)], multi_class=0, post_transform="LOGISTIC"),
        helper.make_node("ZipMap", ["probability_tensor"], ["output_probability"], domain=ML,
                         classlabels_int64s=[int(c) for c in clf.classes_]),
    ]
    g = helper.make_graph(nodes, "logreg", [float_input(6)], classifier_outputs(True, 2))
    Td = scaler.transform(T.astype(np.float64))
    save("logreg", g, T, {"labels": clf.predict(Td).tolist(), "scores": clf.predict_proba(Td).tolist()})


def mlp(name="mlp", hidden=(16, 16), rows=60, seed=2):
    X, y = data(8, 3, seed)
    scaler = StandardScaler().fit(X)
    clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=600, random_state=0).fit(scaler.transform(X), y)
    T = X[:rows]
    inits = [numpy_helper.from_array(np.array(clf.classes_, dtype=np.int64), "classes")]
    nodes = [helper.make_node("Scaler", ["input"], ["h0"], domain=ML,
                              offset=scaler.mean_.astype(np.float32).tolist(), scale=(1 / scaler.scale_).astype(np.float32).tolist())]
    prev = "h0"
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        inits += [numpy_helper.from_array(W.astype(np.float32), f"W{i}"), numpy_helper.from_array(b.astype(np.float32), f"B{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"W{i}", f"B{i}"], [f"z{i}"]))
        last = i == len(clf.coefs_) - 1
        nodes.append(helper.make_node("Softmax" if last else "Relu", [f"z{i}"], [f"a{i}"], **({"axis": 1} if last else {})))
        prev = f"a{i}"
    nodes += [
        helper.make_node("Identity", [prev], ["output_probability"]),
        helper.make_node("ArgMax", [prev], ["argmax"], axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "argmax"], ["output_label"], axis=0),
    ]
    g = helper.make_graph(nodes, name, [float_input(8)], classifier_outputs(False, 3), initializer=inits)
    Td = scaler.transform(T.astype(np.float64))
    save(name, g, T, {"labels": clf.predict(Td).tolist(), "scores": clf.predict_proba(Td).tolist()})


def tree_nodes(trees, value_fn, prefix):
    """Flatten sklearn trees into TreeEnsemble attributes."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                         "nodes_truenodeids", "nodes_falsenodeids", prefix + "treeids", prefix + "nodeids",
                         prefix + "ids", prefix + "weights"]}
    for t, tree in enumerate(trees):
        tr = tree.tree_
        for n in range(tr.node_count):
            leaf = tr.children_left[n] == -1
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(n)
            a["nodes_featureids"].append(0 if leaf else int(tr.feature[n]))
            a["nodes_values"].append(0.0 if leaf else f32_floor(tr.threshold[n]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_truenodeids"].append(0 if leaf else int(tr.children_left[n]))
            a["nodes_falsenodeids"].append(0 if leaf else int(tr.children_right[n]))
            if leaf:
                for cls, w in value_fn(tr, n):
                    a[prefix + "treeids"].append(t)
                    a[prefix + "nodeids"].append(n)
                    a[prefix + "ids"].append(cls)
                    a[prefix + "weights"].append(float(np.float32(w)))
    return a


def forest(name="forest", n_trees=100, depth=5):
    X, y = data(10, 2, 3)
    clf = RandomForestClassifier(n_estimators=n_trees, max_depth=depth, random_state=0).fit(X, y)
    T = X[:80]

    def proba(tr, n):
        v = tr.value[n, 0]
        v = v / v.sum()
        return [(c, p / n_trees) for c, p in enumerate(v)]

    a = tree_nodes(clf.estimators_, proba, "class_")
    node = helper.make_node("TreeEnsembleClassifier", ["input"], ["output_label", "output_probability"], domain=ML,
                            classlabels_int64s=[int(c) for c in clf.classes_], post_transform="NONE", **a)
    g = helper.make_graph([node], name, [float_input(10)], classifier_outputs(False, 2))
    save(name, g, T, {"labels": clf.predict(T).tolist(), "scores": clf.predict_proba(T).tolist()})


def gboost():
    X, y = data(7, 2, 4)
    clf = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(X, y)
    T = X[:80]
    lr = clf.learning_rate
    init = float(clf._raw_predict_init(T[:1])[0, 0])
    a = tree_nodes(clf.estimators_[:, 0], lambda tr, n: [(0, lr * tr.value[n, 0, 0])], "class_")
    node = helper.make_node("TreeEnsembleClassifier", ["input"], ["output_label", "output_probability"], domain=ML,
                            classlabels_int64s=[0, 1], base_values=[init], post_transform="LOGISTIC", **a)
    g = helper.make_graph([node], "gboost", [float_input(7)], classifier_outputs(False, 2))
    save("gboost", g, T, {"labels": clf.predict(T).tolist(), "scores": clf.predict_proba(T).tolist()})


def gbregressor():
    X, y = make_regression(n_samples=300, n_features=5, noise=0.5, random_state=5)
    X = X.astype(np.float32)
    reg = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    T = X[:50]
    lr = reg.learning_rate
    init = float(reg._raw_predict_init(T[:1])[0, 0])
    a = tree_nodes(reg.estimators_[:, 0], lambda tr, n: [(0, lr * tr.value[n, 0, 0])], "target_")
    node = helper.make_node("TreeEnsembleRegressor", ["input"], ["variable"], domain=ML,
                            n_targets=1, base_values=[init], aggregate_function="SUM", post_transform="NONE", **a)
    out = helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])
    g = helper.make_graph([node], "gbregressor", [float_input(5)], [out])
    save("gbregressor", g, T, {"scores": reg.predict(T).reshape(-1, 1).tolist()})


def ridge():
    X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=6)
    X = (X + 3).astype(np.float32)
    norm = Normalizer("l2").fit(X)
    reg = Ridge(alpha=0.5).fit(norm.transform(X), y)
    T = X[:40]
    nodes = [
        helper.make_node("Normalizer", ["input"], ["normed"], domain=ML, norm="L2"),
        helper.make_node("LinearRegressor", ["normed"], ["variable"], domain=ML,
                         coefficients=reg.coef_.astype(np.float32).tolist(), intercepts=[float(reg.intercept_)], targets=1),
    ]
    out = helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])
    g = helper.make_graph(nodes, "ridge", [float_input(4)], [out])
    Td = norm.transform(T.astype(np.float64))
    save("ridge", g, T, {"scores": reg.predict(Td).reshape(-1, 1).tolist()})


def ops():
    """Every core operator the sklearn fixtures do not use, checked against numpy."""
    rng = np.random.RandomState(7)
    X = (rng.randn(12, 4) * 2).astype(np.float32)
    c1 = np.array([0.5, -1, 2, 0], np.float32)
    c2 = np.array([[2.0]], np.float32)
    c3 = np.array([1, 2, 4, 8], np.float32)
    W = rng.randn(4, 3).astype(np.float32)
    inits = [numpy_helper.from_array(c1, "c1"), numpy_helper.from_array(c2, "c2"), numpy_helper.from_array(c3, "c3"),
             numpy_helper.from_array(np.array([-1, 2, 4], np.int64), "shape3"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1"),
             numpy_helper.from_array(np.array(-1.0, np.float32), "lo"), numpy_helper.from_array(np.array(1.0, np.float32), "hi"),
             numpy_helper.from_array(np.array([3, 0], np.int64), "idx")]
    nodes = [
        helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(W)),
        helper.make_node("Sub", ["input", "c1"], ["a"]),
        helper.make_node("Mul", ["a", "c2"], ["b"]),
        helper.make_node("Div", ["b", "c3"], ["d"]),
        helper.make_node("Sigmoid", ["d"], ["s"]),
        helper.make_node("Tanh", ["d"], ["t"]),
        helper.make_node("LogSoftmax", ["d"], ["logsoftmax"], axis=1),
        helper.make_node("Concat", ["s", "t"], ["cat"], axis=1),
        helper.make_node("Unsqueeze", ["cat", "axis1"], ["u"]),
        helper.make_node("Reshape", ["u", "shape3"], ["r"]),
        helper.make_node("Flatten", ["r"], ["flat"], axis=1),
        helper.make_node("MatMul", ["input", "W"], ["matmul"]),
        helper.make_node("Clip", ["matmul", "lo", "hi"], ["clip"]),
        helper.make_node("Cast", ["matmul"], ["cast"], to=TensorProto.INT64),
        helper.make_node("Gather", ["input", "idx"], ["gather"], axis=1),
        helper.make_node("Unsqueeze", ["gather", "axis1"], ["g3"]),
        helper.make_node("Squeeze", ["g3", "axis1"], ["squeeze"]),
        helper.make_node("Relu", ["d"], ["relu"]),
        helper.make_node("Add", ["relu", "c1"], ["add"]),
    ]
    names = ["logsoftmax", "flat", "matmul", "clip", "cast", "squeeze", "add"]
    outs = [helper.make_tensor_value_info(n, TensorProto.INT64 if n == "cast" else TensorProto.FLOAT, [None, None]) for n in names]
    g = helper.make_graph(nodes, "ops", [float_input(4)], outs, initializer=inits)
    x = X.astype(np.float64)
    d = (x - c1) * 2.0 / c3
    sg, th = 1 / (1 + np.exp(-d)), np.tanh(d)
    mm = x @ W.astype(np.float64)
    ls = d - d.max(axis=1, keepdims=True)
    ls = ls - np.log(np.exp(ls).sum(axis=1, keepdims=True))
    res = {"logsoftmax": ls, "flat": np.concatenate([sg, th], axis=1).reshape(12, 8), "matmul": mm,
           "clip": np.clip(mm, -1, 1), "cast": mm.astype(np.float32).astype(np.int64), "squeeze": x[:, [3, 0]],
           "add": np.maximum(d, 0) + c1}
    save("ops", g, X, {"outputs": {k: {"shape": list(v.shape), "data": v.ravel().tolist()} for k, v in res.items()}})


def hostile():
    """Models that must be refused: an unsupported operator, and external
    data that points outside the model's directory (and one inside)."""
    g = helper.make_graph([helper.make_node("Erf", ["input"], ["y"])], "unsupported", [float_input(2)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    save("unsupported", g, np.zeros((1, 2), np.float32), {})
    B = np.array([1, 2], np.float32)
    with open(os.path.join(OUT, "extdata.bin"), "wb") as f:
        f.write(B.tobytes())
    for name, loc in [("extdata", "extdata.bin"), ("escape", "../inference/testdata/extdata.bin"), ("absolute", "/etc/passwd")]:
        t = onnx.TensorProto()
        t.name, t.data_type = "B", TensorProto.FLOAT
        t.dims.extend([2])
        t.data_location = onnx.TensorProto.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", loc
        g = helper.make_graph([helper.make_node("Add", ["input", "B"], ["y"])], name, [float_input(2)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])], initializer=[t])
        model = helper.make_model(g, opset_imports=OPSETS)
        model.ir_version = 8
        onnx.save(model, os.path.join(OUT, name + ".onnx"))


if __name__ == "__main__":
    ops()
    hostile()
    logreg()
    mlp()
    forest()
    gboost()
    gbregressor()
    ridge()
