#!/usr/bin/env bash
# Issue 15's speed ratios, measured back to back in one run on this machine: the network written
# in plain PyTorch (bench/pytorch_network.py, and the shared reference when it is there) against
# `infini train` on the same network (configs/books-small.yaml with untied embeddings, no memory
# carried across steps, float32), with segment checkpointing off and on, in bfloat16 autocast
# (checkpointing off), and `infini train` again beside one busy process (a 2-thread LibTorch
# matmul loop started 2 s before it, which it sees at start: src/cli/main.cpp). Helpers in
# bench/train_speed.sh. Run it on an otherwise idle machine.
#
#   bench/compare_pytorch.sh [STEPS [ROUNDS]]
#     STEPS: timed steps per run (default 8; one more warms up); ROUNDS: how many times the whole
#     sequence runs (default 1). This VM's speed drifts by 10-20% over minutes, so the ratios are
#     taken within each round and their median across rounds is printed beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/train_speed.sh compare_pytorch 1 "$@"
reference=../shared/bench/pytorch_baseline.py

# Python gets the OpenBLAS kernel infini runs with, so the ratio compares the same kernels.
core=$($infini doctor 2>/dev/null | awk '/^OpenBLAS core/ {print $3}')
[ -z "$core" ] || export OPENBLAS_CORETYPE="$core"

pytorch() {  # SCRIPT: tokens/s of a plain-PyTorch run
  "$python" "$1" --threads 2 --steps "$steps" --vocab 8000 | sed -n 's/.*tokens\/s \([0-9.]*\).*/\1/p'
}

echo "measuring: $rounds round(s) of $steps steps each, OPENBLAS_CORETYPE=${core:-unset}"
results=$work/results
for round in $(seq "$rounds"); do
  own=$(pytorch bench/pytorch_network.py)
  shared=""
  [ -f "$reference" ] && shared=$(pytorch "$reference")
  plain=$(infini_train plain -- train.checkpoint_segments=false)
  checkpointed=$(infini_train checkpointed -- train.checkpoint_segments=true)
  bf16=$(infini_train bf16 -- train.checkpoint_segments=false run.dtype=bfloat16)
  busy_start
  contended=$(infini_train contended -- train.checkpoint_segments=true)
  busy_stop
  echo "$own ${shared:-nan} $plain $checkpointed $bf16 $contended" >> "$results"
  echo "round $round: done" >&2
done

"$python" - "$results" <<'PY'
import math, statistics, sys
rounds = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
columns = list(zip(*rounds))
own, shared, plain, checkpointed, bf16, contended = columns
has_shared = not any(math.isnan(x) for x in shared)

def cells(values, bases=None):
    out = []
    for i, v in enumerate(values):
        out.append(f"{v:,.0f}" + (f" ({v / bases[i]:.2f}x)" if bases else ""))
    return out

def median_ratio(values, bases):
    return statistics.median(v / b for v, b in zip(values, bases))

rows = [("PyTorch, bench/pytorch_network.py", cells(own), "")]
if has_shared:
    rows.append(("PyTorch, ../shared/bench/pytorch_baseline.py", cells(shared), ""))
rows += [("infini train, checkpoint_segments: false", cells(plain, own), f"{median_ratio(plain, own):.2f}x"),
         ("infini train, checkpoint_segments: true", cells(checkpointed, own), f"{median_ratio(checkpointed, own):.2f}x"),
         ("infini train, bfloat16, checkpointing off (vs float32)", cells(bf16, plain), f"{median_ratio(bf16, plain):.2f}x"),
         ("infini train, checkpointing, one busy process beside", cells(contended, checkpointed),
          f"{median_ratio(contended, checkpointed):.2f}x")]
width = max(len(c) for _, cs, _ in rows for c in cs) + 2
print(f"{'run':<56}" + "".join(f"{'round ' + str(i + 1):>{width}}" for i in range(len(rounds))) + f"{'median':>9}")
for name, cs, median in rows:
    print(f"{name:<56}" + "".join(f"{c:>{width}}" for c in cs) + f"{median:>9}")
if has_shared:
    pairs = ", ".join(f"{o / s:.2f}" for o, s in zip(own, shared))
    print(f"own PyTorch network / shared reference: {pairs} (should be within 0.90-1.10)")
    print(f"infini train against the shared reference (median): {median_ratio(plain, shared):.2f}x (checkpointing off), "
          f"{median_ratio(checkpointed, shared):.2f}x (on)")
print("ratios: infini against our PyTorch network; bfloat16 against float32; the busy-process row against infini alone;")
print("each round's ratios are measured back to back, the median is over rounds")
PY
