#!/usr/bin/env bash
# A short libFuzzer run of the definitions parser (30 seconds; the long run
# is `bash test/fuzz/run.sh 600`, see README.md).  Fails on any crash, leak,
# sanitizer report or failed round trip.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(bash test/fuzz/run.sh "${FUZZ_SECONDS:-30}" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
    echo "$out" | grep -E '^(stat::number_of_executed_units|Done [0-9]+ runs)' | sed 's/^/  /'
    echo "PASS: fuzz definitions parser for ${FUZZ_SECONDS:-30} s"
else
    echo "$out" | tail -40
    echo "FAIL: fuzz definitions parser (exit $rc; the input is saved as test/fuzz/crash-*)"
fi
exit $rc
