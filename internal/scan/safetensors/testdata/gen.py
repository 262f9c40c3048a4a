#!/usr/bin/python3
"""Generate safetensors fixtures (run from this directory).

The safetensors Python package is not installed here, so files are written
by hand following the spec (8-byte LE header length, JSON header padded with
spaces to 8 bytes, contiguous tensor data) from real numpy arrays.
Files named valid_* must scan complete and clean; invalid_* inconclusive.
"""
import json
import struct

import numpy as np

DT = {np.float32: "F32", np.float16: "F16", np.int64: "I64", np.uint8: "U8",
      np.bool_: "BOOL", np.float64: "F64", np.int8: "I8", np.int32: "I32"}


def write(path, header, data, pad=True, raw_header=None):
    hb = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        f.write(data)


def pack(tensors, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, arr in tensors.items():
        b = arr.tobytes()
        header[name] = {"dtype": DT[arr.dtype.type], "shape": list(arr.shape),
                        "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    return header, data


rng = np.random.default_rng(0)
mlp = {
    "fc1.weight": rng.standard_normal((8, 4)).astype(np.float32),
    "fc1.bias": np.zeros(8, np.float32),
    "fc2.weight": rng.standard_normal((2, 8)).astype(np.float16),
    "fc2.bias": np.zeros(2, np.float16),
    "step": np.array(7, np.int64),
    "mask": np.array([True, False, True]),
    "empty": np.zeros((0, 3), np.float32),
}
h, d = pack(mlp, {"format": "pt", "note": "mlsec fixture"})
write("valid_mlp.safetensors", h, d)
h, d = pack({"w": np.arange(6, dtype=np.uint8).reshape(2, 3)})
write("valid_unpadded.safetensors", h, d, pad=False)
write("valid_empty.safetensors", {}, b"")
# Packed 4-bit: 4 elements of F4 are 2 bytes.
write("valid_f4.safetensors", {"q": {"dtype": "F4", "shape": [2, 2], "data_offsets": [0, 2]}}, b"\x12\x34")
# Entries listed out of offset order are fine: validation sorts by offset.
a, b = np.ones(2, np.float32).tobytes(), np.ones(4, np.float32).tobytes()
write("valid_unsorted.safetensors", {"b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
                                     "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, a + b)

w = np.ones(4, np.float32).tobytes()
write("invalid_overlap.safetensors", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, w[:12])
write("invalid_hole.safetensors", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                   "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, w[:12])
write("invalid_dtype.safetensors", {"a": {"dtype": "PY_OBJECT", "shape": [4], "data_offsets": [0, 16]}}, w)
write("invalid_negative_shape.safetensors", {"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, w)
write("invalid_trailing_bytes.safetensors", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, w)
write("invalid_metadata_type.safetensors", {"__metadata__": {"n": 1},
                                            "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, w)
write("invalid_duplicate_key.safetensors", None, w,
      raw_header=b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}')
write("invalid_json.safetensors", None, w, raw_header=b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}')
write("invalid_not_utf8.safetensors", None, w, raw_header=b'{"\xff":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}')
write("invalid_bad_offsets.safetensors", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0]}}, w)
with open("invalid_header_too_long.safetensors", "wb") as f:
    f.write(struct.pack("<Q", 4096) + b'{"a":{}}')
