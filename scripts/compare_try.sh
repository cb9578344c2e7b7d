#!/usr/bin/env bash
# One variant of the Table-2 comparison (README "Attention kinds compared", the tries): trains an
# infini model from configs/compare-kinds.yaml with extra --set overrides, scores it on the test
# documents with the memory carried and reset (`eval ppl --memory-ablation`) and reads its gates;
# copies the result files to results/compare-CORPUS/tries/NAME-*. Resumes (run.resume: auto).
#
#   scripts/compare_try.sh CORPUS NAME RULE [KEY=VALUE ...]
#   e.g. scripts/compare_try.sh books infini-delta-gate-lr-0.1 delta train.optimizer.gate_lr=0.1 \
#          model.infini_attention.segment_length=128 train.steps=350 train.schedule.warmup_steps=25 \
#          train.eval_every=175 run.dtype=float32     (the README's try, on the first run's config)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: scripts/compare_try.sh CORPUS NAME delta|linear [KEY=VALUE ...]" >&2; exit 2; }
corpus=$1 name=$2 rule=$3
shift 3
scripts/setup.sh
scripts/prepare_corpus.sh "$corpus"  # exits 2 on a corpus it does not know
root=runs/compare-tries/$corpus/$name
results=results/compare-$corpus/tries
mkdir -p "$root" "$results"
began=$(date +%s)
if [ ! -d "$root/final" ]; then
  source scripts/compare_args.sh "$corpus" "$@"
  build/infini train "${compare_args[@]}" --set model.infini_attention.kind=infini \
    --set "model.infini_attention.memory_update=$rule" --set "run.dir=$root"
fi
trained=$(date +%s)
[ -f "$root/ppl.json" ] || {
  build/infini eval ppl --checkpoint "$root/final" --data "data/corpora/$corpus/test" --memory-ablation \
    --bucket-width 2048 --progress off --out "$root/ppl.json.partial"
  mv "$root/ppl.json.partial" "$root/ppl.json"
}
build/infini eval gates --checkpoint "$root/final" --out "$root/gates.json"
echo "$name: trained in $((trained - began)) s, evaluated in $(($(date +%s) - trained)) s" | tee "$root/timing.log"
for f in ppl.json gates.json metrics.jsonl timing.log; do cp "$root/$f" "$results/$name-$f"; done
