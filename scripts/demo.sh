#!/usr/bin/env bash
# The main job: fetch the stand-in books corpus, train its tokenizer, prepare token shards, train
# the small books model (configs/books-small.yaml, about 20 minutes on 2 cores), evaluate it on
# the test books with memory carried and with memory reset at every segment, and print the result.
# Every step is skipped or resumed when its output is already there, so re-running is cheap.
#
#   INFINI_DEMO_STEPS=N   train N steps instead of the config's (a quicker look)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
infini=build/infini
config=configs/books-small.yaml
run=runs/books-small

scripts/prepare_corpus.sh books

steps=()
[ -z "${INFINI_DEMO_STEPS:-}" ] || steps=(--set "train.steps=$INFINI_DEMO_STEPS")
$infini train --config "$config" "${steps[@]}" --set run.resume=auto --progress off

checkpoint=$(ls -d "$run"/checkpoints/step-* | sort | tail -1)
# The first 16K tokens of each test book keep the evaluation to a few minutes; each is scored with
# the memory carried and again with it reset at every segment.
$infini eval ppl --checkpoint "$checkpoint" --data data/corpora/books/test --max-tokens-per-doc 16384 \
  --bucket-width 2048 --memory-ablation --progress off --out "$run/ppl.json"
$infini eval passkey --checkpoint "$checkpoint" --lengths 1K,4K,16K --keys 3 --progress off --out "$run/passkey.json"
$infini report "$run/ppl.json" "$run/passkey.json" "$run" --out "$run/report"  # "$run": its training curves

python3 - "$run" "$checkpoint" <<'PY'
import json, math, sys
run, checkpoint = sys.argv[1], sys.argv[2]
print(f"\ncheckpoint {checkpoint}")
for line in open(f"{run}/metrics.jsonl"):
    record = json.loads(line)
    if record["phase"] == "validation":
        last_validation = record
print(f"validation (step {last_validation['step']}): loss {last_validation['loss']:.3f}, ppl {last_validation['ppl']:.2f}")
for r in json.load(open(f"{run}/ppl.json")):
    t, f = r["total"], r["footprint"]
    name = "memory" if r["memory"] else "no memory"
    print(f"test books, {name:9s}: {t['documents']} documents, {t['tokens']} tokens, ppl {t['ppl']:.2f}, "
          f"bits/byte {t['bits_per_byte']:.3f}")
    late = [b for b in r["by_position"] if b["start"] >= 8192]
    if late:
        tokens = sum(b["tokens"] for b in late)
        print(f"{'':22s}positions 8192+: ppl {math.exp(sum(b['nll'] for b in late) / tokens):.2f}")
print(f"memory state {f['memory_state_bytes']/1024:.1f} KiB vs full-attention KV cache "
      f"{f['kv_cache_bytes_full_attention']/2**20:.1f} MiB ({f['compression_ratio']:.0f}x), "
      f"{f['parameters']/1e6:.2f}M parameters, peak RSS {f['peak_rss_bytes']/2**20:.0f} MiB")
print(f"report: {run}/report/report.md")
PY
