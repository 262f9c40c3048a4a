#!/usr/bin/python3
"""Generate the pickle engine's fixtures with the real libraries.

Run by hand: /usr/bin/python3 testdata/gen.py (from internal/scan/pickle).

benign/    real pickles made by pickle, numpy, scikit-learn, torch, joblib,
           scipy, dill and cloudpickle: the scanner must report NOTHING.
malicious/ hand-assembled or __reduce__-built pickles with harmless payloads
           (os.system('true') and friends). They are only ever written,
           never loaded.
grey/      code by value (dill/cloudpickle functions): flagged high.

Nothing here unpickles anything.
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(kind, name, data):
    d = os.path.join(HERE, kind)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 1 << 20, name
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- benign

DATA = {
    "name": "model",
    "layers": [1, 2, 3],
    "lr": 0.01,
    "tags": ("a", "b"),
    "blob": b"\x00\x01binary\xff",
    "ba": bytearray(b"xyz"),
    "set": {1, 2},
    "fs": frozenset({"x"}),
    "big": 2 ** 100,
    "neg": -(2 ** 70),
    "c": complex(1, 2),
    "none": None,
    "flags": [True, False],
    "uni": "caf\u00e9 \u2603 \\ 'q' \"dq\"\nnl",
    "sl": slice(1, 5, 2),
    "rng": range(3),
    "od": collections.OrderedDict(a=1),
    "dd": collections.defaultdict(list, {"k": [1]}),
    "cnt": collections.Counter("aab"),
    "dq": collections.deque([1, 2]),
    "doc": "call os.system or eval(exec) __reduce__ subprocess.Popen; cos\nsystem\n",
}
for proto in range(0, 6):
    out("benign", "builtins_p%d.pkl" % proto, pickle.dumps(DATA, protocol=proto))

shared = [1, 2]
selfref = [shared, shared]
selfref.append(selfref)
out("benign", "shared_refs_p2.pkl", pickle.dumps(selfref, protocol=2))
out("benign", "shared_refs_p0.pkl", pickle.dumps(selfref, protocol=0))
out("benign", "concat_two.pkl", pickle.dumps({"a": 1}, protocol=2) + pickle.dumps([1.5, "x"], protocol=4))

arrays = {
    "f4": np.arange(12, dtype=np.float32).reshape(3, 4),
    "i8": np.arange(5),
    "bool": np.array([True, False]),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "struct": np.zeros(2, dtype=[("a", "f4"), ("b", "i2")]),
    "obj": np.array(["a", 1, None], dtype=object),
    "dt": np.array(["2020-01-01"], dtype="datetime64[ns]"),
    "u": np.array(["abc", "de"]),
    "scalar": np.float64(1.5),
    "i32": np.int32(7),
    "c": np.array([1 + 2j]),
    "empty": np.zeros((0, 3)),
}
for proto in (2, 3, 4, 5):
    out("benign", "numpy_p%d.pkl" % proto, pickle.dumps(arrays, protocol=proto))
out("benign", "numpy_random.pkl", pickle.dumps({"rs": np.random.RandomState(0), "g": np.random.default_rng(0)}, protocol=4))

import scipy.sparse as sp  # noqa: E402

out("benign", "scipy_sparse.pkl", pickle.dumps({"csr": sp.csr_matrix(np.eye(3)), "coo": sp.coo_matrix(np.eye(2)), "csc": sp.csc_matrix(np.eye(2))}, protocol=4))

from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

rng = np.random.RandomState(0)
X = rng.rand(40, 4)
y = (X[:, 0] > 0.5).astype(int)
models = {
    "pipeline": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]),
    "rf": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0),
    "gb": GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0),
    "svc": SVC(),
    "kmeans": KMeans(n_clusters=2, n_init=2, random_state=0),
    "pca": PCA(n_components=2),
    "tree": DecisionTreeClassifier(max_depth=3),
}
import joblib  # noqa: E402

for name, m in models.items():
    if name in ("kmeans", "pca"):
        m.fit(X)
    else:
        m.fit(X, y)
    out("benign", "sklearn_%s.pkl" % name, pickle.dumps(m, protocol=4))
    b = io.BytesIO()
    joblib.dump(m, b)
    out("benign", "sklearn_%s.joblib" % name, b.getvalue())

# joblib to a real file: array data is aligned with padding bytes.
tmp = os.path.join(HERE, "_tmp.joblib")
joblib.dump(arrays, tmp)
out("benign", "joblib_arrays_aligned.joblib", open(tmp, "rb").read())
joblib.dump(models["rf"], tmp, protocol=2)
out("benign", "joblib_rf_p2.joblib", open(tmp, "rb").read())
os.remove(tmp)
b = io.BytesIO()
joblib.dump(arrays, b)  # BytesIO: tell() works, aligned too
out("benign", "joblib_arrays.joblib", b.getvalue())

import torch  # noqa: E402


def torch_pickle(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    z = zipfile.ZipFile(io.BytesIO(b.getvalue()))
    for n in z.namelist():
        if n.endswith("data.pkl"):
            return z.read(n)
    raise SystemExit("no data.pkl")


net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(3, 2))
out("benign", "torch_state_dict.pkl", torch_pickle(net.state_dict()))
out("benign", "torch_full_model.pkl", torch_pickle(net))
out("benign", "torch_transformer_layer.pkl", torch_pickle(torch.nn.TransformerEncoderLayer(8, 2, 16)))
import argparse  # noqa: E402

out("benign", "numpy_ufunc_namespace.pkl", pickle.dumps({"f": np.log1p, "g": np.add, "ns": argparse.Namespace(lr=0.1, name="x")}, protocol=2))


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.bn = torch.nn.BatchNorm2d(2)
        self.emb = torch.nn.Embedding(10, 4)
        self.lstm = torch.nn.LSTM(4, 4)
        self.ln = torch.nn.LayerNorm(4)


Small.__module__ = "mymodels"
out("benign", "torch_checkpoint.pkl", torch_pickle({
    "epoch": 3,
    "model": Small().state_dict(),
    "optim": torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9).state_dict(),
    "dtype": torch.float16,
    "size": torch.Size([2, 3]),
    "dev": torch.device("cpu"),
    "int": torch.tensor([1, 2], dtype=torch.int64),
    "half": torch.zeros(2, dtype=torch.bfloat16),
}))

def torch_legacy(obj):
    b = io.BytesIO()
    torch.save(obj, b, _use_new_zipfile_serialization=False)
    return b.getvalue()


out("benign", "torch_legacy_state_dict.pt", torch_legacy(net.state_dict()))
out("benign", "torch_legacy_full_model.pt", torch_legacy(net))

import dill  # noqa: E402
import cloudpickle  # noqa: E402

plain = {"a": [1, 2.5, "x"], "b": (None, True), "arr": np.arange(3)}
out("benign", "dill_plain.pkl", dill.dumps(plain))
out("benign", "cloudpickle_plain.pkl", cloudpickle.dumps(plain))
out("grey", "dill_function.pkl", dill.dumps(lambda x: x * 2 + 1))
out("grey", "cloudpickle_function.pkl", cloudpickle.dumps(lambda x: x * 2 + 1))

# ---------------------------------------------------------------- malicious


class R:
    """Pickles as fn(*args) through __reduce__; never loaded."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


