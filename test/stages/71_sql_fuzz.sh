#!/usr/bin/env bash
# The targeted SQL fuzzer (test/fuzz/sql_fuzz.py) for 60 s (SQL_FUZZ_SECONDS;
# the long run is `bash test/fuzz/sql.sh 1800`, see README.md "Testing"):
# every modelflags function and plain DML/COPY with hostile arguments from 4
# concurrent sessions, with savepoints, timeouts, cancels, table locks and
# DROP/CREATE EXTENSION.  Fails on a backend crash or an internal error
# (XX000) from modelflags code in the server log, or if a function has no
# argument generator or was never called.
# The extension is already installed system-wide by test/run.sh's build stage.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash test/fuzz/sql.sh "${SQL_FUZZ_SECONDS:-60}"
