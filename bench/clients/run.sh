#!/usr/bin/env bash
# Real Message DB clients' own tests against a database migrated by our goose migrations (see doc.go).
#
#   bench/clients/run.sh
#
# Needs root (unshare --net, and PostgreSQL run as the postgres user), npm, Go, psql, uuidgen
# (uuid-runtime) and PostgreSQL server binaries (PG_BIN, default: the newest /usr/lib/postgresql/*/bin).
# Fetches the clients into a temporary directory (kept when KEEP=1), prints each suite's own summary and
# ends with one line per suite. Exit status 0 only when every suite passed.
#   MDC_VERSION        message-db-connector (npm), default 0.0.10
#   MESSAGEDB_VERSION  @eventide/message-db (npm), default 1.3.1
#   SCHEMA=messagedb   control run: the same tests against Message DB's own schema, installed by its own
#                      install.sh instead of our migrations (default SCHEMA=ours)
set -euo pipefail

if [ "${1:-}" = "--inside" ]; then
	# ---- inside the private network namespace: everything below reaches localhost only ----
	tmp=$2
	ip link set lo up
	pgdata=$tmp/pgdata
	mkdir -p "$pgdata" "$tmp/socket"
	chown postgres "$pgdata" "$tmp/socket"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -A trust -U postgres -E UTF8 --no-instructions >"$tmp/initdb.log"
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$tmp/socket/postgres.log" -w \
		-o "-p 5432 -k $tmp/socket -c listen_addresses=localhost -c fsync=off" start >/dev/null
	stop_pg() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null || true; }
	trap stop_pg EXIT
	export PGHOST=localhost PGPORT=5432 PGUSER=postgres
	psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE message_store"

	if [ "$SCHEMA" = messagedb ]; then
		# The control run: the same tests against Message DB's own schema, made by its own installer.
		echo "» control run: Message DB $MESSAGEDB_VERSION's own install.sh (not our migrations)"
		(cd "$tmp/messagedb/package/database" && DATABASE_NAME=message_store CREATE_DATABASE=off bash install.sh) >"$tmp/install.log" 2>&1 ||
			{ tail -n 20 "$tmp/install.log"; exit 1; }
	else
		echo "» our migrations (go test ./bench/clients -run TestMigrate)"
		CLIENTS_MIGRATE_URL="postgres://postgres@localhost:5432/message_store?sslmode=disable" \
			"$tmp/clients.test" -test.run '^TestMigrate$' -test.v -test.count 1 | grep -E 'message_store|^(ok|FAIL|---)'
	fi
	declare -a summary=()
	status=0

	# 1. message-db-connector's own jest suites, as its package.json runs them: the in-memory
	#    ("functional") project and the "message-db" project, which connects to
	#    postgresql://message_store@localhost:5432/message_store (hard-coded in its tests).
	echo "» message-db-connector@$MDC_VERSION: jest --selectProjects functional message-db"
	set +e
	(cd "$tmp/mdc/package" && npx jest --ci --selectProjects functional message-db) >"$tmp/jest.log" 2>&1
	rc=$?
	set -e
	grep -E '^(PASS|FAIL)|✓|✕|●.*›|^Tests:|^Test Suites:' "$tmp/jest.log" || true
	summary+=("message-db-connector@$MDC_VERSION jest: $(grep -E '^Tests:' "$tmp/jest.log" | tail -1) (exit $rc)")
	[ "$rc" -eq 0 ] || status=1

	# 2. Its interactive subscription test, run as its readme says (node lib/<build>/interactive-tests/
	#    <file>.js); it asserts nothing itself but logs what its two subscriptions handle, which is checked
	#    here: the command category's subscription gets DoAThing and writes AThingHappened, which the
	#    entity category's subscription gets. It stops its subscriptions after 1 s.
	echo "» message-db-connector@$MDC_VERSION: interactive-tests/subscription-simple"
	set +e
	(cd "$tmp/mdc/package" && timeout 60 node lib/commonjs/interactive-tests/subscription-simple.interactive.js) >"$tmp/subscription.log" 2>&1
	rc=$?
	set -e
	grep -E 'Handling|should be' "$tmp/subscription.log" | sed 's/^/  /' || true
	if [ "$rc" -eq 0 ] && grep -q 'Handling DoAThing command' "$tmp/subscription.log" &&
		grep -q 'Handling AThingHappened event' "$tmp/subscription.log" &&
		grep -Eq '([0-9a-f-]{36}) should be \1' "$tmp/subscription.log"; then
		summary+=("message-db-connector@$MDC_VERSION subscription-simple: passed")
	else
		tail -n 20 "$tmp/subscription.log"
		summary+=("message-db-connector@$MDC_VERSION subscription-simple: FAILED (exit $rc)")
		status=1
	fi

	# 3. Message DB's own tool scripts from its npm package (database/*.sh), run as its README says,
	#    with DATABASE_NAME=message_store and the role message_store where the script uses it.
	echo "» @eventide/message-db@$MESSAGEDB_VERSION tool scripts"
	db=$tmp/messagedb/package/database
	stream="scriptTest-$(uuidgen | tr '[:upper:]' '[:lower:]')"
	passed=0 failed=0
	run_script() {
		local name=$1
		shift
		set +e
		env DATABASE_NAME=message_store "$@" bash "$db/$name" >"$tmp/$name.log" 2>&1
		local rc=$?
		set -e
		if [ "$rc" -eq 0 ]; then
			passed=$((passed + 1))
			echo "  ok   $name"
		else
			failed=$((failed + 1))
			echo "  FAIL $name (exit $rc):"
			tail -n 5 "$tmp/$name.log" | sed 's/^/         /'
		fi
	}
	check() { # name, command: a check of what a script left behind
		local name=$1
		shift
		if out=$("$@" 2>&1); then
			passed=$((passed + 1))
			echo "  ok   $name"
		else
			failed=$((failed + 1))
			echo "  FAIL $name: $out"
		fi
	}
	q() { psql -X -At -v ON_ERROR_STOP=1 -U message_store -d message_store -c "$1"; }
	run_script print-message-store-version.sh
	check "version is 1.3.0" grep -q '1\.3\.0' "$tmp/print-message-store-version.sh.log"
	run_script write-test-message.sh STREAM_NAME="$stream" INSTANCES=3
	check "3 messages at positions 0..2" test "$(q "SELECT string_agg(position::text, ',' ORDER BY position) FROM messages WHERE stream_name = '$stream'")" = "0,1,2"
	run_script write-test-message.sh STREAM_NAME="$stream" TYPE=OtherType METADATA="'{\"correlationStreamName\": \"someCorrelation-1\"}'"
	check "get_category_messages by correlation" test "$(q "SELECT count(*) FROM get_category_messages('scriptTest', 1, 1000, 'someCorrelation')")" = "1"
	run_script print-messages.sh STREAM_NAME="$stream"
	run_script print-messages.sh
	check "print-messages shows the 4 messages" test "$(grep -c '^stream_name *| *'"$stream" "$tmp/print-messages.sh.log")" = "4"
	for report in stream-summary type-summary stream-type-summary type-stream-summary category-type-summary type-category-summary; do
		run_script "print-$report.sh"
	done
	check "category-type summary counts the category" grep -Eq 'scriptTest +\| SomeType +\| +3' "$tmp/print-category-type-summary.sh.log"
	bstream="benchmarkTest-$(uuidgen)"
	run_script benchmark.sh STREAM_NAME="$bstream" CYCLES=200
	check "benchmark wrote its 200 messages, positions 0..199" test "$(q "SELECT count(*), min(position), max(position) FROM messages WHERE stream_name = '$bstream'")" = "200|0|199"
	run_script clear-messages.sh
	check "cleared: the stream is empty again" test "$(q "SELECT count(*) FROM messages")" = "0"
	check "after clearing, a write gets position 0" test "$(q "SELECT write_message('$(uuidgen)', '$stream', 'SomeType', '{}')")" = "0"
	check "and global position 1 (the sequence restarted)" test "$(q "SELECT global_position FROM get_stream_messages('$stream')")" = "1"
	echo "  $passed passed, $failed failed"
	summary+=("@eventide/message-db@$MESSAGEDB_VERSION tool scripts: $passed passed, $failed failed")
	[ "$failed" -eq 0 ] || status=1

	echo
	printf '%s\n' "${summary[@]}"
	exit "$status"
