#!/usr/bin/python3
"""Generate the container, PyTorch and NumPy fixtures of mlsec's scanners.

Run from the repository root:  /usr/bin/python3 internal/scan/archive/testdata/gen.py

Benign files are made with the real libraries (torch.save, torch.jit, numpy,
joblib). Malicious and tampered files are written byte by byte with HARMLESS
payloads (posix.system('true')); nothing here ever loads or unpickles them.
"""
import bz2
import gzip
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.abspath(__file__))
ARC = ROOT
PT = os.path.join(ROOT, "..", "..", "pytorch", "testdata")
NPY = os.path.join(ROOT, "..", "..", "numpy", "testdata")

# A protocol-0 pickle that would run posix.system('true'): never loaded.
EVIL = b"cposix\nsystem\n(S'true'\ntR."


def out(*parts):
    p = os.path.join(*parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write(path, data):
    with open(out(path), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- torch
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(x), 1)[:, :8])


def torch_fixtures():
    torch.manual_seed(0)
    lin = nn.Linear(8, 4)
    conv = nn.Conv2d(1, 2, 3)
    lstm = nn.LSTM(4, 3, num_layers=1)
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.Adam(seq.parameters())
    seq(torch.randn(2, 4)).sum().backward()
    opt.step()
    benign = {
        "linear_state_dict.pt": lin.state_dict(),
        "conv_state_dict.pt": conv.state_dict(),
        "lstm_state_dict.pt": lstm.state_dict(),
        "sequential_state_dict.pt": seq.state_dict(),
        "optimizer_state.pt": {"model": seq.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
        "sequential_full_module.pt": seq,
    }
    for name, obj in benign.items():
        torch.save(obj, out(ARC, "torch", name))
    # Legacy (non-zip) format.
    torch.save(seq.state_dict(), out(PT, "legacy_sequential_state_dict.pt"), _use_new_zipfile_serialization=False)
    torch.save(lstm.state_dict(), out(PT, "legacy_lstm_state_dict.pt"), _use_new_zipfile_serialization=False)
    torch.save({"w": torch.arange(5, dtype=torch.float64), "i": torch.arange(3), "h": torch.ones(2, dtype=torch.float16),
                "b": torch.zeros(4, dtype=torch.bool)}, out(PT, "legacy_mixed_dtypes.pt"), _use_new_zipfile_serialization=False)
    # TorchScript.
    small = Small().eval()
    torch.jit.script(small).save(out(ARC, "torch", "torchscript_scripted.pt"))
    torch.jit.trace(small, torch.randn(1, 1, 4, 4)).save(out(ARC, "torch", "torchscript_traced.pt"))
    # TorchScript whose code was edited to call os.system (never loaded).
    src = out(ARC, "torch", "torchscript_scripted.pt")
    dst = out(ARC, "tampered", "torchscript_os_system.pt")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("code/__torch__.py"):
                data = data.replace(b"  def forward(", b"  def _payload(self) -> int:\n    return os.system(\"true\")\n  def forward(", 1)
            zout.writestr(info, data)


# ------------------------------------------------------------ tampered
def local_header(name, data, flags=0, method=0, crc=None, csize=None, usize=None):
    n = name.encode()
    crc = zlib.crc32(data) if crc is None else crc
    csize = len(data) if csize is None else csize
    usize = len(data) if usize is None else usize
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0, crc, csize, usize, len(n), 0) + n


def central_header(name, data, offset, flags=0, method=0, crc=None, csize=None, usize=None):
    n = name.encode()
    crc = zlib.crc32(data) if crc is None else crc
    csize = len(data) if csize is None else csize
    usize = len(data) if usize is None else usize
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0, crc, csize, usize,
                       len(n), 0, 0, 0, 0, 0, offset) + n


def eocd(count, cd_size, cd_off, comment=b""):
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_off, len(comment)) + comment


def build_zip(entries, hide=(), cd_override=None, prefix=b"", suffix=b""):
    """entries: list of (name, data, kwargs for the local header).
    hide: names left out of the central directory.
    cd_override: name -> kwargs replacing the directory's view."""
    body = bytearray(prefix)
    cds = []
    for name, data, kw in entries:
        off = len(body) - len(prefix)
        body += local_header(name, data, **kw) + data
        if name in hide:
            continue
        ckw = dict(kw)
        cname = name
        if cd_override and name in cd_override:
            ckw.update(cd_override[name])
            cname = ckw.pop("name", name)
        cds.append(central_header(cname, data, off, **ckw))
    cd = b"".join(cds)
    cd_off = len(body) - len(prefix)
    return bytes(body) + cd + eocd(len(cds), len(cd), cd_off) + suffix


TORCH_LAYOUT = [
    ("archive/data.pkl", EVIL, {}),
    ("archive/byteorder", b"little", {}),
    ("archive/data/0", b"\x00" * 64, {}),
    ("archive/version", b"3\n", {}),
]


