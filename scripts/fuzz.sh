#!/usr/bin/env bash
# Runs every fuzz target in the module for a while each: ./scripts/fuzz.sh [TIME]
# (TIME as go test's -fuzztime, default 30s). New targets are found by name,
# so nothing here needs editing when one is added.
set -euo pipefail
usage="usage: scripts/fuzz.sh [TIME]   TIME as go test's -fuzztime: a duration (30s, 2m) or a count (1000x); default 30s
Exit codes: 0 every target held, 1 a target failed (its input is saved under testdata/fuzz), 2 a usage error."
case "${1:-}" in
  -h|-help|--help) echo "$usage"; exit 0 ;;
esac
if [ $# -gt 1 ] || { [ $# -eq 1 ] && ! [[ $1 =~ ^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|x)$ ]]; }; then
  echo "fuzz.sh: bad arguments: $*" >&2
  echo "$usage" >&2
  exit 2
fi
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
