#!/usr/bin/env bash
# The paper's Table 2 at CPU scale (README "Attention kinds compared"): trains four models that
# differ only in their attention — local (segment N), xl (segment N plus the previous one cached),
# infini with the delta and with the linear update — from configs/compare-kinds.yaml on one
# corpus, same size, steps, schedule, optimizer and seed; evaluates each on the whole test
# documents with `infini eval ppl` (the infini models also with the memory reset every segment)
# and their gates; writes one report and copies the small result files to results/compare-CORPUS/.
# Every step resumes or is skipped when its output exists (run.resume: auto).
#
#   scripts/compare_kinds.sh [books|math]
#   COMPARE_STEPS=N      train N steps instead of the config's (a quicker look)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-books}
scripts/setup.sh
scripts/prepare_corpus.sh "$corpus"  # exits 2 on a corpus it does not know
infini=build/infini
root=runs/compare/$corpus
results=results/compare-$corpus
mkdir -p "$root" "$results"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$root/timing.log"; }

common=(--config configs/compare-kinds.yaml --progress off
  --set "data.tokenizer=data/tokenizer/$corpus-8k.model" --set "data.train=data/shards/$corpus-8k/train"
  --set "data.validation=data/corpora/$corpus/validation")
[ -z "${COMPARE_STEPS:-}" ] || common+=(--set "train.steps=$COMPARE_STEPS")
# name: the --set arguments that make the model what it is
declare -A kinds=(
  [infini-delta]="model.infini_attention.kind=infini model.infini_attention.memory_update=delta"
  [infini-linear]="model.infini_attention.kind=infini model.infini_attention.memory_update=linear"
  [local]="model.infini_attention.kind=local"
  [xl]="model.infini_attention.kind=xl train.carry_memory=false")
order=(infini-delta infini-linear local xl)

for name in "${order[@]}"; do
  sets=()
  for s in ${kinds[$name]}; do sets+=(--set "$s"); done
  if [ ! -d "$root/$name/final" ]; then
    log "train $name"
    began=$(date +%s)
    $infini train "${common[@]}" "${sets[@]}" --set "run.dir=$root/$name"
    log "trained $name in $(($(date +%s) - began)) s"
  fi
done

jsons=()
for name in "${order[@]}"; do
  out=$root/ppl-$name.json
  jsons+=("$out")
  [ ! -f "$out" ] || continue
  ablation=()
  [[ $name != infini-* ]] || ablation=(--memory-ablation)
  log "eval ppl $name"
  began=$(date +%s)
  $infini eval ppl --checkpoint "$root/$name/final" --data "data/corpora/$corpus/test" "${ablation[@]}" \
    --bucket-width 2048 --progress off --out "$out.partial"
  mv "$out.partial" "$out"
  log "evaluated $name in $(($(date +%s) - began)) s"
done
for name in infini-delta infini-linear; do
  $infini eval gates --checkpoint "$root/$name/final" --out "$root/gates-$name.json"
  jsons+=("$root/gates-$name.json")
done

$infini report "${jsons[@]}" "${order[@]/#/$root/}" --out "$root/report"
python3 scripts/compare_summary.py "$root" > "$root/summary.md"
cp "${jsons[@]}" "$root/timing.log" "$root/summary.md" "$results/"
for name in "${order[@]}"; do cp "$root/$name/metrics.jsonl" "$results/metrics-$name.jsonl"; done
rm -rf "$results/report" && cp -r "$root/report" "$results/report"
cat "$root/summary.md"
log "done: $root/report/report.md"
