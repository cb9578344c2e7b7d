#!/usr/bin/env bash
# The fetch script's own (slower, networked) test: builds the stand-in corpora into
# build/fetch_test, trains a tokenizer on the books' training split, prepares every split into
# shards, and checks that each split has documents and tokens. Run: cmake --build build --target test_fetch
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fetch_test
mkdir -p "$out"
scripts/fetch_corpora.sh "$out" >/dev/null
build/infini tokenizer train --input "$out/books/train" --vocab-size 8000 --out "$out/tokenizer.model"
scripts/fetch_corpora.sh "$out" "$out/tokenizer.model" | tee "$out/summary.txt"
status=0
for corpus in books math; do
  for split in train validation test; do
    line=$(awk -v c=$corpus -v s=$split '$1 == c && $2 == s' "$out/summary.txt")
    read -r _ _ docs bytes tokens <<< "$line"
    if [ "${docs:-0}" -lt 1 ] || [ "${tokens:--}" = - ] || [ "$tokens" -lt 1 ]; then
      echo "FAIL: $corpus/$split has $docs documents and $tokens tokens"
      status=1
    fi
  done
done
[ $status = 0 ] && echo "fetch test: 6 passed, 0 failed" || echo "fetch test: failed"
exit $status
