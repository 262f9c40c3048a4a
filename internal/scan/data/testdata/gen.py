#!/usr/bin/env python3
"""Writes the CSV, TSV and JSON Lines fixtures (standard library only).

Run from this directory: python3 gen.py. All people, cards and accounts are
invented; card numbers are the networks' published test numbers, IBANs the
registry's examples, SSNs random but well-formed.
"""
import csv
import json
import random

rng = random.Random(4)
FIRST = ["Jane", "Rahul", "Ana", "Wei", "Fatima", "Lukas", "Chloe", "Kwame", "Sofia", "Hiro"]
LAST = ["Doe", "Mehta", "Lopez", "Zhang", "Khan", "Weber", "Martin", "Mensah", "Rossi", "Sato"]
CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "3782 822463 10005", "6011 1111 1111 1117",
         "4012 8888 8888 1881"]
IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", "FR14 2004 1010 0505 0001 3M02 606",
         "NL91 ABNA 0417 1643 00"]
PHONES = ["+44 20 7946 0958", "+1 212-736-5000", "(212) 736-5000", "+49 30 901820", "+33 1 42 68 53 00"]
IPS = ["81.2.69.160", "2a00:1450:4009:81f::200e", "216.58.214.14", "10.0.0.12"]
N = 40


def ssn():
    return "%03d-%02d-%04d" % (rng.randint(100, 665), rng.randint(1, 99), rng.randint(1, 9999))


rows = []
for i in range(N):
    f, l = FIRST[i % 10], LAST[(i * 3) % 10]
    rows.append({
        "customer_id": 10000 + i,
        "first_name": f,
        "last_name": l,
        "email": "%s.%s%d@example.org" % (f.lower(), l.lower(), i),
        "phone": PHONES[i % len(PHONES)],
        "card_number": CARDS[i % len(CARDS)],
        "iban": IBANS[i % len(IBANS)],
        "ssn": ssn(),
        "signup_ip": IPS[i % len(IPS)],
        "date_of_birth": "19%02d-%02d-%02d" % (rng.randint(50, 99), rng.randint(1, 12), rng.randint(1, 28)),
        "age": rng.randint(18, 90),
        "monthly_spend": "%.2f" % rng.uniform(5, 500),
        "churned": rng.choice(["yes", "no"]),
        "notes": "escalated by %s.%s@example.org" % (f.lower(), l.lower()) if i % 8 == 0 else "no issues",
    })

with open("customers.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)

with open("events.tsv", "w", newline="") as fh:
    w = csv.writer(fh, delimiter="\t")
    w.writerow(["event_id", "user_email", "client_ip", "event", "ts"])
    for i in range(N):
        w.writerow([i, rows[i]["email"], IPS[i % 3], rng.choice(["login", "purchase", "logout"]),
                    "2024-03-%02d 12:%02d:00" % (i % 28 + 1, i % 60)])

with open("users.jsonl", "w") as fh:
    for i in range(N):
        r = rows[i]
        fh.write(json.dumps({
            "id": r["customer_id"],
            "profile": {"name": r["first_name"] + " " + r["last_name"], "email": r["email"],
                        "phones": [r["phone"]]},
            "address": {"street": "%d High Street" % (i + 1), "postcode": "SW1A %dAA" % (i % 9 + 1)},
            "label": rng.choice([0, 1]),
        }) + "\n")

# Clean data: the Iris measurements plus ids, dates and categories.
with open("iris_clean.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["sample_id", "sepal_length", "sepal_width", "petal_length", "petal_width", "species",
                "collected", "batch"])
    for i in range(150):
        w.writerow([i + 1, "%.1f" % rng.uniform(4.3, 7.9), "%.1f" % rng.uniform(2.0, 4.4),
                    "%.1f" % rng.uniform(1.0, 6.9), "%.1f" % rng.uniform(0.1, 2.5),
                    ["setosa", "versicolor", "virginica"][i // 50], "1935-%02d-%02d" % (i % 12 + 1, i % 28 + 1),
                    "B-%04d" % (i * 37 % 10000)])

with open("metrics_clean.jsonl", "w") as fh:
    for epoch in range(20):
        fh.write(json.dumps({"epoch": epoch, "loss": round(1.0 / (epoch + 1), 4), "lr": 3e-4,
                             "run": "resnet50-v1.5", "git_sha": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
                             "host": "trainer-3", "version": "2.1.0.1"}) + "\n")
