#!/usr/bin/env bash
# The compressive memory learning to carry a key, in isolation (README: "What the memory learns on
# a synthetic recall task"): build/recall_study trains tiny infini models (2 layers, hidden 32,
# 64 ids) from scratch on data/recall_task.h — a key in the first segment, the question at the
# end of the last, random filler between — and scores held-out samples from 2 to 2048 segments
# (64 to 65,536 tokens) with the memory carried and reset. Each variant writes
# runs/recall-study/<name>.md, is skipped when that file exists, and is copied to
# results/recall-study/; about 40 minutes on 2 cores.
#
#   RECALL_ONLY=name   run that variant alone (e.g. linear-2seg, about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=runs/recall-study
results=results/recall-study
mkdir -p "$out" "$results"

run() {
  local name=$1; shift
  [ -z "${RECALL_ONLY:-}" ] || [ "$RECALL_ONLY" = "$name" ] || return 0
  [ -f "$out/$name.md" ] && { echo "$name: done"; return; }
  echo "[$(date +%H:%M:%S)] $name"
  local began=$(date +%s)
  build/recall_study --segment 32 "$@" > "$out/$name.tmp"
  echo "wall time: $(( $(date +%s) - began )) s; arguments: --segment 32 $*" >> "$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name.md"
  cp "$out/$name.md" "$results/"
}

# One digit, trained on 2 segments (64 tokens) only: does the model write and read at all, and how
# far does what it learnt carry?
run linear-2seg --update linear --segments 2 --steps 400
run delta-2seg --update delta --segments 2 --steps 400
# One digit, from scratch on 8 segments (256 tokens): no curriculum.
run linear-8seg --update linear --segments 8 --steps 400
run delta-8seg --update delta --segments 8 --steps 400
# One digit, a curriculum doubling the sample from 2 to 32 segments every 150 steps.
run linear-curriculum --update linear --segments 2 --max-segments 32 --double-every 150 --steps 900
run delta-curriculum --update delta --segments 2 --max-segments 32 --double-every 150 --steps 900
# One digit on samples up to 4K tokens (the issue's longest training sequence), scored to 256K.
run linear-curriculum-4k --update linear --segments 8 --max-segments 128 --double-every 100 --steps 500 \
  --eval-segments 2,8,32,128,512,2048,8192
# Five digits (the passkey's length) on 2 segments (both rules train alike there: one write), with
# heads of 8 and of 16 dimensions (the memory per head is head_dim × head_dim).
run linear-5digits --update linear --key-tokens 5 --segments 2 --steps 1000
run linear-5digits-hidden64 --update linear --key-tokens 5 --segments 2 --steps 1000 --hidden 64
# Five digits, three times the steps.
run linear-5digits-3000 --update linear --key-tokens 5 --segments 2 --steps 3000
