#!/usr/bin/python3
"""Generate the BOM fixtures (run from this directory).

Needs python3-torch and python3-numpy (Debian packages). Writes:

  hf-textclf/   a Hugging Face style text-classification model: model card
                written by transformers' Trainer and edited the way authors
                do (YAML front matter with model-index, template sections),
                config.json, tokenizer files, model.safetensors and
                pytorch_model.bin (torch.save of the same state dict).
  gguf-chat/    a llama.cpp style GGUF export (Q8_0 and F32 tensors) with
                its model card (base_model, licence "other").
  onnx-mlp/     an ONNX export made by torch.onnx.export.
  project/      an ML project: pyproject.toml, poetry.lock, requirements.txt,
                training code, and a pickled "model" whose reduce calls
                os.system (never loaded; it is there to be found).

safetensors is written with struct+json exactly as the reference library
lays it out (8-byte little-endian header length, JSON header padded with
spaces to a multiple of 8, tensors in order), since the safetensors Python
package is not packaged for Debian. GGUF likewise, following the GGUF v3
spec. Model signatures (model.sig) are made afterwards with
`mlsec keygen` + `mlsec sign` (see gen.sh).
"""
import collections
import json
import os
import shutil
import struct

import numpy as np
import torch

torch.manual_seed(0)
np.random.seed(0)

DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = metadata
    off, blobs = 0, []
    # the reference writer orders by dtype alignment (descending) then name
    for name, t in sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0])):
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def textclf():
    d = "hf-textclf"
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [w for w in
             "the a movie film was is great good bad terrible awful plot acting not very fun boring loved hated".split()]
    dim, layers, ff = 16, 2, 32
    sd = collections.OrderedDict()
    sd["distilbert.embeddings.word_embeddings.weight"] = torch.randn(len(vocab), dim) * 0.02
    sd["distilbert.embeddings.position_embeddings.weight"] = torch.randn(64, dim) * 0.02
    sd["distilbert.embeddings.LayerNorm.weight"] = torch.ones(dim)
    sd["distilbert.embeddings.LayerNorm.bias"] = torch.zeros(dim)
    for i in range(layers):
        p = f"distilbert.transformer.layer.{i}."
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            sd[p + f"attention.{n}.weight"] = torch.randn(dim, dim) * 0.02
            sd[p + f"attention.{n}.bias"] = torch.zeros(dim)
        sd[p + "sa_layer_norm.weight"] = torch.ones(dim)
        sd[p + "sa_layer_norm.bias"] = torch.zeros(dim)
        sd[p + "ffn.lin1.weight"] = torch.randn(ff, dim) * 0.02
        sd[p + "ffn.lin1.bias"] = torch.zeros(ff)
        sd[p + "ffn.lin2.weight"] = torch.randn(dim, ff) * 0.02
        sd[p + "ffn.lin2.bias"] = torch.zeros(dim)
        sd[p + "output_layer_norm.weight"] = torch.ones(dim)
        sd[p + "output_layer_norm.bias"] = torch.zeros(dim)
    sd["pre_classifier.weight"] = torch.randn(dim, dim) * 0.02
    sd["pre_classifier.bias"] = torch.zeros(dim)
    sd["classifier.weight"] = torch.randn(2, dim) * 0.02
    sd["classifier.bias"] = torch.zeros(2)
    write_safetensors(os.path.join(d, "model.safetensors"), sd, {"format": "pt"})
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    cfg = collections.OrderedDict([
        ("_name_or_path", "distilbert/distilbert-base-uncased"),
        ("activation", "gelu"), ("architectures", ["DistilBertForSequenceClassification"]),
        ("attention_dropout", 0.1), ("dim", dim), ("dropout", 0.1), ("hidden_dim", ff),
        ("id2label", {"0": "NEGATIVE", "1": "POSITIVE"}), ("initializer_range", 0.02),
        ("label2id", {"NEGATIVE": 0, "POSITIVE": 1}), ("max_position_embeddings", 64),
        ("model_type", "distilbert"), ("n_heads", 2), ("n_layers", layers), ("pad_token_id", 0),
        ("problem_type", "single_label_classification"), ("qa_dropout", 0.1), ("seq_classif_dropout", 0.2),
        ("sinusoidal_pos_embds", False), ("tie_weights_", True), ("torch_dtype", "float32"),
        ("transformers_version", "4.44.2"), ("vocab_size", len(vocab)),
    ])
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
        json.dump({"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]",
                   "unk_token": "[UNK]"}, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"clean_up_tokenization_spaces": True, "cls_token": "[CLS]", "do_lower_case": True,
                   "mask_token": "[MASK]", "model_max_length": 64, "pad_token": "[PAD]", "sep_token": "[SEP]",
                   "strip_accents": None, "tokenize_chinese_chars": True, "tokenizer_class": "DistilBertTokenizer",
                   "unk_token": "[UNK]"}, f, indent=2)
        f.write("\n")
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True} for i, t in enumerate(vocab[:5])],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [], "special_tokens": {}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}}}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    shutil.copy("cards/textclf.md", os.path.join(d, "README.md"))