def tampered_fixtures():
    benign = [(n, d if n != "archive/data.pkl" else b"\x80\x02}q\x00.", kw) for n, d, kw in TORCH_LAYOUT]
    write(os.path.join(ARC, "tampered", "handmade_benign.pt"), build_zip(benign))
    layout = [list(e) for e in TORCH_LAYOUT]
    # Flag bit 0 (encrypted) set on a clear data.pkl, in both headers.
    l = [tuple(e) for e in layout]
    l[0] = ("archive/data.pkl", EVIL, {"flags": 1})
    write(os.path.join(ARC, "tampered", "flag_encrypted.pt"), build_zip(l))
    # The directory lies: it names data.pkl "archive/extra" and gives a
    # shorter size.
    write(os.path.join(ARC, "tampered", "lying_directory.pt"),
          build_zip([tuple(e) for e in layout], cd_override={"archive/data.pkl": {"name": "archive/extra", "csize": 4, "usize": 4}}))
    # An entry the directory does not list.
    write(os.path.join(ARC, "tampered", "hidden_entry.pt"),
          build_zip([("archive/data.pkl", b"\x80\x02}q\x00.", {})] + [tuple(e) for e in layout[1:]] + [("archive/evil.pkl", EVIL, {})],
                    hide={"archive/evil.pkl"}))
    # Cut short: no central directory.
    full = build_zip([tuple(e) for e in layout])
    write(os.path.join(ARC, "tampered", "truncated.pt"), full[: len(full) * 2 // 3])
    # Junk before the archive (offsets not adjusted).
    write(os.path.join(ARC, "tampered", "prepended_junk.pt"), b"JUNK" * 16 + full)
    # A pickle before the archive: loaders that check the first bytes read it.
    write(os.path.join(ARC, "tampered", "pickle_polyglot.pt"), EVIL + build_zip(benign))
    # Two entries with one name.
    write(os.path.join(ARC, "tampered", "duplicate_names.pt"),
          build_zip([("archive/data.pkl", b"\x80\x02}q\x00.", {})] + [tuple(e) for e in layout]))
    # Zip-slip names.
    write(os.path.join(ARC, "tampered", "zip_slip.zip"),
          build_zip([("../../home/user/.bashrc", b"echo hi\n", {}), ("/etc/evil.pkl", EVIL, {})]))
    # Data descriptors on stored entries (as torch writes), no directory.
    dd = bytearray()
    for name, data, _ in TORCH_LAYOUT:
        dd += local_header(name, data, flags=0x08, crc=0, csize=0, usize=0) + data
        dd += struct.pack("<IIII", 0x08074B50, zlib.crc32(data), len(data), len(data))
    write(os.path.join(ARC, "tampered", "descriptors_no_directory.pt"), bytes(dd))
    # Deflated member with a corrupt CRC next to a malicious one.
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp = raw.compress(b"\x80\x02}q\x00." + b" " * 64) + raw.flush()
    body = local_header("archive/good.pkl", comp, method=8, crc=0x12345678, usize=len(b"\x80\x02}q\x00." + b" " * 64)) + comp
    off2 = len(body)
    body += local_header("archive/data.pkl", EVIL) + EVIL
    cd = central_header("archive/good.pkl", comp, 0, method=8, crc=0x12345678, usize=len(b"\x80\x02}q\x00." + b" " * 64))
    cd += central_header("archive/data.pkl", EVIL, off2)
    write(os.path.join(ARC, "tampered", "bad_crc_member.pt"), body + cd + eocd(2, len(cd), len(body)))


# ---------------------------------------------------------------- numpy
def npy_header(descr, shape, version=(1, 0)):
    h = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, shape)
    pre = 10 if version[0] == 1 else 12
    pad = 64 - (pre + len(h) + 1) % 64
    h = h + " " * pad + "\n"
    if version[0] == 1:
        return b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(h)) + h.encode("latin1")
    return b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(h)) + h.encode("utf8")


