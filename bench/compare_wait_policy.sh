#!/usr/bin/env bash
# How `infini train` fares under each way libgomp's threads can wait, alone and beside one busy
# process (a 2-thread LibTorch matmul loop), measured back to back: issue 15's network in float32
# with segment checkpointing (the busy row of bench/compare_pytorch.sh), plus bfloat16 alone.
#   alone:  spinning 20,000 times (what `infini` chooses on an idle machine; set here, so that a
#           stray process cannot change it) | waiting passively
#   beside: the default, started with the loop already running (passive waits, every thread kept:
#           src/cli/main.cpp) | spinning with the threads following the load (a run started alone
#           that the loop joins later: 1 thread here, src/core/cpu_share.h) | 2 threads spinning
#           1,000 times
#   bench/compare_wait_policy.sh [STEPS [ROUNDS]]   (defaults 8 and 3)
# Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/train_speed.sh compare_wait_policy 3 "$@"

echo "measuring: $rounds round(s) of $steps steps each"
results=$work/results
for round in $(seq "$rounds"); do
  spinning=$(infini_train spinning GOMP_SPINCOUNT=20000 -- train.checkpoint_segments=true)
  passive=$(infini_train passive OMP_WAIT_POLICY=passive -- train.checkpoint_segments=true)
  bf16_spinning=$(infini_train bf16_spinning GOMP_SPINCOUNT=20000 -- train.checkpoint_segments=false run.dtype=bfloat16)
  bf16_passive=$(infini_train bf16_passive OMP_WAIT_POLICY=passive -- train.checkpoint_segments=false run.dtype=bfloat16)
  busy_start
  chosen=$(infini_train chosen -- train.checkpoint_segments=true)
  grep -q "threads wait passively" "$work/chosen.out" || echo "round $round: the default beside the loop did not choose passive waits" >&2
  following=$(infini_train following GOMP_SPINCOUNT=20000 -- train.checkpoint_segments=true)
  short_spin=$(infini_train short_spin GOMP_SPINCOUNT=1000 -- train.checkpoint_segments=true run.threads=2)
  busy_stop
  echo "$spinning $passive $bf16_spinning $bf16_passive $chosen $following $short_spin" >> "$results"
  echo "round $round: done" >&2
done

"$python" bench/speed_table.py "$results" "run (tokens/s; ratio to the spinning run alone)" \
  "alone, spinning (float32, checkpointed)=0" "alone, passive=1/0" "alone, bfloat16, spinning=2" \
  "alone, bfloat16, passive=3/2" "beside the loop: default (passive, 2 threads)=4/0" \
  "beside the loop: spinning, threads follow the load=5/0" "beside the loop: 2 threads spinning 1,000 times=6/0"
