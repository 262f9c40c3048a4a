#!/usr/bin/python3
"""Generate HDF5 fixtures for the hdf5 reader tests with the real library.

Run from this directory: /usr/bin/python3 gen.py
Each file records what its root attributes must decode to in expect.json.
"""
import hashlib
import json

import h5py
import numpy as np

expect = {}


def write(name, libver, attrs, userblock=0, groups=()):
    kw = {"libver": libver}
    if userblock:
        kw["userblock_size"] = userblock
    with h5py.File(name, "w", **kw) as f:
        for k, v in attrs:
            f.attrs[k] = v
        for g in groups:
            grp = f.create_group(g)
            grp.attrs["note"] = "group " + g
            grp.create_dataset("data", data=np.arange(4, dtype="f4"))
    with h5py.File(name, "r") as f:
        got = {}
        for k in f.attrs:
            v = f.attrs[k]
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, np.ndarray):
                v = [x.decode() if isinstance(x, bytes) else str(x) for x in v.tolist()]
            elif not isinstance(v, str):
                v = None  # numbers: listed, not decoded as strings
            if isinstance(v, str) and len(v) > 200:
                # Long values are recorded by digest to keep this file small.
                v = "sha256:" + hashlib.sha256(v.encode()).hexdigest()
            got[k] = v
        expect[name] = {"superblock": f.id.get_create_plist().get_version()[0], "attrs": got}


for lib in ("earliest", "latest"):
    # Scalar strings the way h5py 3 stores them: str and bytes both vlen.
    write(f"vlen_{lib}.h5", lib, [
        ("title", "variable length"),
        ("raw", b"bytes value"),
        ("count", np.int64(7)),
        ("names", [b"a", b"bb", b"ccc"]),
        ("fixed", np.bytes_(b"fixed length")),
        ("fixed_array", np.array([b"x", b"yy"], dtype="S4")),
    ], groups=("g1", "g2"))
    # A large variable-length string: the message stays small, the value
    # lives in the global heap.
    write(f"bigvlen_{lib}.h5", lib, [("big", "v" * 100_000)])

# Dense attribute storage (object header v2 only): many small attributes
# (managed objects in the fractal heap, an indirect root block, a B-tree of
# depth > 0) and one fixed-length string larger than 64 KiB (a huge object).
write("dense_many.h5", "latest", [(f"attr{i:04d}", f"value {i} " + "p" * (i % 50)) for i in range(1200)])
write("dense_huge.h5", "latest", [("small", "s"), ("big", np.bytes_(b"h" * 100_000))])
write("dense_mixed.h5", "latest", [(f"a{i}", np.bytes_(b"m" * (i * 700))) for i in range(1, 14)])
# A user block moves the superblock to offset 512.
write("userblock.h5", "earliest", [("title", "after a user block")], userblock=512)
write("userblock_latest.h5", "latest", [("title", "after a user block")], userblock=1024)
# Many compact attributes in a v1 object header force continuation blocks.
write("continuation.h5", "earliest", [(f"c{i:03d}", "w" * 300) for i in range(120)])
# Many children: an old-style group whose B-tree has internal nodes, and a
# new-style group with dense link storage (fractal heap + name B-tree).
for lib, n in (("earliest", 300), ("latest", 300)):
    with h5py.File(f"groups_{lib}.h5", "w", libver=lib) as f:
        f.attrs["children"] = np.int64(n)
        for i in range(n):
            f.create_group(f"group_{i:04d}")
    expect[f"groups_{lib}.h5"] = {"superblock": 0 if lib == "earliest" else 3, "attrs": {"children": None}}
# A plain data file without attributes.
with h5py.File("plain.h5", "w") as f:
    f.create_dataset("x", data=np.zeros((3, 3)))
expect["plain.h5"] = {"superblock": 0, "attrs": {}}

with open("expect.json", "w") as fh:
    json.dump(expect, fh, indent=1, sort_keys=True)
