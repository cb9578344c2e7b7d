#!/usr/bin/env bash
# How `infini train` fares under each way libgomp's threads can wait, alone and beside one busy
# process (a 2-thread LibTorch matmul loop), measured back to back: issue 15's network in float32
# with segment checkpointing (the busy row of bench/compare_pytorch.sh), plus bfloat16 alone.
#   alone:  spinning 20,000 times (what `infini` chooses on an idle machine; set here, so that a
#           stray process cannot change it) | waiting passively
#   beside: the default, started with the loop already running (passive waits, every thread kept:
#           src/cli/main.cpp) | started as on an idle machine (spinning 20,000 times by its own
#           choice), as a run that the loop joins later: it restarts waiting passively after its
#           first step (src/cli/train_command.cpp; the restart counts in its time, and a second
#           figure gives its steps after the restarted process's first) | spinning
#           20,000 times set by the user, threads following the load (1 thread here,
#           src/core/cpu_share.h) | 2 threads spinning 1,000 times
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
  joined=$(infini_train joined GOMP_SPINCOUNT=20000 INFINI_CHOSE_SPINCOUNT=1 -- train.checkpoint_segments=true)
  grep -q "restarting from" "$work/joined.out" || echo "round $round: the run the loop joined did not restart" >&2
  after_restart=$(cat "$work/joined.restarted" 2>/dev/null || echo 0)
  following=$(infini_train following GOMP_SPINCOUNT=20000 -- train.checkpoint_segments=true)
  short_spin=$(infini_train short_spin GOMP_SPINCOUNT=1000 -- train.checkpoint_segments=true run.threads=2)
  busy_stop
  echo "$spinning $passive $bf16_spinning $bf16_passive $chosen $joined $after_restart $following $short_spin" >> "$results"
  echo "round $round: done" >&2
done

"$python" bench/speed_table.py "$results" "run (tokens/s; ratio to the spinning run alone)" \
  "alone, spinning (float32, checkpointed)=0" "alone, passive=1/0" "alone, bfloat16, spinning=2" \
  "alone, bfloat16, passive=3/2" "beside the loop: default (passive, 2 threads)=4/0" \
  "beside the loop: joined later, restarts passive=5/0" "  the same, steps after its restart=6/0" \
  "beside the loop: spinning, threads follow the load=7/0" "beside the loop: 2 threads spinning 1,000 times=8/0"
