#!/bin/sh
# The project's tests: everything under the race detector, then each fuzz target for a few
# seconds on top of its committed corpus (FUZZTIME, default 3s; FUZZTIME=0 skips fuzzing).
set -eu
cd "$(dirname "$0")"
go test -race -timeout 15m ./...

fuzztime=${FUZZTIME:-3s}
[ "$fuzztime" = 0 ] && exit 0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in $(grep -l '^func Fuzz' -r --include='*_test.go' . | xargs -n1 dirname | sort -u); do
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$dir"/*_test.go); do
		echo "fuzz $dir $target ($fuzztime)"
		go test "$dir" -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -parallel 2 >"$log" 2>&1 || {
			cat "$log"
			exit 1
		}
	done
done
