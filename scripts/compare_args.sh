# Sourced by scripts/compare_kinds.sh and scripts/compare_try.sh as
#   source scripts/compare_args.sh CORPUS [KEY=VALUE ...]
# Sets the array compare_args: the training arguments every model of the attention-kind
# comparison shares on CORPUS (books or math), then a --set for each KEY=VALUE override.
compare_args=(--config configs/compare-kinds.yaml --progress off
  --set "data.tokenizer=data/tokenizer/$1-8k.model" --set "data.train=data/shards/$1-8k/train"
  --set "data.validation=data/corpora/$1/validation")
for override in "${@:2}"; do compare_args+=(--set "$override"); done
