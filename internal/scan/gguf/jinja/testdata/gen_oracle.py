#!/usr/bin/python3
"""Write oracle.jsonl: mutated templates with jinja2's own parse verdict.

Run from this directory with python3-jinja2 installed. jinja2 only parses
(Environment.parse) - nothing is rendered. The Go test requires our parser
to accept every template jinja2 accepts (a false rejection would make a
benign model inconclusive). Invalid-escape strings and a few lexer corner
cases that jinja2 rejects are accepted by us on purpose and are not checked.
"""
import glob
import json
import random

import jinja2

env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])
srcs = [open(p).read() for p in sorted(glob.glob("*/*.jinja"))]
srcs = [s for s in srcs if "generation" not in s]
toks = ["{{", "}}", "{%", "%}", "(", ")", "[", "]", "{", "}", "'", '"', "|", ".", ",", ":", " is ", " not ",
        " in ", " if ", " else ", "endif", "endfor", "-", "~", "==", " and ", " or ", "x", "1", "1.5", "=", "**",
        "//", "#}", "{#", " is not ", " not in ", "|e", "(1,)", "[::2]", "{'a': 1}", " is defined", "()"]
random.seed(11)
out = []
for i in range(20000):
    s = random.choice(srcs)
    if len(s) > 900:
        start = random.randrange(len(s) - 600)
        s = s[start:start + 600]
    for _ in range(random.randint(0, 3)):
        pos = random.randrange(len(s) + 1)
        r = random.random()
        if r < 0.5:
            s = s[:pos] + random.choice(toks) + s[pos:]
        elif r < 0.8:
            s = s[:pos] + s[pos + random.randint(1, 4):]
        else:
            q = random.randrange(len(s) + 1)
            s = s[:pos] + s[q:q + 20] + s[pos:]
    try:
        env.parse(s)
        ok = True
    except Exception:
        ok = False
    out.append({"src": s, "ok": ok})
    if len(out) >= 1200 and sum(c["ok"] for c in out) >= 600:
        break
with open("oracle.jsonl", "w") as f:
    for c in out:
        f.write(json.dumps(c) + "\n")
print(len(out), "cases,", sum(c["ok"] for c in out), "accepted by jinja2")
