#!/usr/bin/env python3
"""Breaks `infini eval passkey` results down the ways a retrieval miss is diagnosed: exact match
and token accuracy by length and depth, by the number of whole segments between key and question,
and by the answer token's position (accuracy of the greedy answer, and the teacher-forced loss in
nats where the result has it: chance for a digit is ln 10 = 2.303), and how much of the attention
output came from memory where each answer token was predicted, per length, layer and head. Usage: scripts/passkey_breakdown.py RESULT.json... """
import json
import math
import sys
from collections import defaultdict


def table(title, rows):
    print(f"\n{title}")
    print("| group | trials | exact | token accuracy |")
    print("| --- | --- | --- | --- |")
    for group, trials in rows:
        exact = sum(t["correct_tokens"] == t["answer_tokens"] for t in trials)
        tokens = sum(t["answer_tokens"] for t in trials)
        correct = sum(t["correct_tokens"] for t in trials)
        print(f"| {group} | {len(trials)} | {100 * exact / len(trials):.0f}% | {100 * correct / tokens:.0f}% |")


for path in sys.argv[1:]:
    result = json.load(open(path))
    trials = result["trials"]
    print(f"\n## {path}: {result['checkpoint']}, layout {result.get('layout')}, memory {result.get('memory')}")
    by_cell = defaultdict(list)
    for t in trials:
        by_cell[(t["length"], t["depth"])].append(t)
    table("by length and depth", [(f"{length} @ {depth:g}", ts) for (length, depth), ts in sorted(by_cell.items())])
    by_distance = defaultdict(list)
    for t in trials:
        # Doubling buckets of whole segments between the key line and the question.
        bucket = 2 ** int(math.log2(max(1, t["segments_between"])))
        by_distance[bucket].append(t)
    table("by segments between key and question", [(f"{b}-{2 * b - 1}", ts) for b, ts in sorted(by_distance.items())])
    width = max(t["answer_tokens"] for t in trials)
    print("\nby answer token: " + ", ".join(
        f"{i}: {100 * sum(t['correct'][i] for t in trials if len(t['correct']) > i) / len(trials):.0f}%"
        for i in range(width)))
    forced = [t["answer_nll"] for t in trials if t.get("answer_nll")]
    if forced:
        print("teacher-forced loss by answer token (nats): " + ", ".join(
            f"{i}: {sum(n[i] for n in forced if len(n) > i) / sum(len(n) > i for n in forced):.3f}"
            for i in range(width)) + f"; mean {sum(map(sum, forced)) / sum(map(len, forced)):.3f}")
    shares = defaultdict(list)  # (answer token, layer, length) -> per-head share lists
    for t in trials:
        for m in t.get("memory_share", []):
            shares[(m["answer_token"], m["layer"], t["length"])].append(m["heads"])
    if shares:
        print("\nmemory's share of the attention output where answer token i is predicted (teacher-forced), mean over trials, per head")
        print("| answer token | layer | length | heads |")
        print("| --- | --- | --- | --- |")
        for (token, layer, length), rows in sorted(shares.items()):
            heads = [sum(r[h] for r in rows) / len(rows) for h in range(len(rows[0]))]
            print(f"| {token} | {layer} | {length} | " + " ".join(f"{v:.2f}" for v in heads) + " |")
