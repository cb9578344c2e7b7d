#!/usr/bin/env bash
# Everything issue 18 asks of the GPU machine, in one run: build infini against the LibTorch inside
# that machine's torch 2.x wheel, run the CUDA tests (and the interop tests against transformers),
# benchmark the paper's configuration, eval ppl at 32K and 1M tokens and one 1M-token passkey
# trial, read our TensorBoard files and HF export with the libraries themselves, then as much of
# the CPU test suite as the time left allows. Numbers go to $OUT/gpu_check.json, logs beside it.
#
# Prepare here first (scripts/gpu_deps.sh fills .gpu-carry/), then through the device tool:
#   run(command="scripts/gpu_check.sh", carry=[".gpu-carry"], timeout_s=560)
# A failed stage is recorded and the next one still runs, except after a failed build.
# GPU_CHECK_SKIP="paper interop" leaves those stages out (a rerun of what failed).
# GPU_CHECK_BUDGET (default 480 s) is when the script should end: the CPU suite gets what is left.
# GPU_CHECK_DRY=1 runs the same stages on a CPU machine against Debian's LibTorch (the CUDA parts
# are skipped or refused), to check the script before GPU time is spent on it.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/check.log") 2>&1
started=$(date +%s)
carry=$root/.gpu-carry
deps=/tmp/infini-deps
build=$root/build-gpu
work=/tmp/infini-gpu-work
dry=${GPU_CHECK_DRY:-0}
jobs=$(nproc)
rm -rf "$work" && mkdir -p "$work"
results=$OUT/gpu_check.json
echo '{}' >"$results"

wanted() { [[ " ${GPU_CHECK_SKIP:-} " != *" $1 "* ]]; }
elapsed() { echo $(($(date +%s) - started)); }
stage() { echo; echo "=== [$(elapsed) s] $*"; }
# record KEY JSON: sets results[KEY] (dotted keys nest).
record() {
  python3 - "$results" "$1" "$2" <<'EOF'
import json, sys
path, key, value = sys.argv[1:4]
data = json.load(open(path))
node = data
*parents, last = key.split(".")
for p in parents:
    node = node.setdefault(p, {})
try:
    node[last] = json.loads(value)
except json.JSONDecodeError:
    node[last] = value
json.dump(data, open(path, "w"), indent=1, sort_keys=True)
EOF
}

stage "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cxx11abi', torch._C._GLIBCXX_USE_CXX11_ABI, 'gpu', torch.cuda.is_available())"
g++ --version | head -1; cmake --version | head -1; grep PRETTY /etc/os-release; ldd --version | head -1
command -v nvcc ninja dpkg-deb ar
torch_dir=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')
torch_prefix=$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
echo "torch: $torch_dir"; ls "$torch_dir/include" | tr '\n' ' '; echo
record machine.gpu "\"$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)\""
record machine.torch "\"$(python3 -c 'import torch; print(torch.__version__)')\""
record machine.compiler "\"$(g++ --version | head -1)\""

stage "unpack the carried Debian packages into $deps"
rm -rf "$deps" && mkdir -p "$deps"
for deb in "$carry"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$deps"
  else
    member=$(ar t "$deb" | grep '^data.tar')
    ar p "$deb" "$member" | tar -x --auto-compress -C "$deps" 2>/dev/null || ar p "$deb" "$member" | tar -xJ -C "$deps"
  fi
done
libdir=$deps/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ls "$libdir" | tr '\n' ' '; echo

stage "configure"
# nccl.h from the nvidia-nccl wheel (or else the CUDA toolkit).
# The wheels' first: their NCCL is the one LibTorch was built with.
search_roots=("$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null)"
              "$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")" /usr/local/cuda)
first_match() { find "${search_roots[@]}" -name "$1" 2>/dev/null | grep -v stubs | head -1; }
nccl_header=$(first_match nccl.h)
echo "nccl.h: $nccl_header"
generator=("Unix Makefiles")
command -v ninja >/dev/null && generator=(Ninja)
common=(-S "$root" -B "$build" -G "${generator[0]}" -DCMAKE_BUILD_TYPE=Release)
[ -n "$nccl_header" ] && common+=(-DINFINI_NCCL_INCLUDE_DIR="$(dirname "$nccl_header")")
if [ "$dry" = 1 ]; then  # configure a scratch folder with Debian's LibTorch, build in build/
  torch_prefix=""; common[2]=/tmp/infini-gpu-dry-configure
