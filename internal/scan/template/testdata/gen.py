#!/usr/bin/python3
"""Generate Hugging Face style chat-template fixtures (run from this directory).

Each case is a directory named valid_*, mal_*, include_* or invalid_*
holding the files a model repository would: tokenizer_config.json,
chat_template.json or chat_template.jinja. Templates come from
../../gguf/jinja/testdata (real chat templates and harmless SSTI payloads).
"""
import json
import os


def tpl(kind, name):
    with open(os.path.join("..", "..", "gguf", "jinja", "testdata", kind, name + ".jinja")) as f:
        return f.read()


def put(case, name, data):
    os.makedirs(case, exist_ok=True)
    with open(os.path.join(case, name), "w") as f:
        f.write(data if isinstance(data, str) else json.dumps(data, indent=2))


def tokenizer_config(template):
    cfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
           "clean_up_tokenization_spaces": False, "model_max_length": 32768, "tokenizer_class": "LlamaTokenizer",
           "added_tokens_decoder": {str(i): {"content": f"<extra_{i}>", "special": True} for i in range(300)}}
    if template is not None:
        cfg["chat_template"] = template
    return cfg


put("valid_qwen", "tokenizer_config.json", tokenizer_config(tpl("benign", "qwen2.5-tools")))
put("valid_no_template", "tokenizer_config.json", tokenizer_config(None))
put("valid_named", "tokenizer_config.json", tokenizer_config([
    {"name": "default", "template": tpl("benign", "chatml")},
    {"name": "tool_use", "template": tpl("benign", "mistral-small-3.1")}]))
put("valid_jinja_file", "chat_template.jinja", tpl("benign", "glm-4.6"))
put("valid_chat_template_json", "chat_template.json", {"chat_template": tpl("benign", "gemma")})
put("mal_tokenizer_config", "tokenizer_config.json", tokenizer_config(tpl("malicious", "cve-2024-34359")))
put("mal_named", "tokenizer_config.json", tokenizer_config([
    {"name": "default", "template": tpl("benign", "chatml")},
    {"name": "rag", "template": tpl("malicious", "joiner-concat")}]))
put("mal_jinja_file", "chat_template.jinja", tpl("malicious", "template-reference"))
put("mal_chat_template_json", "chat_template.json", {"chat_template": tpl("malicious", "format-obfuscated")})
put("include_jinja_file", "chat_template.jinja", tpl("malicious", "include"))
put("invalid_syntax", "tokenizer_config.json", tokenizer_config("{% for m in messages %}{{ m.content }"))
put("invalid_json", "tokenizer_config.json", '{"chat_template": "{{ x }}", ')
put("invalid_type", "tokenizer_config.json", tokenizer_config({"not": "a template"}))
