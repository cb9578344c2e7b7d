#!/usr/bin/env bash
# A stand-in corpus (books, the default, or math), its 8K tokenizer and its training shards, as
# the main job, the comparison runs and the benchmarks use them: fetched, trained and prepared
# once; every step is skipped when its output is already there.
#
#   scripts/prepare_corpus.sh [books|math]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-books}
case "$corpus" in
  books | math) ;;
  *) echo "prepare_corpus.sh: unknown corpus '$corpus' (books or math)" >&2; exit 2 ;;
esac
infini=build/infini
tokenizer=data/tokenizer/$corpus-8k.model
[ -d "data/corpora/$corpus/train" ] || scripts/fetch_corpora.sh data/corpora
if [ ! -f "$tokenizer" ]; then
  mkdir -p data/tokenizer
  $infini tokenizer train --input "data/corpora/$corpus/train" --vocab-size 8000 --out "$tokenizer"
fi
$infini data prepare --tokenizer "$tokenizer" --input "data/corpora/$corpus/train" --out "data/shards/$corpus-8k/train"
