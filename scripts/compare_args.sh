# Sourced by scripts/compare_kinds.sh and scripts/compare_try.sh: the training arguments every
# model of the attention-kind comparison shares on corpus $1 (books or math), in the array
# compare_args. Later --set arguments override them.
compare_args=(--config configs/compare-kinds.yaml --progress off
  --set "data.tokenizer=data/tokenizer/$1-8k.model" --set "data.train=data/shards/$1-8k/train"
  --set "data.validation=data/corpora/$1/validation")
