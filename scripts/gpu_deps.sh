#!/usr/bin/env bash
# Fills .gpu-carry/ (ignored) with what scripts/gpu_check.sh needs on the GPU machine, which has
# torch 2.x with CUDA, a compiler, CMake and ninja but no package registry: the Debian 12 packages
# of the other libraries (unpacked there, never installed), a 32K-piece tokenizer and a few MB of
# the books corpus for the paper-configuration benchmark. Run here, then name .gpu-carry in the
# device call's `carry`. Needs scripts/fetch_corpora.sh's books corpus and a built `infini`.
set -euo pipefail
cd "$(dirname "$0")/.."
carry=.gpu-carry
mkdir -p "$carry/debs" "$carry/books"

# The libraries and their runtime halves; LibTorch itself comes from the wheel there.
packages=(libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev
          nlohmann-json3-dev libsentencepiece-dev libsentencepiece0 libgtest-dev)
(cd "$carry/debs" && apt-get download "${packages[@]}" 2>&1 | grep -v "^Get:\|unsandboxed" || true)
ls "$carry/debs"/*.deb >/dev/null

# About 6 MB of books (more than the benchmark's steps read: 8 steps of 8 × 32K tokens) and the
# benchmark's tokenizer, trained on them: 32K pieces, as the Llama family uses.
books=data/corpora/books/train
[ -d "$books" ] || { echo "gpu_deps: $books is missing (scripts/fetch_corpora.sh books)" >&2; exit 2; }
total=0
for f in "$books"/*; do
  [ "$total" -lt 6000000 ] || break
  cp "$f" "$carry/books/"
  total=$((total + $(stat -c %s "$f")))
done
if [ ! -f "$carry/tokenizer-32k.model" ]; then
  build/infini tokenizer train --input "$carry/books" --vocab-size 32000 --out "$carry/tokenizer-32k.model"
fi
du -sh "$carry"
