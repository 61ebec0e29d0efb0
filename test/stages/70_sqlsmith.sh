#!/usr/bin/env bash
# sqlsmith against a populated modelflags database for 60 s (SQLSMITH_SECONDS;
# the long run is `bash test/fuzz/sqlsmith.sh 1800`, see README.md "Testing").
# Fails on a backend crash or an internal error (XX000) from modelflags code
# in the server log, or if no generated query reached a modelflags function.
# The extension is already installed system-wide by test/run.sh's build stage.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash test/fuzz/sqlsmith.sh "${SQLSMITH_SECONDS:-60}"
