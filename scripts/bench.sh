#!/usr/bin/env bash
# Runs the Go benchmarks of the hot paths (issue 6): hub fan-out, roomEvents
# encoding, the store's send transaction and history pages, on SQLite and
# PostgreSQL (skipped when PostgreSQL does not answer, like its tests).
#
#   scripts/bench.sh [out.txt]       # default bench-<commit>.txt
#
# Environment: BENCH (regexp, default .), COUNT (default 6), BENCHTIME
# (default 1s), SHORT=1 to pass -short (skips the PostgreSQL prefill of a
# million messages).
#
# Compare two runs (for instance before and after a change, on the same
# machine) with benchstat:
#
#   scripts/bench.sh old.txt        # on the code before the change
#   scripts/bench.sh new.txt        # on the code after it
#   go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da old.txt new.txt
#
# The run takes several minutes: each count rebuilds the fixtures, and
# history benchmarks prefill rooms of 100,000 and 1,000,000 messages.
set -euo pipefail
cd "$(dirname "$0")/.."

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
out=${1:-bench-$commit.txt}
packages=(
  ./internal/realtime
  ./internal/transport/graphql
  ./internal/store/sqlite
  ./internal/store/postgres
)
flags=(-run '^$' -bench "${BENCH:-.}" -benchmem -count "${COUNT:-6}" -benchtime "${BENCHTIME:-1s}" -timeout 60m)
if [ "${SHORT:-}" = 1 ]; then
  flags+=(-short)
fi

# Machine facts go into the file as comment lines, which benchstat ignores;
# go test adds goos, goarch and cpu itself.
{
  echo "# commit $commit$([ -z "$(git status --porcelain 2>/dev/null)" ] || echo ' (with uncommitted changes)')"
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(go version)"
  echo "# nproc $(nproc), $(free -h | awk '/^Mem:/ {print $2}') memory, load $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
go test "${flags[@]}" "${packages[@]}" | tee -a "$out"
echo "wrote $out"
