#!/usr/bin/env bash
# The stand-in books corpus, its 8K tokenizer and the training shards, as the main job and the
# benchmarks use them: fetched, trained and prepared once; every step is skipped when its output
# is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
infini=build/infini
tokenizer=data/tokenizer/books-8k.model
[ -d data/corpora/books/train ] || scripts/fetch_corpora.sh data/corpora
if [ ! -f "$tokenizer" ]; then
  mkdir -p data/tokenizer
  $infini tokenizer train --input data/corpora/books/train --vocab-size 8000 --out "$tokenizer"
fi
$infini data prepare --tokenizer "$tokenizer" --input data/corpora/books/train --out data/shards/books-8k/train