fi
cuda_root=$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")
if ! cmake "${common[@]}" -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DCUDAToolkit_ROOT="$cuda_root" \
     >"$OUT/configure.log" 2>&1; then
  tail -40 "$OUT/configure.log"
  record build.ok false
  exit 1
fi
grep "infini:" "$OUT/configure.log"

[ "$dry" = 1 ] && { grep -E "^(SENTENCEPIECE|yaml-cpp|spdlog|GTest|CLI11|fmt)[A-Za-z_]*:" "${common[2]}/CMakeCache.txt"; build=$root/build; }

stage "build ($jobs jobs)"
keep_going=(-k)
[ -f "$build/build.ninja" ] && keep_going=(-k 0)
build_start=$(date +%s)
if ! cmake --build "$build" -j"$jobs" -- "${keep_going[@]}" >"$OUT/build.log" 2>&1; then
  grep -E "error|Error|undefined reference" "$OUT/build.log" | head -60
  record build.ok false
  record build.seconds $(($(date +%s) - build_start))
  exit 1
fi
record build.ok true
record build.seconds $(($(date +%s) - build_start))
infini=$build/infini
tests=$build/infini_tests

stage "transformers' reference for the HF import test"
hf=$work/hf-llama
mkdir -p "$hf"
python3 scripts/gpu_interop.py reference "$hf" "$carry/tokenizer-32k.model" | tee "$work/reference.json"
export INFINI_HF_REFERENCE=$hf

stage "CUDA tests and the HF interop test"
filter='*Cuda*:HfInterop*:HfImportKeys*'
timeout 240 "$tests" --gtest_filter="$filter" --gtest_output=json:"$OUT/cuda_tests.json" \
  2>&1 | grep -E "^\[ *(OK|FAILED|SKIPPED|PASSED|RUN) *\]|Failure|Expected|Which is|difference|error" | head -80
status=${PIPESTATUS[0]}
record cuda_tests_exit "$status"
if [ "$status" -ge 128 ] && [ "$status" != 137 ] && command -v cuda-gdb >/dev/null; then
  echo "the test binary died of signal $((status - 128)): its backtrace"
  timeout 120 cuda-gdb -batch -ex run -ex bt --args "$tests" --gtest_filter="$filter" 2>&1 | grep -E "^#|signal|SIG" | head -40
fi
python3 - "$OUT/cuda_tests.json" >"$work/cuda_summary.json" <<'EOF'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except Exception as e:
    print(json.dumps({"error": str(e)})); sys.exit()
cases = [c for s in report["testsuites"] for c in s["testsuite"]]
out = {"tests": len(cases), "failed": [c["name"] for c in cases if c.get("failures")],
       "skipped": [c["name"] for c in cases if c.get("result") == "SKIPPED"],
       "seconds": {c["name"]: c["time"] for c in cases}}
print(json.dumps(out))
EOF
record cuda_tests "$(cat "$work/cuda_summary.json")"