# GGUF v3 writer
T_U32, T_F32, T_STR, T_ARR, T_I32 = 4, 6, 8, 9, 5


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_val(t, v):
    if t == T_STR:
        return gguf_str(v)
    if t == T_ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gguf_val(et, i) for i in items)
    return struct.pack({T_U32: "<I", T_F32: "<f", T_I32: "<i"}[t], v)


def q8_0(a):
    """Quantise float32 to GGML Q8_0 blocks: fp16 scale + 32 int8."""
    a = a.reshape(-1, 32)
    out = bytearray()
    for blk in a:
        amax = float(np.abs(blk).max())
        d = amax / 127 if amax else 0.0
        q = np.round(blk / d).astype(np.int8) if d else np.zeros(32, np.int8)
        out += np.float16(d).tobytes() + q.tobytes()
    return bytes(out)


def gguf_chat():
    d = "gguf-chat"
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    n_vocab, dim, ff, layers = 32, 32, 64, 1
    tokens = ["<unk>", "<s>", "</s>"] + [chr(ord("a") + i) for i in range(26)] + [" ", ".", "!"]
    kvs = [
        ("general.architecture", T_STR, "llama"),
        ("general.type", T_STR, "model"),
        ("general.name", T_STR, "Tiny Chat"),
        ("general.size_label", T_STR, "41K"),
        ("general.license", T_STR, "other"),
        ("general.file_type", T_U32, 7),  # MOSTLY_Q8_0
        ("general.quantization_version", T_U32, 2),
        ("llama.context_length", T_U32, 256),
        ("llama.embedding_length", T_U32, dim),
        ("llama.block_count", T_U32, layers),
        ("llama.feed_forward_length", T_U32, ff),
        ("llama.attention.head_count", T_U32, 4),
        ("llama.attention.head_count_kv", T_U32, 4),
        ("llama.rope.freq_base", T_F32, 10000.0),
        ("llama.attention.layer_norm_rms_epsilon", T_F32, 1e-5),
        ("llama.vocab_size", T_U32, n_vocab),
        ("tokenizer.ggml.model", T_STR, "llama"),
        ("tokenizer.ggml.tokens", T_ARR, (T_STR, tokens)),
        ("tokenizer.ggml.scores", T_ARR, (T_F32, [0.0] * n_vocab)),
        ("tokenizer.ggml.token_type", T_ARR, (T_I32, [2, 3, 3] + [1] * (n_vocab - 3))),
        ("tokenizer.ggml.bos_token_id", T_U32, 1),
        ("tokenizer.ggml.eos_token_id", T_U32, 2),
        ("tokenizer.chat_template", T_STR,
         "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '</s>\\n' }}"
         "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"),
    ]
    rnd = lambda *s: (np.random.randn(*s) * 0.02).astype(np.float32)
    tensors = [("token_embd.weight", rnd(n_vocab, dim), 8), ("blk.0.attn_norm.weight", np.ones(dim, np.float32), 0)]
    for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
        tensors.append((f"blk.0.{n}.weight", rnd(dim, dim), 8))
    tensors += [("blk.0.ffn_norm.weight", np.ones(dim, np.float32), 0),
                ("blk.0.ffn_gate.weight", rnd(ff, dim), 8), ("blk.0.ffn_up.weight", rnd(ff, dim), 8),
                ("blk.0.ffn_down.weight", rnd(dim, ff), 8), ("output_norm.weight", np.ones(dim, np.float32), 0),
                ("output.weight", rnd(n_vocab, dim), 8)]
    b = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, t, v in kvs:
        b += gguf_str(k) + struct.pack("<I", t) + gguf_val(t, v)
    off, datas = 0, []
    for name, arr, gt in tensors:
        data = q8_0(arr) if gt == 8 else arr.tobytes()
        b += gguf_str(name) + struct.pack("<I", arr.ndim)
        for dim_ in reversed(arr.shape):  # GGUF lists ne[0] (innermost) first
            b += struct.pack("<Q", dim_)
        b += struct.pack("<IQ", gt, off)
        datas.append(data)
        off += len(data)
        off += (32 - off % 32) % 32
    b += b"\0" * ((32 - len(b) % 32) % 32)
    for data in datas:
        b += data
        b += b"\0" * ((32 - len(data) % 32) % 32)
    with open(os.path.join(d, "tiny-chat-Q8_0.gguf"), "wb") as f:
        f.write(b)
    shutil.copy("cards/gguf.md", os.path.join(d, "README.md"))


def onnx_mlp():
    d = "onnx-mlp"
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    m.eval()
    torch.onnx.export(m, torch.zeros(1, 4), os.path.join(d, "model.onnx"), input_names=["features"],
                      output_names=["logits"], opset_version=13)
    shutil.copy("cards/onnx.md", os.path.join(d, "README.md"))


def project():
    d = "project"  # the manifests and code are committed as written
    # A pickle whose REDUCE would call os.system when loaded: protocol 2,
    # GLOBAL 'posix system', the command, TUPLE1, REDUCE, STOP. Written as
    # bytes; nothing here is ever unpickled.
    evil = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    os.makedirs(os.path.join(d, "models"), exist_ok=True)
    with open(os.path.join(d, "models", "classifier.pkl"), "wb") as f:
        f.write(evil)


if __name__ == "__main__":
    textclf()
    gguf_chat()
    onnx_mlp()
    project()
