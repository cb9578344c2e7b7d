#!/usr/bin/env bash
# Issue 15's speed ratios, measured back to back in one run on this machine: the network written
# in plain PyTorch (bench/pytorch_network.py, and the shared reference when it is there) against
# `infini train` on the same network (configs/books-small.yaml with untied embeddings, no memory
# carried across steps, float32), with segment checkpointing off and on, in bfloat16 autocast
# (checkpointing off), and `infini train` again beside one busy process (a 2-thread LibTorch
# matmul loop). Run it on an otherwise idle machine.
#
#   bench/compare_pytorch.sh [STEPS]     timed steps per run (default 8; one more warms up)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-8}
python=/usr/bin/python3  # Debian's, with python3-torch (the same LibTorch)
infini=build/infini
reference=../shared/bench/pytorch_baseline.py
[ -x "$infini" ] || { echo "compare_pytorch: build first (scripts/setup.sh)" >&2; exit 2; }
"$python" -c "import torch" 2>/dev/null || { echo "compare_pytorch: needs python3-torch (apt-get install python3-torch)" >&2; exit 2; }
scripts/prepare_corpus.sh books >/dev/null 2>&1
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Python gets the OpenBLAS kernel infini runs with, so the ratio compares the same kernels.
core=$($infini doctor 2>/dev/null | awk '/^OpenBLAS core/ {print $3}')
[ -z "$core" ] || export OPENBLAS_CORETYPE="$core"

pytorch() {  # SCRIPT: tokens/s of a plain-PyTorch run
  "$python" "$1" --threads 2 --steps "$steps" --vocab 8000 | sed -n 's/.*tokens\/s \([0-9.]*\).*/\1/p'
}

infini_train() {  # NAME SET...: tokens/s of the steps after the first
  local name=$1
  shift
  local sets=()
  for s in "$@"; do sets+=(--set "$s"); done
  $infini train --config configs/books-small.yaml --progress off --set model.tie_word_embeddings=false \
    --set train.carry_memory=false --set "train.steps=$((steps + 1))" --set train.log_every=1 \
    --set train.save_every=0 --set data.validation= --set "run.dir=$work/$name" "${sets[@]}" >/dev/null 2>&1
  "$python" - "$work/$name/metrics.jsonl" <<'PY'
import json, sys
train = [r for r in map(json.loads, open(sys.argv[1])) if r.get("phase") == "train"]
first, last = train[0], train[-1]
print(f"{(last['tokens_seen'] - first['tokens_seen']) / (last['elapsed_seconds'] - first['elapsed_seconds']):.0f}")
PY
}

echo "measuring: $steps steps each, OPENBLAS_CORETYPE=${core:-unset}"
own=$(pytorch bench/pytorch_network.py)
shared=""
[ -f "$reference" ] && shared=$(pytorch "$reference")
plain=$(infini_train plain train.checkpoint_segments=false)
checkpointed=$(infini_train checkpointed train.checkpoint_segments=true)
bf16=$(infini_train bf16 train.checkpoint_segments=false run.dtype=bfloat16)

"$python" -c "
import torch, time
torch.set_num_threads(2)
a = torch.randn(512, 512)
while True: a = (a @ a).tanh()" &
sleep 2
contended=$(infini_train contended train.checkpoint_segments=true)
kill %1 2>/dev/null || true

"$python" - "$own" "$shared" "$plain" "$checkpointed" "$bf16" "$contended" <<'PY'
import sys
own, shared, plain, checkpointed, bf16, contended = (float(x) if x else None for x in sys.argv[1:])
rows = [("PyTorch, bench/pytorch_network.py", own, None)]
if shared:
    rows.append(("PyTorch, ../shared/bench/pytorch_baseline.py", shared, None))
rows += [("infini train, checkpoint_segments: false", plain, own),
         ("infini train, checkpoint_segments: true", checkpointed, own),
         ("infini train, bfloat16, checkpointing off (vs float32)", bf16, plain),
         ("infini train, checkpointing, one busy process beside", contended, checkpointed)]
print(f"{'run':<56}{'tokens/s':>10}  ratio")
for name, value, base in rows:
    ratio = f"{value / base:.2f}x" if base else ""
    print(f"{name:<56}{value:>10.0f}  {ratio}")
if shared:
    print(f"own PyTorch network / shared reference: {own / shared:.2f} (should be within 0.90-1.10)")
if shared:
    print(f"infini train against the shared reference: {plain / shared:.2f}x (checkpointing off), "
          f"{checkpointed / shared:.2f}x (on)")
print("ratios: infini against our PyTorch network; bfloat16 against float32; the busy-process row against infini alone")
PY
