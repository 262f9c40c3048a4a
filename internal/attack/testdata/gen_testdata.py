#!/usr/bin/env python3
"""Generate the test data of internal/attack.

1. Labelled CSVs for the scikit-learn ONNX fixtures of internal/inference
   (logreg, mlp, forest, gboost): the same make_classification draws that
   gen_fixtures.py trains on, so the evasion and extraction tests attack
   real models on their own data distribution.
2. A membership-inference pair: one data set split into members (the
   training set), non-members and an attacker's population sample, and two
   MLPs trained on the members — one over-fit (wide, unregularised, trained
   to zero training error) and one regularised (small, strong L2) — written
   as ONNX with onnx.helper the way gen_fixtures.py converts MLPClassifier.

Run with Debian's python3-sklearn, python3-onnx and python3-numpy:

    /usr/bin/python3 internal/attack/testdata/gen_testdata.py
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

OUT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(OUT, "..", "..", "inference", "testdata"))
sys.dont_write_bytecode = True
import gen_fixtures  # noqa: E402  (the fixtures' own data recipe)

ML = "ai.onnx.ml"


def write_csv(name, X, y):
    cols = [f"f{i}" for i in range(X.shape[1])] + ["label"]
    with open(os.path.join(OUT, name), "w") as f:
        f.write(",".join(cols) + "\n")
        for row, lab in zip(X, y):
            f.write(",".join(repr(float(np.float32(v))) for v in row) + f",{int(lab)}\n")
    print(f"{name}: {len(y)} rows")


def fixture_data():
    for name, (nf, nc, seed) in {"logreg": (6, 2, 1), "mlp": (8, 3, 2), "forest": (10, 2, 3), "gboost": (7, 2, 4)}.items():
        X, y = gen_fixtures.data(nf, nc, seed)
        write_csv(name + ".csv", X, y)


def mlp_onnx(name, scaler, clf, n_features):
    inits = [numpy_helper.from_array(np.array(clf.classes_, dtype=np.int64), "classes")]
    nodes = [helper.make_node("Scaler", ["input"], ["h0"], domain=ML,
                              offset=scaler.mean_.astype(np.float32).tolist(),
                              scale=(1 / scaler.scale_).astype(np.float32).tolist())]
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
    g = helper.make_graph(nodes, name, [gen_fixtures.float_input(n_features)],
                          gen_fixtures.classifier_outputs(False, len(clf.classes_)), initializer=inits)
    model = helper.make_model(g, opset_imports=gen_fixtures.OPSETS, producer_name="mlsec-gen_testdata")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


def membership():
    X, y = make_classification(n_samples=900, n_features=10, n_informative=6, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, flip_y=0.15, class_sep=0.8, random_state=11)
    X = (X * 2 + 5).astype(np.float32)
    mem, non, pop = slice(0, 300), slice(300, 600), slice(600, 900)
    write_csv("mia_members.csv", X[mem], y[mem])
    write_csv("mia_nonmembers.csv", X[non], y[non])
    write_csv("mia_population.csv", X[pop], y[pop])
    scaler = StandardScaler().fit(X[mem])
    Xm = scaler.transform(X[mem].astype(np.float64))
    models = {
        "mia_overfit": MLPClassifier(hidden_layer_sizes=(128, 128), alpha=1e-6, max_iter=3000, tol=1e-7,
                                     n_iter_no_change=3000, random_state=0),
        "mia_regularised": MLPClassifier(hidden_layer_sizes=(8,), alpha=3.0, max_iter=2000, random_state=0),
    }
    for name, clf in models.items():
        clf.fit(Xm, y[mem])
        mlp_onnx(name, scaler, clf, X.shape[1])
        p_in = clf.predict_proba(Xm)[np.arange(300), y[mem]]
        p_out = clf.predict_proba(scaler.transform(X[non].astype(np.float64)))[np.arange(300), y[non]]
        auc = roc_auc_score(np.r_[np.ones(300), np.zeros(300)], np.r_[p_in, p_out])
        print(f"{name}: train acc {clf.score(Xm, y[mem]):.3f}, "
              f"test acc {clf.score(scaler.transform(X[non].astype(np.float64)), y[non]):.3f}, loss-attack AUC {auc:.3f}")


if __name__ == "__main__":
    fixture_data()
    membership()
