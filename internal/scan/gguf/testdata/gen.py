#!/usr/bin/python3
"""Generate GGUF fixtures (run from this directory).

The gguf Python package is not installed here, so this is a small writer
following the GGUF spec (v2/v3: 64-bit counts; v1: 32-bit). Templates come
from ../jinja/testdata (real chat templates and SSTI payloads that only
mention harmless commands). Prefixes: valid_ (clean), mal_ (critical/high),
include_ (medium), invalid_ (inconclusive).
"""
import os
import struct

import numpy as np

T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)


class W:
    def __init__(self, version=3, endian="<"):
        self.v, self.e, self.b = version, endian, bytearray()

    def p(self, fmt, *a):
        self.b += struct.pack(self.e + fmt, *a)

    def count(self, n):
        self.p("I" if self.v == 1 else "Q", n)

    def s(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.count(len(data))
        self.b += data

    def val(self, t, v):
        if t == T_STR:
            self.s(v)
        elif t == T_ARR:
            et, items = v
            self.p("I", et)
            self.count(len(items))
            for it in items:
                self.val(et, it)
        else:
            self.p({T_U8: "B", T_I8: "b", T_U16: "H", T_I16: "h", T_U32: "I", T_I32: "i", T_F32: "f",
                    T_BOOL: "?", T_U64: "Q", T_I64: "q", T_F64: "d"}[t], v)


def gguf(path, kvs, tensors=(), version=3, endian="<", align=32, truncate=None, raw_offsets=None):
    w = W(version, endian)
    w.b += b"GGUF"
    w.p("I", version)
    w.count(len(tensors))
    w.count(len(kvs))
    for k, t, v in kvs:
        w.s(k)
        w.p("I", t)
        w.val(t, v)
    off, datas = 0, []
    for i, (name, arr, ggml_type) in enumerate(tensors):
        w.s(name)
        w.p("I", arr.ndim)
        for d in reversed(arr.shape):  # GGUF lists ne[0] (innermost) first
            w.count(d)
        w.p("I", ggml_type)
        o = raw_offsets[i] if raw_offsets else off
        w.p("Q", o)
        data = arr.astype(">f4" if endian == ">" else "<f4").tobytes() if ggml_type == 0 else arr.tobytes()
        datas.append(data)
        off += (len(data) + align - 1) // align * align
    if tensors:
        w.b += b"\0" * ((-len(w.b)) % align)
        for d in datas:
            w.b += d + b"\0" * ((-len(d)) % align)
    out = bytes(w.b)
    if truncate is not None:
        out = out[:truncate]
    with open(path, "wb") as f:
        f.write(out)


def tpl(kind, name):
    with open(os.path.join("..", "jinja", "testdata", kind, name)) as f:
        return f.read()


def base(template=None, extra=()):
    kvs = [
        ("general.architecture", T_STR, "llama"),
        ("general.name", T_STR, "mlsec-fixture"),
        ("general.alignment", T_U32, 32),
        ("llama.context_length", T_U32, 128),
        ("llama.rope.freq_base", T_F32, 10000.0),
        ("tokenizer.ggml.model", T_STR, "llama"),
        ("tokenizer.ggml.tokens", T_ARR, (T_STR, ["<unk>", "<s>", "</s>", "a", "b"])),
        ("tokenizer.ggml.scores", T_ARR, (T_F32, [0.0, 0.0, 0.0, -1.0, -2.0])),
        ("tokenizer.ggml.token_type", T_ARR, (T_I32, [2, 3, 3, 1, 1])),
        ("tokenizer.ggml.add_bos_token", T_BOOL, True),
        ("general.tags", T_ARR, (T_ARR, [(T_STR, ["a", "b"]), (T_U64, [1, 2])])),
    ]
    if template is not None:
        kvs.append(("tokenizer.chat_template", T_STR, template))
    return kvs + list(extra)


rng = np.random.default_rng(2)
TENSORS = [("token_embd.weight", rng.standard_normal((5, 8)).astype(np.float32), 0),
           ("output_norm.weight", np.ones(8, np.float32), 0),
           ("blk.0.attn_q.weight", rng.standard_normal((8, 8)).astype(np.float16), 1)]

for name in ["chatml", "llama3", "gemma", "mistral-instruct", "qwen2.5-tools", "deepseek-r1-distill-qwen",
             "phi-4-mini", "mistral-small-3.1"]:
    gguf(f"valid_{name}.gguf", base(tpl("benign", name + ".jinja")), TENSORS)

gguf("valid_no_template.gguf", base(), TENSORS)
gguf("valid_metadata_only.gguf", base(tpl("benign", "chatml.jinja")))
gguf("valid_v2.gguf", base(tpl("benign", "llama3.jinja")), TENSORS, version=2)
gguf("valid_v1.gguf", base(tpl("benign", "chatml.jinja")), TENSORS[:2], version=1)
gguf("valid_big_endian.gguf", base(tpl("benign", "gemma.jinja")), TENSORS[:2], endian=">")
gguf("valid_named_templates.gguf", base(tpl("benign", "chatml.jinja"), [
    ("tokenizer.chat_templates", T_ARR, (T_STR, ["tool_use", "rag"])),
    ("tokenizer.chat_template.tool_use", T_STR, tpl("benign", "qwen2.5-tools.jinja")),
    ("tokenizer.chat_template.rag", T_STR, tpl("benign", "llama3.jinja"))]), TENSORS)
gguf("valid_alignment_64.gguf", [kv if kv[0] != "general.alignment" else ("general.alignment", T_U32, 64)
                                 for kv in base(tpl("benign", "chatml.jinja"))], TENSORS, align=64)

for name in ["cve-2024-34359", "cycler-globals", "lipsum-subscript", "joiner-concat", "attr-filter-escapes",
             "attr-filter-concat", "reversed", "format-obfuscated", "template-reference", "map-attribute",
             "getattribute-call", "format-method", "private-attr", "dynamic-attr"]:
    gguf(f"mal_{name}.gguf", base(tpl("malicious", name + ".jinja")), TENSORS)

# The payload hides in a named template while the default one is benign.
gguf("mal_named_template.gguf", base(tpl("benign", "chatml.jinja"), [
    ("tokenizer.chat_template.tool_use", T_STR, tpl("malicious", "cycler-globals.jinja"))]), TENSORS)
gguf("include_template.gguf", base(tpl("malicious", "include.jinja")), TENSORS)

full = "valid_chatml.gguf"
size = os.path.getsize(full)
gguf("invalid_truncated_metadata.gguf", base(tpl("benign", "chatml.jinja")), TENSORS, truncate=200)
gguf("invalid_truncated_data.gguf", base(tpl("benign", "chatml.jinja")), TENSORS, truncate=size - 40)
gguf("invalid_offset_out_of_range.gguf", base(), TENSORS, raw_offsets=[0, 1 << 20, 192])
gguf("invalid_misaligned_offset.gguf", base(), TENSORS, raw_offsets=[0, 161, 192])
gguf("invalid_overlapping_tensors.gguf", base(), TENSORS, raw_offsets=[0, 0, 192])
gguf("invalid_template_syntax.gguf", base("{% for m in messages %}{{ m['content'] }"), TENSORS)
gguf("invalid_bad_alignment.gguf", [kv if kv[0] != "general.alignment" else ("general.alignment", T_U32, 24)
                                    for kv in base()], TENSORS)
with open("invalid_huge_kv_count.gguf", "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 60) + b"\0" * 64)
with open("invalid_huge_string.gguf", "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"k" * 64)
with open("invalid_bad_value_type.gguf", "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99) + b"\0" * 16)
