#!/usr/bin/env bash
# Unit tests of the definitions parser and writer (src/def_*.c, the files
# the Makefile lists in DEF_SRCS, built into a plain C program with
# test/unit_definitions.c) under AddressSanitizer, UndefinedBehaviorSanitizer
# and LeakSanitizer.  Prints one PASS/FAIL line per test.
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p test/build
if ! srcs=$(make -s print-def-srcs) || ! libs=$(make -s print-def-libs) || [ -z "$srcs" ]; then
    echo "FAIL: definitions unit tests: make print-def-srcs gives no file list"
    exit 1
fi
# shellcheck disable=SC2086  # the lists are words
if ! gcc -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
        -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Werror -Isrc \
        -o test/build/unit_definitions \
        test/unit_definitions.c $srcs $libs; then
    echo "FAIL: definitions unit tests do not build"
    exit 1
fi
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 test/build/unit_definitions
rc=$?
# 1 = some test printed FAIL; anything else is a sanitizer report or a crash.
if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
    echo "FAIL: definitions unit tests stopped by a sanitizer or a crash (exit $rc)"
fi

# The parser links into the extension: a helper it shares between its files
# (declared in definitions_int.h, hidden) must never become a global symbol,
# where a name such as palloc0 would be bound to the server's function or
# the other way round.  Only def_* (definitions.h) and strmap.h's mf_strmap_*
# and mf_idxmap_* may be exported.
# shellcheck disable=SC2086
if gcc -shared -fPIC -O1 -Isrc -o test/build/libdefinitions.so $srcs $libs; then
    extra=$(nm -D --defined-only test/build/libdefinitions.so | awk '{print $3}' |
            grep -Ev '^(def_|mf_strmap_|mf_idxmap_)|^(_init|_fini)$' || true)
    if [ -z "$extra" ]; then
        echo "PASS: definitions parser exports only def_*, mf_strmap_* and mf_idxmap_* symbols"
    else
        echo "FAIL: definitions parser exports internal symbols:" $extra
        rc=1
    fi
else
    echo "FAIL: definitions parser does not build as a shared object"
    rc=1
fi
exit $rc