fi

# ---- outside: fetch, build, then run the above in a new network namespace ----
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh needs root: it makes a network namespace and runs PostgreSQL as the postgres user" >&2
	exit 2
fi
export SCHEMA=${SCHEMA:-ours}
case "$SCHEMA" in ours | messagedb) ;; *)
	echo "SCHEMA must be ours (the default) or messagedb" >&2
	exit 2
	;;
esac
export MDC_VERSION=${MDC_VERSION:-0.0.10}
export MESSAGEDB_VERSION=${MESSAGEDB_VERSION:-1.3.1}
export PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"
if [ "${KEEP:-}" = 1 ]; then echo "temporary directory: $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

echo "» npm pack message-db-connector@$MDC_VERSION, @eventide/message-db@$MESSAGEDB_VERSION"
mkdir -p "$tmp/mdc" "$tmp/messagedb"
(cd "$tmp" && npm pack --silent "message-db-connector@$MDC_VERSION" "@eventide/message-db@$MESSAGEDB_VERSION" >/dev/null)
tar -xzf "$tmp"/message-db-connector-*.tgz -C "$tmp/mdc"
tar -xzf "$tmp"/eventide-message-db-*.tgz -C "$tmp/messagedb"
echo "» npm install (message-db-connector's dependencies and dev dependencies: jest 27, ts-jest)"
(cd "$tmp/mdc/package" && npm install --silent --no-audit --no-fund --ignore-scripts >/dev/null)
# The package ships no lock file, and the newest versions its ranges allow no longer fit its tests:
# @types/pg >= 8.10 types rowCount as number | null, which its reader does not compile against (TS18047),
# and pg >= 8.12 needs TextEncoder, which jest 27's jsdom environment lacks. Pin the two to the lower
# bounds of its own ranges (pg ^8.7.3, @types/pg ^8.6.5); its files stay as published.
(cd "$tmp/mdc/package" && npm install --silent --no-audit --no-fund --ignore-scripts --no-save pg@8.7.3 @types/pg@8.6.5 >/dev/null)
echo "» go test -c ./bench/clients"
(cd "$root" && go test -c -o "$tmp/clients.test" ./bench/clients)

unshare --net -- bash "${BASH_SOURCE[0]}" --inside "$tmp"
