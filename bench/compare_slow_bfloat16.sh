#!/usr/bin/env bash
# bfloat16 asked for on a CPU whose bfloat16 matmuls are slower than float32's, emulated here by
# capping oneDNN below AVX-512 BF16 (ONEDNN_MAX_CPU_ISA=AVX512_CORE: every bfloat16 block is then
# converted, as on a CPU without those units; OpenBLAS's float32 is untouched). Issue 15's
# network without checkpointing, back to back under the cap: float32, bfloat16 as asked (which
# computes in float32 where `infini` measures its matmuls slower: src/cli/compute_dtype.h) and
# bfloat16 kept with INFINI_KEEP_BFLOAT16=1; ratios to float32. The cap changes nothing on CPUs
# without AVX-512; the first line prints the matmul rates under it, so the reader knows which case
# was measured.
#   bench/compare_slow_bfloat16.sh [STEPS [ROUNDS]]   (defaults 8 and 3)
# Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/train_speed.sh compare_slow_bfloat16 3 "$@"

cap=ONEDNN_MAX_CPU_ISA=AVX512_CORE
echo "under $cap, $(env "$cap" "$infini" doctor | grep '^matmul' | sed 's/^matmul *//')"
echo "measuring: $rounds round(s) of $steps steps each"
results=$work/results
for round in $(seq "$rounds"); do
  float32=$(infini_train float32 "$cap" -- train.checkpoint_segments=false)
  asked=$(infini_train asked "$cap" -- train.checkpoint_segments=false run.dtype=bfloat16)
  grep -q "computing in float32 instead" "$work/asked.out" && fell_back=1 || fell_back=0
  kept=$(infini_train kept "$cap" INFINI_KEEP_BFLOAT16=1 -- train.checkpoint_segments=false run.dtype=bfloat16)
  echo "$float32 $asked $kept $fell_back" >> "$results"
done

echo "bfloat16 as asked computed in float32 in $(awk '{n += $4} END {print n}' "$results") of $rounds round(s)"
"$python" bench/speed_table.py "$results" "run (tokens/s; ratio to float32)" "float32=0" \
  "bfloat16 as asked=1/0" "bfloat16 kept (INFINI_KEEP_BFLOAT16=1)=2/0"
