#!/usr/bin/env bash
# The whole modelflags test suite, as README.md and .ci/run run it:
#   bash test/run.sh
# Installs what it needs (Debian 12, as root), builds and installs the
# extension, then runs every stage below and ends with "N passed, N failed".
# Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
log=$(mktemp -d /tmp/modelflags-test.XXXXXX)
chmod 755 "$log"
passed=0
failed=0
failures=()

# count FILE: reads "PASS: name" / "FAIL: name" lines a stage printed.
count() {
    local p f
    p=$(grep -c '^PASS: ' "$1" || true)
    f=$(grep -c '^FAIL: ' "$1" || true)
    passed=$((passed + p))
    failed=$((failed + f))
    while IFS= read -r line; do failures+=("$line"); done < <(grep '^FAIL: ' "$1" || true)
}

# stage NAME COMMAND...: runs one stage, echoing its output; a stage that
# exits non-zero without printing a FAIL line still counts as one failure.
stage() {
    local name=$1; shift
    echo "=== $name"
    "$@" 2>&1 | tee "$log/$name.log"
    local rc=${PIPESTATUS[0]}
    count "$log/$name.log"
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL: ' "$log/$name.log"; then
        failed=$((failed + 1))
        failures+=("FAIL: stage $name exited $rc")
    fi
}

stage deps bash test/install-deps.sh
stage build bash -c 'make -s clean >/dev/null 2>&1; make -s PG_CFLAGS_EXTRA=-Werror && make -s install >/dev/null && echo "PASS: build and install"'
for s in test/stages/*.sh; do
    stage "$(basename "$s" .sh)" bash "$s"
done

echo
echo "logs: $log"
for f in "${failures[@]}"; do echo "$f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
