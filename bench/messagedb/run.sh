#!/usr/bin/env bash
# Side-by-side benchmark of our message_store against Message DB on this machine (see doc.go).
#
#   bench/messagedb/run.sh [extra go test flags]
#
# Fetches the npm package @eventide/message-db (MESSAGEDB_VERSION, default 1.3.1) into a temporary
# directory, then runs the benchmark RUNS times (default 3), each in a fresh throw-away PostgreSQL with a
# fresh fixture, BENCHTIME rounds per benchmark (default 40x), and prints every metric per run.
# The raw output goes to LOG (default: a file in the temporary directory, kept only when LOG is set).
set -euo pipefail

version=${MESSAGEDB_VERSION:-1.3.1}
runs=${RUNS:-3}
benchtime=${BENCHTIME:-40x}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=${LOG:-$tmp/bench.log}
: >"$log"

echo "» npm pack @eventide/message-db@$version"
(cd "$tmp" && npm pack --silent "@eventide/message-db@$version" >/dev/null)
tar -xzf "$tmp"/eventide-message-db-*.tgz -C "$tmp"
export MESSAGEDB_SQL_DIR="$tmp/package/database"
echo "  Message DB schema version $(cat "$MESSAGEDB_SQL_DIR/VERSION.txt"), SQL in $MESSAGEDB_SQL_DIR"

cd "$root"
for run in $(seq 1 "$runs"); do
	echo "» run $run of $runs ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "=== RUN $run" >>"$log"
	start=$(date +%s)
	set +e
	go test ./bench/messagedb -count 1 -run 'TestSameRows|TestInstallOrder' -bench . -benchtime "$benchtime" \
		-timeout 30m "$@" | tee -a "$log" | grep -E '^(messagedb bench|--- FAIL|FAIL|ok|panic)'
	status=${PIPESTATUS[0]}
	set -e
	if [ "$status" -ne 0 ]; then
		echo "run $run failed (go test exit $status); the end of its output:"
		tail -n 40 "$log"
		exit "$status"
	fi
	echo "  took $(($(date +%s) - start)) s"
done

# Every metric, one line per benchmark and metric, one column per run.
awk -v runs="$runs" '
	/^=== RUN / { run = $3; next }
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
		for (i = 5; i < NF; i += 2) {
			key = name " " $(i + 1)
			if (!(key in seen)) { seen[key] = 1; order[++n] = key }
			val[key, run] = $i
		}
	}
	END {
		printf "%-70s", "benchmark metric"
		for (r = 1; r <= runs; r++) printf " %12s", "run " r
		printf "\n"
		for (k = 1; k <= n; k++) {
			printf "%-70s", order[k]
			for (r = 1; r <= runs; r++) printf " %12s", ((order[k], r) in val) ? val[order[k], r] : "-"
			printf "\n"
		}
	}' "$log"
