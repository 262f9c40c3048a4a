#!/usr/bin/env python3
# Reference W and p-values for detect.TestShapiroWilkReference, from
# SciPy (scipy.stats.shapiro, the same AS R94 swilk code as R).
# Run with Debian python3-scipy: /usr/bin/python3 shapiro_reference.py
from scipy.stats import shapiro
import math
sets = {
 "n3": [1.0, 2.0, 4.0],
 "n5": [2.1, 3.4, 1.9, 5.6, 4.4],
 "n7": [148, 154, 158, 160, 161, 162, 166],
 "n11": [148,154,158,160,161,162,166,170,182,195,236],
 "squares20": [float(i*i) for i in range(1,21)],
 "sin50": [math.sin(i*0.7)*3 + i*0.01 for i in range(50)],
 "lcg1000": None,
}
def lcg(n):
    s = 12345; out=[]
    for i in range(n):
        s = (1103515245*s + 12345) % 2**31
        out.append(s / 2**31)
    return out
# sum of 4 uniforms: near normal
u = lcg(4000)
sets["lcg1000"] = [u[4*i]+u[4*i+1]+u[4*i+2]+u[4*i+3] for i in range(1000)]
sets["exp200"] = [-math.log(1-v) for v in lcg(200)]
for k,v in sets.items():
    w,p = shapiro(v)
    print(k, repr(float(w)), repr(float(p)))
