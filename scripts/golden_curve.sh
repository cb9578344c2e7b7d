#!/bin/sh
# Rewrites tests/fixtures/golden/tiny_losses.json, the golden loss curve that tests/golden_test.cpp
# holds training to. Run it when a change to the numerics is intended, and review the diff.
set -eu
cd "$(dirname "$0")/.."
cmake --build build --target infini_tests infini -j"$(nproc)"
INFINI_WRITE_GOLDEN=1 build/infini_tests --gtest_filter=Golden.TinyLossCurve
git diff --stat tests/fixtures/golden/
