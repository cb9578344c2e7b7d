#!/usr/bin/env python3
"""The attention-kind comparison (scripts/compare_kinds.sh) against the targets of its issue:
perplexity on the whole test documents and past position 8K per model, the memory ablation of the
infini models, their gates per layer (heads outside the 0.4-0.6 band), the training and
evaluation times from the run's timing log, every document's perplexity (and the total without
the longest document), and the gates of every head during training. Usage: scripts/compare_summary.py RUN_ROOT"""
import json
import math
import os
import re
import sys

root = sys.argv[1]
order = ["local", "xl", "infini-linear", "infini-delta"]


def late_ppl(result, start=8192):
    buckets = [b for b in result["by_position"] if b["start"] >= start]
    tokens = sum(b["tokens"] for b in buckets)
    return math.exp(sum(b["nll"] for b in buckets) / tokens) if tokens else float("nan")


rows = {}
for name in order:
    path = os.path.join(root, f"ppl-{name}.json")
    if os.path.exists(path):
        results = json.load(open(path))
        for result in results if isinstance(results, list) else [results]:  # one pass: the object itself
            rows[(name, result["memory"])] = result
seconds = {}
log = os.path.join(root, "timing.log")
if os.path.exists(log):
    for line in open(log):
        m = re.search(r"(trained|evaluated) (\S+) in (\d+) s", line)
        if m:
            seconds[(m.group(1), m.group(2))] = int(m.group(3))

print("| model | memory | test ppl | ppl past 8K | tokens | trained (s) | evaluated (s) |")
print("|---|---|---|---|---|---|---|")
for name in order:
    for memory in (True, False):
        r = rows.get((name, memory))
        if r is None:
            continue
        label = "carried" if memory else "reset every segment"
        if not name.startswith("infini"):
            label = "–" if name == "local" else "previous segment cached"
        times = (seconds.get(("trained", name), ""), seconds.get(("evaluated", name), "")) if memory else ("", "")
        print(f"| {name} | {label} | {r['total']['ppl']:.2f} | {late_ppl(r):.2f} | {r['total']['tokens']} | "
              f"{times[0]} | {times[1]} |")


def change(a, b):
    """a against b as a signed percentage: -6.4% is 6.4% lower perplexity."""
    return f"{100 * (a / b - 1):+.1f}%" if a and b else "n/a"


local = rows.get(("local", True))
xl = rows.get(("xl", True))
print()
for name in ("infini-delta", "infini-linear"):
    with_memory, reset = rows.get((name, True)), rows.get((name, False))
    if not with_memory:
        continue
    ppl, late = with_memory["total"]["ppl"], late_ppl(with_memory)
    parts = [f"- {name}: ppl {ppl:.2f}"]
    if local:
        parts.append(f"against local {change(ppl, local['total']['ppl'])} (past 8K {change(late, late_ppl(local))})")
    if xl:
        parts.append(f"against xl {change(ppl, xl['total']['ppl'])} (past 8K {change(late, late_ppl(xl))})")
    if reset:
        parts.append(f"memory reset every segment {change(reset['total']['ppl'], ppl)} "
                     f"(past 8K {change(late_ppl(reset), late)})")
    print("; ".join(parts))
    gates = os.path.join(root, f"gates-{name}.json")
    if os.path.exists(gates):
        for layer in json.load(open(gates))["gates"]:
            values = layer["values"]
            outside = [v for v in values if v < 0.4 or v > 0.6]
            print(f"  - layer {layer['layer']}: gates " + " ".join(f"{v:.2f}" for v in values)
                  + f" ({len(outside)} of {len(values)} outside 0.4-0.6)")


def document_ppl(result, skip=None):
    """Perplexity of a result over all its documents but the one named skip."""
    docs = [d for d in result["documents"] if d["name"] != skip]
    return math.exp(sum(d["nll"] for d in docs) / sum(d["tokens"] for d in docs))


columns = [key for key in ((n, m) for n in order for m in (True, False)) if key in rows]
if columns:
    # One long document can hold most of the test tokens (and nearly every position past 8K):
    # each document's own perplexity, and the total without the longest, show what it decides.
    heads = [name + ("" if memory else " reset") for name, memory in columns]
    print("\n| document | tokens | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(columns))
    first = rows[columns[0]]
    for i, doc in enumerate(first["documents"]):
        cells = [math.exp(rows[key]["documents"][i]["nll"] / rows[key]["documents"][i]["tokens"]) for key in columns]
        print(f"| {doc['name']} | {doc['tokens']} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    longest = max(first["documents"], key=lambda d: d["tokens"])
    print(f"| all but {longest['name']} | {first['total']['tokens'] - longest['tokens']} | "
          + " | ".join(f"{document_ppl(rows[key], longest['name']):.2f}" for key in columns) + " |")


def gate_trajectory(path, points=4):
    """The gates of every layer and head at evenly spaced logged steps of one training run."""
    logged = [r for r in map(json.loads, open(path)) if r.get("phase") == "train" and "gates" in r]
    if not logged:
        return
    picks = sorted({logged[min(len(logged) - 1, round(i * (len(logged) - 1) / points))]["step"]
                    for i in range(points + 1)})
    by_step = {r["step"]: r["gates"] for r in logged}
    for layer in sorted(logged[0]["gates"], key=lambda name: int(name.removeprefix("layer"))):
        steps = " → ".join(f"{step}: " + " ".join(f"{v:.2f}" for v in by_step[step][layer]["heads"])
                           for step in picks)
        print(f"  - {layer}: {steps}")


for name in ("infini-delta", "infini-linear"):
    metrics = os.path.join(root, name, "metrics.jsonl")
    if os.path.exists(metrics):
        print(f"\n{name}: gates per head during training (step: heads)")
        gate_trajectory(metrics)