# Real pickler output referencing real callables (pickling does not call them).
out("malicious", "posix_system_p2.pkl", pickle.dumps(R(os.system, "true"), protocol=2))
out("malicious", "posix_system_p5.pkl", pickle.dumps(R(os.system, "true"), protocol=5))
out("malicious", "posix_system_p1.pkl", pickle.dumps(R(os.system, "true"), protocol=1))
evil_in_data = dict(arrays)
evil_in_data["zz_evil"] = R(os.system, "true")
b = io.BytesIO()
joblib.dump(evil_in_data, b)
out("malicious", "joblib_payload_after_arrays.joblib", b.getvalue())
evil_obj = np.array([1, R(os.system, "true")], dtype=object)
b = io.BytesIO()
joblib.dump({"w": np.arange(4.0), "o": evil_obj}, b)
out("malicious", "joblib_object_array_payload.joblib", b.getvalue())
state = net.state_dict()
state["zz"] = R(os.system, "true")
out("malicious", "torch_state_dict_injected.pkl", torch_pickle(state))
out("malicious", "torch_legacy_injected.pt", torch_legacy(state))
import functools  # noqa: E402

out("malicious", "functools_partial_os_system.pkl", pickle.dumps({"f": functools.partial(os.system, "true")}, protocol=4))


def op(*parts):
    b = b""
    for p in parts:
        b += p if isinstance(p, bytes) else p.encode("latin-1")
    return b


def su(s):  # SHORT_BINUNICODE
    s = s.encode()
    return b"\x8c" + bytes([len(s)]) + s


def bu(s):  # BINUNICODE
    s = s.encode()
    return b"X" + struct.pack("<I", len(s)) + s


def sg(mod, name):  # STACK_GLOBAL
    return su(mod) + su(name) + b"\x93"


