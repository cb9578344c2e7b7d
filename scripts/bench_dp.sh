#!/usr/bin/env bash
# Data-parallel scaling on this machine: the tiny model trained by 1 process and by 2 processes
# (one thread each, Gloo over loopback), tokens/s of the whole job from metrics.jsonl.
# Usage: scripts/bench_dp.sh [STEPS]   (after scripts/setup.sh; uses build/test_assets' tokenizer
# or trains one on the licence texts)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-30}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat /usr/share/common-licenses/* > "$out/corpus.txt"
build/infini tokenizer train --input "$out/corpus.txt" --vocab-size 1000 --out "$out/tok.model" 2>/dev/null
mkdir -p "$out/docs"
for i in 1 2 3 4; do cp "$out/corpus.txt" "$out/docs/$i.txt"; done
common=(--config configs/tiny.yaml --progress off --set "data.tokenizer=$out/tok.model" --set "data.train=$out/docs"
        --set run.threads=1 --set train.log_every=5 --set "train.steps=$steps" --set train.batch_size=8)
build/infini train "${common[@]}" --set "run.dir=$out/one" 2>/dev/null
build/infini launch --nproc 2 -- build/infini train "${common[@]}" --set train.batch_size=4 --set "run.dir=$out/two" 2>/dev/null
python3 - "$out" <<'PY'
import json, sys
def rate(run):
    records = [json.loads(l) for l in open(f"{sys.argv[1]}/{run}/metrics.jsonl") if '"train"' in l]
    steady = records[1:]  # the first window includes start-up
    return sum(r["tokens_per_second"] for r in steady) / len(steady)
one, two = rate("one"), rate("two")
print(f"1 process:   {one:8.0f} tokens/s")
print(f"2 processes: {two:8.0f} tokens/s  (x{two / one:.2f})")
PY