if wanted paper; then
stage "paper configuration, bf16, segment checkpointing on and off"
paper_run() {  # name batch checkpointing
  local run=$work/paper-$1
  timeout 150 "$infini" train --config configs/paper-pg19-gpu.yaml --progress off \
    --set data.tokenizer="$carry/tokenizer-32k.model" --set data.train="$carry/books" --set data.validation= \
    --set run.dir="$run" --set train.steps=8 --set train.grad_accumulation=1 --set train.batch_size="$2" \
    --set train.checkpoint_segments="$3" --set train.log_every=1 --set train.save_every=8 --set train.eval_every=0 \
    --set train.schedule.warmup_steps=2 >"$OUT/paper-$1.log" 2>&1
  local status=$?
  tail -4 "$OUT/paper-$1.log"
  python3 - "$run" "$status" "$OUT/paper-$1.log" <<'EOF'
import json, re, sys
run, status, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
records = []
try:
    records = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"train"' in l]
except OSError:
    pass
peak = re.search(r"matmul peak ([0-9.]+)", open(log).read())
later = records[2:] or records  # the first steps include CUDA's warm-up
out = {"status": status, "steps": len(records)}
if later:
    tps = sum(r["tokens_per_second"] for r in later) / len(later)
    mfu = sum(r["mfu"] for r in later) / len(later)
    out.update(tokens_per_second=round(tps), mfu_vs_measured_peak=mfu,
               peak_gpu_gib=max(r["peak_device_bytes"] for r in records) / 2**30, loss=[r["loss"] for r in records])
    if peak:
        measured = float(peak.group(1)) * 1e9
        out.update(measured_bf16_matmul_tflops=measured / 1e12, mfu_vs_790_tflops=mfu * measured / 790e12)
print(json.dumps(out))
EOF
}
record paper.checkpointing "$(paper_run ckpt 8 true | tail -1)"
record paper.plain "$(paper_run plain 2 false | tail -1)"
record paper.checkpointing_batch2 "$(paper_run ckpt2 2 true | tail -1)"
fi

stage "eval ppl at 32K and 1M tokens, one 1M-token passkey trial"
# The paper configuration's weights as `infini init` makes them: speed does not depend on them.
model=$work/paper-init
"$infini" init --config configs/paper-pg19-gpu.yaml --tokenizer "$carry/tokenizer-32k.model" --out "$model" \
  >"$OUT/init.log" 2>&1 || tail -5 "$OUT/init.log"
mkdir -p "$work/doc32k" "$work/doc1m"
cat "$carry"/books/* | head -c 140000 >"$work/doc32k/book.txt"
cat "$carry"/books/* | head -c 4400000 >"$work/doc1m/book.txt"
for size in 32k 1m; do
  timeout 120 "$infini" eval ppl --checkpoint "$model" \
    --data "$work/doc$size" --device cuda --dtype bfloat16 --progress off --out "$work/ppl-$size.json" \
    >"$OUT/ppl-$size.log" 2>&1 || tail -5 "$OUT/ppl-$size.log"
  record "eval_ppl.$size" "$(python3 - "$work/ppl-$size.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(json.dumps({"error": str(e)})); sys.exit()
out = {"tokens": r["total"]["tokens"], "ppl": r["total"]["ppl"]}
out.update(r.get("timing", {}))
footprint = r.get("footprint", {})
out.update({k: v for k, v in footprint.items() if k.startswith("peak")})
print(json.dumps(out))
EOF
)"
done
start_passkey=$(date +%s)
timeout 120 "$infini" eval passkey --checkpoint "$model" --lengths 1M --depths middle --keys 1 --device cuda \
  --dtype bfloat16 --progress off --out "$work/passkey.json" >"$OUT/passkey.log" 2>&1 || tail -5 "$OUT/passkey.log"
record passkey_1m.seconds $(($(date +%s) - start_passkey))
record passkey_1m.ok "$([ -s "$work/passkey.json" ] && echo true || echo false)"

if wanted interop; then
  stage "transformers loads our --to-hf export; TensorBoard reads our event files"
  record interop.export "$(python3 scripts/gpu_interop.py export "$infini" "$hf" "$work/hf-export" | tail -1)"
  record interop.tensorboard "$(python3 scripts/gpu_interop.py tensorboard "$work/paper-ckpt" | tail -1)"
fi

stage "the CPU test suite, in the time left"
left=$((${GPU_CHECK_BUDGET:-480} - $(elapsed)))
if [ "$left" -gt 30 ]; then
  timeout "$left" ctest --test-dir "$build" -j"$jobs" --timeout "$left" -E 'Cuda|HfInterop' >"$OUT/ctest.log" 2>&1
  grep -E "tests passed|tests failed|\*\*\*Failed|Timeout|Not Run" "$OUT/ctest.log" | head -30
  record ctest "\"$(grep -E 'tests passed' "$OUT/ctest.log" | tail -1)\""
else
  record ctest "\"skipped: $left s left\""
fi

stage "done"
record seconds "$(elapsed)"
cat "$results"
