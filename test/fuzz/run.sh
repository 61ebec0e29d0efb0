#!/usr/bin/env bash
# Fuzzes the definitions parser with libFuzzer for SECONDS (default 60):
#   bash test/fuzz/run.sh 600
# Builds test/build/fuzz_definitions with clang -fsanitize=fuzzer,address,
# undefined; starts from the seed corpus test/fuzz/corpus/ and keeps what it
# finds in test/fuzz/corpus-run/ (both gitignored but the seeds).  A crash,
# leak or failed round trip leaves test/fuzz/crash-* (or leak-*, timeout-*)
# and exits non-zero.  JOBS=N runs N workers in parallel.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
jobs=${JOBS:-1}
mkdir -p test/build test/fuzz/corpus-run
# The parser's files: the Makefile's DEF_SRCS, the list the extension uses.
srcs=$(make -s print-def-srcs)
libs=$(make -s print-def-libs)
[ -n "$srcs" ] || { echo "make print-def-srcs gives no file list" >&2; exit 1; }
# shellcheck disable=SC2086  # the lists are words
clang -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -Isrc \
      -o test/build/fuzz_definitions \
      test/fuzz/fuzz_definitions.c $srcs $libs
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=200000
      -dict=test/fuzz/definitions.dict -artifact_prefix=test/fuzz/ -print_final_stats=1)
if [ "$jobs" -gt 1 ]; then
    args+=(-jobs="$jobs" -workers="$jobs")
fi
exec test/build/fuzz_definitions "${args[@]}" test/fuzz/corpus-run test/fuzz/corpus
