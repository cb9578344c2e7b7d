#!/usr/bin/env bash
# `infini eval ppl` against the code issue 15 was filed on, back to back on this machine: the
# books model (configs/books-small.yaml, a fresh `infini init` with the books corpus's 8,000-piece
# tokenizer: 5.2M parameters, segments of 256, memory carried) scores one 65,536-token book, in
# float32 and in bfloat16, by the binary built from REV and by build/infini, alternately; in
# float32 also REV with glibc told to keep freed memory (MALLOC_MMAP_THRESHOLD_ and
# MALLOC_TRIM_THRESHOLD_ at 1 GiB / 100 GiB), which shows how much of the gain is the caching CPU
# allocator: in a VM every page that returns to the kernel faults in again when reused. Prints each
# round's tokens/s (the command's own figure, warm-up excluded) and the ratios.
#   bench/compare_eval_speed.sh [ROUNDS [REV]]   (defaults 3 and 2815b25, the last commit before
#   issue 15's work; REV is checked out and built once, `infini` target only, under build/base-REV)
# Run it on an otherwise idle machine, after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
name=compare_eval_speed
rounds=${1:-3}
rev=${2:-2815b25}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "$name: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
git rev-parse --verify --quiet "$rev^{commit}" >/dev/null || { echo "$name: REV '$rev' is not a commit here" >&2; exit 2; }
[ -x build/infini ] || { echo "$name: build first (scripts/setup.sh)" >&2; exit 2; }
python=/usr/bin/python3

base=build/base-$rev
if [ ! -x "$base/build/infini" ]; then
  echo "building $rev's infini under $base (once; several minutes)"
  [ -d "$base" ] || git worktree add --detach "$base" "$rev" >/dev/null
  cmake -S "$base" -B "$base/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$base/build" --target infini -j"$(nproc)" >/dev/null
fi
scripts/prepare_corpus.sh books >/dev/null 2>&1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One book: the test split's texts end to end, scored to its first 65,536 predicted tokens.
mkdir "$work/book"
cat data/corpora/books/test/*.txt > "$work/book/book.txt"
score() {  # BINARY NAME DTYPE [ENV=VALUE...]: tokens/s
  local binary=$1 name=$2 dtype=$3
  shift 3
  local checkpoint=$work/$name-ckpt
  [ -d "$checkpoint" ] || "$binary" init --config configs/books-small.yaml --tokenizer data/tokenizer/books-8k.model \
    --out "$checkpoint" >/dev/null 2>&1
  env "$@" "$binary" eval ppl --checkpoint "$checkpoint" --data "$work/book" --max-tokens-per-doc 65536 \
    --dtype "$dtype" --progress off --out "$work/score.json" >/dev/null 2>&1
  "$python" -c "import json, sys; print(f\"{json.load(open(sys.argv[1]))['timing']['tokens_per_second']:.0f}\")" \
    "$work/score.json"
}
kept=(MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=107374182400)

echo "measuring: $rounds round(s), $rev against build/infini ($(git rev-parse --short HEAD))"
results=$work/results
for round in $(seq "$rounds"); do
  echo "$(score "$base/build/infini" base float32) $(score "$base/build/infini" base float32 "${kept[@]}")" \
    "$(score build/infini now float32) $(score "$base/build/infini" base bfloat16)" \
    "$(score build/infini now bfloat16)" >> "$results"
done
"$python" - "$results" "$rev" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
rev = sys.argv[2]
print(f"tokens/s | {rev + ' f32':>11} | {'(malloc kept)':>13} | {'now f32':>8} | {rev + ' bf16':>12} | {'now bf16':>8}")
for i, r in enumerate(rows, 1):
    print(f"round {i:>2} | {r[0]:>11,.0f} | {r[1]:>13,.0f} | {r[2]:>8,.0f} | {r[3]:>12,.0f} | {r[4]:>8,.0f}")
ratios = {
    "float32, now of then": [r[2] / r[0] for r in rows],
    "float32, now of then with malloc kept": [r[2] / r[1] for r in rows],
    "bfloat16, now of then": [r[4] / r[3] for r in rows],
    "bfloat16 now, of float32 then": [r[4] / r[0] for r in rows],
}
for what, values in ratios.items():
    print(f"{what}: {' / '.join(f'{v:.2f}x' for v in values)} (median {statistics.median(values):.2f}x)")
PY