def numpy_fixtures():
    rng = np.random.default_rng(0)
    np.save(out(NPY, "float32.npy"), rng.standard_normal((4, 3)).astype(np.float32))
    np.save(out(NPY, "int64_fortran.npy"), np.asfortranarray(np.arange(12).reshape(3, 4)))
    np.save(out(NPY, "structured.npy"), np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2", (2,)), ("name", "U5")]))
    np.save(out(NPY, "unicode.npy"), np.array(["a", "bc", "def"]))
    np.save(out(NPY, "scalar.npy"), np.float64(3.5))
    np.save(out(NPY, "empty.npy"), np.zeros((0, 5)))
    np.save(out(NPY, "datetime.npy"), np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[D]"))
    np.save(out(NPY, "object_plain.npy"), np.array([1, "two", {"three": 3}, None], dtype=object), allow_pickle=True)
    np.savez(out(NPY, "arrays.npz"), a=np.arange(5), b=np.ones((2, 2)))
    np.savez_compressed(out(NPY, "arrays_compressed.npz"), a=np.arange(50), b=np.eye(3))
    np.savez(out(NPY, "object_in.npz"), a=np.arange(3), o=np.array([None, "x"], dtype=object))
    # By hand: an object array whose data runs posix.system('true').
    write(os.path.join(NPY, "malicious_object.npy"), npy_header("|O", (1,)) + EVIL)
    mal_npz = io.BytesIO()
    with zipfile.ZipFile(mal_npz, "w") as z:
        z.writestr("weights.npy", npy_header("<f4", (2,)) + b"\x00" * 8)
        z.writestr("meta.npy", npy_header("|O", (1,)) + EVIL)
    write(os.path.join(NPY, "malicious_object.npz"), mal_npz.getvalue())
    # Invalid: truncated data, bad header, version 3 header.
    write(os.path.join(NPY, "truncated.npy"), npy_header("<f8", (10,)) + b"\x00" * 16)
    write(os.path.join(NPY, "bad_header.npy"), npy_header("<f8", (2,))[:10] + b"__import__('os')".ljust(54) + b"\n" + b"\x00" * 16)
    write(os.path.join(NPY, "v3_header.npy"), npy_header("<u2", (3,), (3, 0)) + b"\x01\x00" * 3)


# ------------------------------------------------------------- wrapping
def wrap(src, dst_dir, base):
    data = open(src, "rb").read()
    write(os.path.join(dst_dir, base + ".gz"), gzip.compress(data, mtime=0))
    write(os.path.join(dst_dir, base + ".bz2"), bz2.compress(data))
    write(os.path.join(dst_dir, base + ".xz"), lzma.compress(data))
    for tool, ext, args in (("zstd", ".zst", ["-q", "-f", "-o"]), ("lz4", ".lz4", ["-q", "-f"])):
        dst = out(dst_dir, base + ext)
        if tool == "zstd":
            subprocess.run([tool] + args + [dst, src], check=True)
        else:
            subprocess.run([tool] + args + [src, dst], check=True)
    with tempfile.TemporaryDirectory() as d:
        inner = os.path.join(d, base)
        shutil.copy(src, inner)
        dst = out(dst_dir, base + ".7z")
        if os.path.exists(dst):
            os.remove(dst)
        subprocess.run(["7z", "a", "-bd", "-bso0", "-t7z", dst, inner], check=True)


def wrapped_fixtures():
    wrap(os.path.join(ARC, "torch", "sequential_state_dict.pt"), os.path.join(ARC, "wrapped"), "state_dict.pt")
    wrap(os.path.join(PT, "legacy_sequential_state_dict.pt"), os.path.join(ARC, "wrapped"), "legacy.pt")
    wrap(os.path.join(ARC, "tampered", "flag_encrypted.pt"), os.path.join(ARC, "wrapped"), "malicious.pt")
    # A tar of a torch zip and a malicious pickle, and a tar.gz of it.
    import tarfile
    tpath = out(ARC, "wrapped", "bundle.tar")
    with tarfile.open(tpath, "w", format=tarfile.USTAR_FORMAT) as t:
        t.add(os.path.join(ARC, "torch", "linear_state_dict.pt"), arcname="model/linear.pt")
        info = tarfile.TarInfo("model/extra.pkl")
        info.size = len(EVIL)
        t.addfile(info, io.BytesIO(EVIL))
    write(os.path.join(ARC, "wrapped", "bundle.tar.gz"), gzip.compress(open(tpath, "rb").read(), mtime=0))
    # joblib's compressors: raw zlib and lzma-alone streams.
    import joblib
    obj = {"weights": np.arange(6, dtype=np.float32), "name": "demo"}
    for comp, ext in (("zlib", ".joblib.z"), ("lzma", ".joblib.lzma"), ("xz", ".joblib.xz"), ("bz2", ".joblib.bz2"), ("gzip", ".joblib.gz")):
        joblib.dump(obj, out(ARC, "wrapped", "benign" + ext), compress=(comp, 3))
    write(os.path.join(ARC, "wrapped", "malicious.pkl.z"), zlib.compress(EVIL))
    write(os.path.join(ARC, "wrapped", "malicious.pkl.lzma"), lzma.compress(EVIL, format=lzma.FORMAT_ALONE))
    # joblib before 0.9.3: "ZF", the length in hex padded to 19, then zlib.
    write(os.path.join(ARC, "wrapped", "malicious_zf.pkl"), b"ZF" + hex(len(EVIL)).encode().ljust(19) + zlib.compress(EVIL))
    # Real encryption: never analysable, always a gap.
    src = os.path.join(ARC, "tampered", "flag_encrypted.pt")
    for name, args in (("encrypted_zipcrypto.zip", ["-tzip", "-mem=ZipCrypto"]), ("encrypted_aes.zip", ["-tzip", "-mem=AES256"]),
                       ("encrypted.7z", ["-t7z"]), ("encrypted_headers.7z", ["-t7z", "-mhe=on"])):
        dst = out(ARC, "wrapped", name)
        if os.path.exists(dst):
            os.remove(dst)
        subprocess.run(["7z", "a", "-bd", "-bso0", "-psecret"] + args + [dst, src], check=True)


if __name__ == "__main__":
    torch_fixtures()
    tampered_fixtures()
    numpy_fixtures()
    wrapped_fixtures()
    for d in (ARC, PT, NPY):
        for dp, _, fs in os.walk(d):
            for f in fs:
                p = os.path.join(dp, f)
                if os.path.getsize(p) > 200_000:
                    sys.exit("fixture too large: " + p)
