#!/usr/bin/env bash
# The main job until training lands: train a tokenizer on text every Debian machine ships, write
# a freshly initialised Infini-attention model (configs/demo.yaml), evaluate it on a long
# generated document with memory carried and with memory reset per segment, and print the
# perplexity and memory footprint. Outputs go to runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=runs/demo
mkdir -p "$out"

# Corpus: the licence texts in /usr/share/common-licenses (present on every Debian system).
cat /usr/share/common-licenses/* > "$out/licenses.txt"
# A long document: the licences twice over, so memory has something to carry.
for _ in 1 2; do cat "$out/licenses.txt"; done > "$out/long_document.txt"

build/infini tokenizer train --input "$out/licenses.txt" --vocab-size 2000 --out "$out/tokenizer.model"
build/infini init --config configs/demo.yaml --tokenizer "$out/tokenizer.model" --out "$out/model" --force
build/infini eval ppl --checkpoint "$out/model" --data "$out/long_document.txt" --out "$out/ppl_memory.json"
build/infini eval ppl --checkpoint "$out/model" --data "$out/long_document.txt" --no-memory --out "$out/ppl_no_memory.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
for name in ("ppl_memory", "ppl_no_memory"):
    r = json.load(open(f"{out}/{name}.json"))
    t, f = r["total"], r["footprint"]
    print(f"{name:14s} tokens {t['tokens']:7d}  ppl {t['ppl']:9.2f}  bits/byte {t['bits_per_byte']:.3f}")
print(f"memory state {f['memory_state_bytes']/1024:.1f} KiB vs full-attention KV cache "
      f"{f['kv_cache_bytes_full_attention']/2**20:.1f} MiB ({f['compression_ratio']:.0f}x), "
      f"{f['parameters']/1e6:.2f}M parameters, peak RSS {f['peak_rss_bytes']/2**20:.0f} MiB")
PY