P2, P4 = b"\x80\x02", b"\x80\x04"
hand = {
    # protocol 0 forms
    "inst_p0.pkl": op("(S'true'\nios\nsystem\n."),
    "builtin_py2_eval_p0.pkl": op("c__builtin__\neval\n(S'1+1'\ntR."),
    "unicode_escape_p0.pkl": op("cos\nsystem\n(V\\u0074rue\ntR."),
    "long_text_args_p0.pkl": op("csubprocess\ncall\n((S'true'\nI01\nL5L\nltR."),
    "commands_py2_p0.pkl": op("ccommands\ngetoutput\n(S'true'\ntR."),
    # STACK_GLOBAL variants
    "stack_global_dotted_torch_hub.pkl": op(P4, sg("torch", "hub.load"), su("x/y"), su("m"), b"\x86R."),
    "stack_global_module_attr_os.pkl": op(P4, sg("torch.nn.modules.module", "os.system"), su("true"), b"\x85R."),
    "stack_global_computed_module.pkl": op(P4, sg("_codecs", "encode"), su("bf"), su("rot13"), b"\x86R", su("flfgrz"), b"\x93", su("true"), b"\x85R."),
    "memo_long_binput.pkl": op(P2, b"cposix\nsystem\nr\x00\x01\x00\x00", b"0", b"j\x00\x01\x00\x00", bu("true"), b"\x85R."),
    "memo_text_put_get.pkl": op("cos\nsystem\np9\n0g9\n(S'true'\ntR."),
    # object construction opcodes
    "newobj_popen.pkl": op(P2, b"csubprocess\nPopen\n", bu("true"), b"\x85\x81."),
    "newobj_ex_popen.pkl": op(P4, sg("subprocess", "Popen"), su("true"), b"\x85}\x92."),
    "obj_p1_system.pkl": op("(cos\nsystem\nX\x04\x00\x00\x00trueo."),
    "build_setstate_global.pkl": op(P2, b"ccollections\nOrderedDict\nN}X\x03\x00\x00\x00fooK\x01s\x86b."),
    "build_setattr_dangerous.pkl": op(P2, b"ccollections\nOrderedDict\nN}X\x08\x00\x00\x00__repr__cos\nsystem\ns\x86b."),
    # nested and indirect
    "nested_pickle_loads.pkl": op(P2, b"c_pickle\nloads\nC", bytes([len(pickle.dumps(R(os.system, "true"), protocol=2))]), pickle.dumps(R(os.system, "true"), protocol=2), b"\x85R."),
    "getattr_import_chain.pkl": op(P2, b"cbuiltins\ngetattr\ncbuiltins\n__import__\nX\x02\x00\x00\x00os\x85RX\x06\x00\x00\x00system\x86RX\x04\x00\x00\x00true\x85R."),
    "getattr_safe_target_string.pkl": op(P2, b"cbuiltins\ngetattr\nccollections\nOrderedDict\nX\x06\x00\x00\x00system\x86R."),
    "partial_call.pkl": op(P2, b"cfunctools\npartial\ncos\nsystem\nX\x04\x00\x00\x00true\x86R)R."),
    "call_of_call_result.pkl": op(P2, b"cmyhelpers\nfactory\n)R)R."),
    "methodcaller.pkl": op(P4, sg("operator", "methodcaller"), su("system"), su("true"), b"\x86R", sg("os", "getcwd"), b")R\x85R."),
    "ext1_code.pkl": op(P2, b"\x82\x01X\x04\x00\x00\x00true\x85R."),
    "ext2_code.pkl": op(P2, b"\x83\x01\x02X\x04\x00\x00\x00true\x85R."),
    "numpy_runstring.pkl": op(P2, b"cnumpy.testing._private.utils\nrunstring\nX\x04\x00\x00\x00pass}\x86R."),
    "asyncio_subprocess.pkl": op(P4, sg("asyncio.subprocess", "create_subprocess_shell"), su("true"), b"\x85R."),
    "webbrowser_open.pkl": op(P4, sg("webbrowser", "open"), su("http://127.0.0.1:9/"), b"\x85R."),
    "timeit.pkl": op(P4, sg("timeit", "timeit"), su("pass"), b"\x85R."),
    "pty_spawn.pkl": op(P4, sg("pty", "spawn"), su("true"), b"\x85R."),
    "bdb_run.pkl": op(P4, sg("bdb", "Bdb"), b")R", b"\x8c\x03run\x86", b"."),
    "types_codetype.pkl": op(P4, sg("types", "CodeType"), b"(K\x00K\x00K\x00K\x00K\x00K\x00C\x00)))\x8c\x01f\x8c\x01fK\x00C\x00))tR."),
    "torch_load_nested.pkl": op(P4, sg("torch", "load"), su("/dev/null"), b"\x85R."),
    "ufunc_reconstruct_os_system.pkl": op(P2, b"cnumpy.core\n_ufunc_reconstruct\nX\x02\x00\x00\x00osX\x06\x00\x00\x00system\x86RX\x04\x00\x00\x00true\x85R."),
    "dill_import_module.pkl": op(P4, sg("dill._dill", "_import_module"), su("os"), b"\x85R."),
    # several pickles, broken pickles
    "benign_then_malicious.pkl": pickle.dumps({"w": [1.0, 2.0]}, protocol=2) + pickle.dumps(R(os.system, "true"), protocol=2),
    "nullifai_broken_after_payload.pkl": op(P2, b"cposix\nsystem\nX\x04\x00\x00\x00true\x85R\xfe\xfe\xfe."),
    "payload_then_junk.pkl": pickle.dumps(R(os.system, "true"), protocol=2) + b"\x00\xff\xfeJUNKJUNK" * 4,
    "no_stop_p0.pkl": op("cos\nsystem\n(S'true'\ntR"),
    "stack_underflow_after_payload.pkl": op(P2, b"cposix\nsystem\nX\x04\x00\x00\x00true\x85R0000."),
}
for k, v in hand.items():
    out("malicious", k, v)

# A .txt-named pickle (content decides).
out("malicious", "model.txt", pickle.dumps(R(os.system, "true"), protocol=0))

print("ok")
