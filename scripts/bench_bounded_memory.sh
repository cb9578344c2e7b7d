#!/usr/bin/env bash
# Bounded memory, demonstrated: `infini eval ppl` over a generated 1,048,576-token document and a
# 32,768-token one (separate processes, memory carried across every segment), read from prepared
# shards and from the text itself. Infini-attention's state does not grow with the document, and
# the document is read as it is scored, so the peak memory and the time per token of the two
# should agree within 10% (linear time, constant memory); from text, peaks within 5%. Prints
# them and the verdicts.
# Usage: scripts/bench_bounded_memory.sh   (after scripts/setup.sh)
#   CONFIG=configs/books-small.yaml  the model (a fresh `infini init` of it; default configs/tiny.yaml)
#   SEGMENT=512  THREADS=2  DEVICE=cpu|cuda  DTYPE=float32|bfloat16
set -euo pipefail
cd "$(dirname "$0")/.."
config=${CONFIG:-configs/tiny.yaml}
segment=${SEGMENT:-512}
threads=${THREADS:-2}
device=${DEVICE:-cpu}
dtype=${DTYPE:-float32}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# English-like text from a fixed word list: a short document of a little more than 32,768 tokens
# and a long one of more than 1,048,576 (each scored to exactly those counts).
python3 - "$out" <<'PY'
import random, sys
words = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have "
         "an had they you were their one all we can her has there been if more when will would who so no time "
         "river garden letter morning evening window captain mother father brother sister village forest "
         "mountain winter summer journey silence question answer beautiful remember quickly slowly").split()
rng = random.Random(7)
def text(n):
    out = []
    for _ in range(n):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(6, 16)))
        out.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(out)
open(f"{sys.argv[1]}/sample.txt", "w").write(text(5000))
open(f"{sys.argv[1]}/short.txt", "w").write(text(3500))
open(f"{sys.argv[1]}/long.txt", "w").write(text(110000))
PY
build/infini tokenizer train --input "$out/sample.txt" --vocab-size 400 --out "$out/tok.model" 2>/dev/null
build/infini init --config "$config" --tokenizer "$out/tok.model" --out "$out/ckpt" \
  --set "model.infini_attention.segment_length=$segment" 2>/dev/null

# Scored from prepared shards, as a corpus that size would be, and from the text.
for doc in short long; do
  mkdir -p "$out/$doc"
  mv "$out/$doc.txt" "$out/$doc/"
  build/infini data prepare --tokenizer "$out/tok.model" --input "$out/$doc" --out "$out/$doc-shards" 2>/dev/null
done
score() {  # NAME DATA TOKENS: the first TOKENS predicted tokens of the document
  build/infini eval ppl --checkpoint "$out/ckpt" --data "$out/$2" --max-tokens-per-doc "$3" \
    --threads "$threads" --device "$device" --dtype "$dtype" --progress off --out "$out/$1.json" 2>/dev/null
}
# Alternately, the short document three times and the long one twice: medians of time per token
# (this VM's speed drifts by several percent from minute to minute), the highest peak.
score short1 short-shards 32768; score long1 long-shards 1048576; score short2 short-shards 32768
score long2 long-shards 1048576; score short3 short-shards 32768
score short-text short 32768; score long-text long 1048576

python3 - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
shorts = [json.load(open(f"{d}/short{i}.json")) for i in (1, 2, 3)]
longs = [json.load(open(f"{d}/long{i}.json")) for i in (1, 2)]
long = max(longs, key=lambda r: r["footprint"]["peak_rss_bytes"])
def row(name, r, per_token_s):  # the short and long rows from shards, then from text
    f = r["footprint"]
    print(f"{name:>6} document: {r['total']['tokens']:>9} tokens  peak RSS {f['peak_rss_bytes'] / 2**20:8.1f} MiB  "
          f"peak device {f['peak_device_bytes'] / 2**20:8.1f} MiB  {per_token_s * 1e6:8.2f} µs/token  "
          f"memory state {f['memory_state_bytes'] / 1024:.1f} KiB vs full-attention KV {f['kv_cache_bytes_full_attention'] / 2**20:.1f} MiB")
short_time = statistics.median(r["timing"]["seconds"] / r["total"]["tokens"] for r in shorts)
short_rss = max(r["footprint"]["peak_rss_bytes"] for r in shorts)
short_dev = max(r["footprint"]["peak_device_bytes"] for r in shorts)
long_time = statistics.median(r["timing"]["seconds"] / r["total"]["tokens"] for r in longs)
row("short", shorts[0], short_time)
row("long", long, long_time)
def verdict(what, a, b):
    ratio = b / a if a else 1.0
    print(f"{what}: long / short = {ratio:.3f}  {'within' if abs(ratio - 1) <= 0.10 else 'NOT within'} 10%")
verdict("peak RSS", short_rss, long["footprint"]["peak_rss_bytes"])
if short_dev:
    verdict("peak device memory", short_dev, long["footprint"]["peak_device_bytes"])
verdict("time per token", short_time, long_time)
short_text, long_text = (json.load(open(f"{d}/{n}-text.json")) for n in ("short", "long"))
row("short", short_text, short_text["timing"]["seconds"] / short_text["total"]["tokens"])
row("long", long_text, long_text["timing"]["seconds"] / long_text["total"]["tokens"])
ratio = long_text["footprint"]["peak_rss_bytes"] / short_text["footprint"]["peak_rss_bytes"]
print(f"from text, peak RSS: long / short = {ratio:.3f}  {'within' if abs(ratio - 1) <= 0.05 else 'NOT within'} 5%")
PY
