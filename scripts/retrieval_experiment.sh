#!/usr/bin/env bash
# Passkey retrieval through the memory, from scratch on 2 CPU cores (README: "Retrieval through
# the memory"). Trains configs/retrieval-cpu.yaml (Infini-attention) and, as controls, the same
# model with `local` and `xl` attention for the same steps; evaluates the infini model at
# 1K..1M tokens in the memory-only layout (a whole segment between key and question), again with
# its memory reset at every segment, and the controls at the short lengths; writes the report
# and copies the small result files to results/retrieval/. Every step resumes or is skipped when
# its output exists (run.resume: auto), so an interrupted run continues where it stopped.
#
#   RETRIEVAL_STEPS=N        train N steps instead of the config's (a quicker look)
#   RETRIEVAL_LONG=256K,1M   the long lengths; RETRIEVAL_LONG= skips them
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
infini=build/infini
config=configs/retrieval-cpu.yaml
root=runs/retrieval
results=results/retrieval
mkdir -p "$root" "$results"
log() { echo "[$(date +%H:%M:%S)] $*"; }

# A tokenizer for the task's own text: intro, filler, key lines with random keys, question.
if [ ! -f "$root/tokenizer.model" ]; then
  awk 'BEGIN { srand(1)
    intro = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there."
    filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
    question = "What is the pass key? The pass key is"
    for (i = 0; i < 3000; i++) { key = int(10000 + rand() * 90000)
      print intro " " filler " The pass key is " key ". Remember it. " key " is the pass key. " filler " " question " " key } }' \
    > "$root/task.txt"
  $infini tokenizer train --input "$root/task.txt" --vocab-size 420 --out "$root/tokenizer.model"
fi

# Three stages per model, each from the one before (configs/retrieval-cpu.yaml says why):
# short samples until the answer leaves chance, the config's curriculum over distance, then long
# samples with keyless ones among them and the filler's memory writes diluted (each filler
# segment writes as up to 512 would: a 4K-token sample weighs like a prompt of up to 2M tokens),
# at a third of the rate. The dilution touches only the memory, so the local and xl controls
# train as they would without it. RETRIEVAL_STEPS scales the middle stage.
steps=()
[ -z "${RETRIEVAL_STEPS:-}" ] || steps=(--set "train.steps=$RETRIEVAL_STEPS")
first_stage=(--set data.passkey_max_segments=6 --set data.passkey_curriculum_samples=0
             --set train.schedule.kind=constant --set train.steps=300)
last_stage=(--set data.passkey_min_segments=42 --set data.passkey_curriculum_samples=0
            --set data.passkey_keyless_share=0.3 --set data.passkey_dilution=512 --set train.steps=600
            --set train.optimizer.lr=3e-3 --set train.optimizer.gate_lr=1e-2)
declare -A seconds
for kind in infini local xl; do
  began=$(date +%s)
  log "training $kind: short samples"
  $infini train --config "$config" "${first_stage[@]}" --set "model.infini_attention.kind=$kind" \
    --set "run.dir=$root/$kind-short" --progress off
  log "training $kind: the curriculum over distance"
  $infini train --config "$config" "${steps[@]}" --set "model.infini_attention.kind=$kind" \
    --set "init.from=$root/$kind-short/final" --set "run.dir=$root/$kind-curriculum" --progress off
  log "training $kind: long samples, some keyless"
  $infini train --config "$config" "${last_stage[@]}" --set "model.infini_attention.kind=$kind" \
    --set "init.from=$root/$kind-curriculum/final" --set "run.dir=$root/$kind" --progress off
  seconds[$kind]=$(($(date +%s) - began))
done

short=1K,4K,16K,64K
long=${RETRIEVAL_LONG-256K,1M}
main=$root/infini/final
digits=$(awk '$1 == "passkey_key_digits:" { print $2 }' "$config")
evaluate() {  # NAME ARGS...: one eval passkey run into $root/NAME.json unless it exists
  local name=$1; shift
  if [ ! -f "$root/$name.json" ]; then
    log "eval passkey $name"
    $infini eval passkey --progress off --key-digits "${digits:-5}" --out "$root/$name.json" "$@"
  fi
}
# 20 keys per length and depth, every cell the same ones: with seed 0 every digit is among them.
evaluate infini-short --checkpoint "$main" --lengths "$short" --keys 20
[ -z "$long" ] || evaluate infini-long --checkpoint "$main" --lengths "$long" --keys 20
evaluate infini-no-memory --checkpoint "$main" --lengths 1K,4K,16K --keys 20 --no-memory
evaluate local --checkpoint "$root/local/final" --lengths 1K,4K,16K --keys 20
evaluate xl --checkpoint "$root/xl/final" --lengths 1K,4K,16K --keys 20
$infini eval gates --checkpoint "$main" --out "$root/gates.json"

jsons=("$root"/infini-short.json "$root"/infini-no-memory.json "$root"/local.json "$root"/xl.json)
[ ! -f "$root/infini-long.json" ] || jsons+=("$root/infini-long.json")
$infini report "${jsons[@]}" "$root/gates.json" --out "$root/report"
python3 scripts/passkey_breakdown.py "${jsons[@]}" > "$root/breakdown.md"
cp "${jsons[@]}" "$root/gates.json" "$root/breakdown.md" "$results/"
rm -rf "$results/report" && cp -r "$root/report" "$results/report"
for kind in infini local xl; do
  for stage in short curriculum; do cp "$root/$kind-$stage/metrics.jsonl" "$results/metrics-$kind-$stage.jsonl"; done
  cp "$root/$kind/metrics.jsonl" "$results/metrics-$kind.jsonl"
  [ -z "${seconds[$kind]:-}" ] || log "$kind trained in ${seconds[$kind]} s (this invocation)"
done
log "done: $root/report/report.md"
