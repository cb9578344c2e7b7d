# Helpers for the speed comparisons (sourced by bench/compare_*.sh): their arguments and what they
# need, `infini train` on issue 15's network, and a busy process to run beside it.
#   source bench/train_speed.sh NAME DEFAULT_ROUNDS "$@"
# checks STEPS and ROUNDS (exit 2 when bad), the build and python3-torch, prepares the books corpus
# and sets $steps, $rounds, $python, $infini and $work (a scratch folder removed at exit).
name=$1
steps=${3:-8}
rounds=${4:-$2}
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "$name: STEPS must be a positive integer, got '$steps'" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "$name: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
python=/usr/bin/python3  # Debian's, with python3-torch (the same LibTorch)
infini=build/infini
[ -x "$infini" ] || { echo "$name: build first (scripts/setup.sh)" >&2; exit 2; }
"$python" -c "import torch" 2>/dev/null || { echo "$name: needs python3-torch (apt-get install python3-torch)" >&2; exit 2; }
scripts/prepare_corpus.sh books >/dev/null 2>&1
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

infini_train() {  # NAME [ENV=VALUE...] [-- SET...]: tokens/s of the steps after the first
  # (where the run restarted itself, also those after the restarted process's first in
  # $work/NAME.restarted)
  # issue 15's network: configs/books-small.yaml with untied embeddings, no memory carried across
  # steps; ENV=VALUE before `--` go to the process's environment, SET after it to --set.
  local name=$1
  shift
  local environment=() sets=()
  while (($#)) && [ "$1" != "--" ]; do environment+=("$1"); shift; done
  (($#)) && shift
  for s in "$@"; do sets+=(--set "$s"); done
  rm -rf "${work:?}/$name"  # a fresh run each time, not a resumed one
  env "${environment[@]}" $infini train --config configs/books-small.yaml --progress off \
    --set model.tie_word_embeddings=false --set train.carry_memory=false --set "train.steps=$((steps + 1))" \
    --set train.log_every=1 --set train.save_every=0 --set data.validation= --set "run.dir=$work/$name" \
    "${sets[@]}" >"$work/$name.out" 2>&1
  "$python" - "$work/$name/metrics.jsonl" "$work/$name.restarted" <<'PY'
import json, sys
train = [r for r in map(json.loads, open(sys.argv[1])) if r.get("phase") == "train"]
def rate(first, last):
    return (last['tokens_seen'] - first['tokens_seen']) / (last['wall_time'] - first['wall_time'])
# wall_time, not elapsed_seconds: a run that restarts itself (src/cli/train_command.cpp) counts
# its restart. Each process's elapsed_seconds starts at 0, so wall_time - elapsed_seconds is when
# the process writing a record started: where it moves, the run restarted.
print(f"{rate(train[0], train[-1]):.0f}")
started = [r['wall_time'] - r['elapsed_seconds'] for r in train]
starts = [i for i in range(1, len(train)) if started[i] - started[i - 1] > 0.5]
if starts and starts[-1] < len(train) - 1:
    open(sys.argv[2], "w").write(f"{rate(train[starts[-1]], train[-1]):.0f}\n")
PY
}

busy=
busy_start() {  # a 2-thread LibTorch matmul loop in the background, until busy_stop
  "$python" -c "
import torch
torch.set_num_threads(2)
a = torch.randn(512, 512)
while True: a = (a @ a).tanh()" &
  busy=$!
  sleep 2
}

busy_stop() {
  kill "$busy" 2>/dev/null || true
  wait "$busy" 2>/dev/null || true
  busy=
}
