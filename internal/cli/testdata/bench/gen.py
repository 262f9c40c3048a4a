# Generates data.pkl for the large-checkpoint benchmark: the pickle of a real
# torch.save() of a 32-tensor state dict (the benchmark writes the tensor
# members itself, sparse). Run: /usr/bin/python3 gen.py
import collections, io, zipfile
import torch

sd = collections.OrderedDict()
for i in range(8):
    for part in ("attn.q_proj.weight", "attn.k_proj.weight", "mlp.up.weight", "mlp.down.weight"):
        sd[f"model.layers.{i}.{part}"] = torch.zeros(4, 4)
buf = io.BytesIO()
torch.save(sd, buf)
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
    name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    open("data.pkl", "wb").write(z.read(name))
