#!/usr/bin/env bash
# Runs every fuzz target in the module for a while each: ./scripts/fuzz.sh [TIME]
# (TIME as go test's -fuzztime, default 30s). New targets are found by name,
# so nothing here needs editing when one is added.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
failed=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      failed=1
    fi
  done
done
exit $failed
