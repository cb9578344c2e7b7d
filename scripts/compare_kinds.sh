#!/usr/bin/env bash
# The paper's Table 2 at CPU scale (README "Attention kinds compared"): trains four models that
# differ only in their attention — local (segment N), xl (segment N plus the previous one cached),
# infini with the delta and with the linear update — from configs/compare-kinds.yaml on one
# corpus, same size, steps, schedule, optimizer and seed; evaluates each on the whole test
# documents with `infini eval ppl` (the infini models also with the memory reset every segment)
# and their gates; writes one report and copies the small result files to results/compare-CORPUS/.
# Every step resumes or is skipped when its output exists (run.resume: auto).
#
#   scripts/compare_kinds.sh [books|math [NAME KEY=VALUE ...]]
# With NAME, every model also takes the KEY=VALUE overrides (an earlier run's config, a quicker
# look with train.steps=N) and the run lives in runs/compare/CORPUS/NAME and
# results/compare-CORPUS/NAME instead.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-books}
name=${2:-}
shift $(($# < 2 ? $# : 2))
case "$name" in
  */* | . | .. | infini-delta | infini-linear | local | xl | report | tries)
    echo "compare_kinds.sh: '$name' cannot name a run (a path or a name the run already uses)" >&2; exit 2 ;;
esac
scripts/setup.sh
scripts/prepare_corpus.sh "$corpus"  # exits 2 on a corpus it does not know
infini=build/infini
root=runs/compare/$corpus${name:+/$name}
results=results/compare-$corpus${name:+/$name}
mkdir -p "$root" "$results"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$root/timing.log"; }

source scripts/compare_args.sh "$corpus" "$@"
# kind: the --set arguments that make the model what it is
declare -A kinds=(
  [infini-delta]="model.infini_attention.kind=infini model.infini_attention.memory_update=delta"
  [infini-linear]="model.infini_attention.kind=infini model.infini_attention.memory_update=linear"
  [local]="model.infini_attention.kind=local"
  [xl]="model.infini_attention.kind=xl train.carry_memory=false")
order=(infini-delta infini-linear local xl)

for kind in "${order[@]}"; do
  sets=()
  for s in ${kinds[$kind]}; do sets+=(--set "$s"); done
  if [ ! -d "$root/$kind/final" ]; then
    log "train $kind"
    began=$(date +%s)
    $infini train "${compare_args[@]}" "${sets[@]}" --set "run.dir=$root/$kind"
    log "trained $kind in $(($(date +%s) - began)) s"
  fi
done

jsons=()
for kind in "${order[@]}"; do
  out=$root/ppl-$kind.json
  jsons+=("$out")
  [ ! -f "$out" ] || continue
  ablation=()
  [[ $kind != infini-* ]] || ablation=(--memory-ablation)
  log "eval ppl $kind"
  began=$(date +%s)
  $infini eval ppl --checkpoint "$root/$kind/final" --data "data/corpora/$corpus/test" "${ablation[@]}" \
    --bucket-width 2048 --progress off --out "$out.partial"
  mv "$out.partial" "$out"
  log "evaluated $kind in $(($(date +%s) - began)) s"
done
for kind in infini-delta infini-linear; do
  $infini eval gates --checkpoint "$root/$kind/final" --out "$root/gates-$kind.json"
  jsons+=("$root/gates-$kind.json")
done

$infini report "${jsons[@]}" "${order[@]/#/$root/}" --out "$root/report"
python3 scripts/compare_summary.py "$root" > "$root/summary.md"
cp "${jsons[@]}" "$root/timing.log" "$root/summary.md" "$results/"
for kind in "${order[@]}"; do cp "$root/$kind/metrics.jsonl" "$results/metrics-$kind.jsonl"; done
rm -rf "$results/report" && cp -r "$root/report" "$results/report"
cat "$root/summary.md"
log "done: $root/report/report.md"
